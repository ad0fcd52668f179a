"""A raw input record, before anything is parsed: bytes plus where they came from.

:func:`read_lines` reads JSON lines from a binary stream without ever holding more than a bound
of one line: a longer line is hashed and counted as it streams past, and only its first bytes
are kept (:class:`LineCut` says so).

>>> import io
>>> [(n, p, c) for n, p, c in read_lines(io.BytesIO(b'{"a": 1}\\r\\n\\n' + b"x" * 20 + b"\\n"), 8)]
[(1, b'{"a": 1}', None), (2, b'', None), (3, b'xxxxxxxx', LineCut(length=20, sha256='d4fc...'))]
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import IO

__all__ = ["LineCut", "RawRecord", "read_lines"]


@dataclass(frozen=True, slots=True)
class LineCut:
    """An input longer than the reader's bound: its whole length and sha256 (hex)."""

    length: int
    sha256: str

    def __repr__(self) -> str:
        return f"LineCut(length={self.length}, sha256='{self.sha256[:4]}...')"


@dataclass(frozen=True, slots=True)
class RawRecord:
    """Bytes of one JSON event and their provenance.

    ``source`` names the place the bytes were read, e.g. ``file:events.jsonl:12`` (line 12) or
    ``kafka:camera-events:3:1042`` (partition 3, offset 1042); it is stored with dead letters.
    ``cut`` is set when the input was longer than the reader keeps: ``payload`` is then only
    its first bytes, and the record can only become a dead letter.
    """

    payload: bytes
    source: str
    received_at: datetime
    cut: LineCut | None = None


def read_lines(stream: IO[bytes], max_bytes: int) -> Iterator[tuple[int, bytes, LineCut | None]]:
    """``(line number, payload, cut)`` of every line (blank ones too), newline removed.

    A line longer than ``max_bytes`` yields its first ``max_bytes`` bytes and a :class:`LineCut`
    with the length and sha256 of the whole line; memory stays bounded by ``max_bytes``.
    """
    number = 0
    while True:
        line = stream.readline(max_bytes + 2)  # + 2: room for the line's own "\r\n"
        if not line:
            return
        number += 1
        payload = line.rstrip(b"\r\n")
        if len(payload) <= max_bytes:
            yield number, payload, None
        else:
            yield number, payload[:max_bytes], _rest_of_line(stream, line)


def _rest_of_line(stream: IO[bytes], head: bytes) -> LineCut:
    """Hash and count a long line to its end, keeping nothing (the newline is not counted)."""
    digest = hashlib.sha256()
    length = 0
    chunk = head
    held = b""  # the last bytes seen, held back: they may be the line's "\r"
    while True:
        data = held + chunk
        if data.endswith(b"\n"):
            body = data.rstrip(b"\r\n")
            digest.update(body)
            return LineCut(length + len(body), digest.hexdigest())
        if not chunk:  # end of stream without a newline: a trailing "\r" is not counted either
            body = data.rstrip(b"\r\n")
            digest.update(body)
            return LineCut(length + len(body), digest.hexdigest())
        digest.update(data[:-1])
        length += len(data) - 1
        held = data[-1:]
        chunk = stream.readline(1 << 20)
