"""Where raw records come from: a JSON-lines file, standard input, or a ``simulate:`` source.

Read by the runners (``linewatch run``, ``demo``, the reference builder) and by the Kafka
producer (``linewatch produce``) alike.

>>> spec = SourceSpec.parse("events.jsonl")
>>> spec.kind, spec.target
('file', 'events.jsonl')
>>> SourceSpec.parse("simulate:production?events=10").kind
'simulate'
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Literal

from streams.errors import ConfigError
from streams.ingest.limits import IngestLimits
from streams.ingest.raw import RawRecord, read_lines

__all__ = [
    "OpenedSource",
    "SourceSpec",
    "count_lines",
    "count_records",
    "open_source",
    "read_records",
]


@dataclass(frozen=True)
class SourceSpec:
    """A parsed ``--source`` value."""

    kind: Literal["file", "stdin", "simulate"]
    target: str

    @classmethod
    def parse(cls, text: str) -> SourceSpec:
        """``-`` is stdin, ``simulate:...`` the simulator, anything else a file path."""
        if text == "-":
            return cls("stdin", "-")
        if text.startswith("simulate:"):
            return cls("simulate", text)
        return cls("file", text)


@dataclass
class OpenedSource:
    """Raw events to iterate, their count when known up front, and the labels the source had."""

    events: Iterator[RawRecord]
    total: int | None
    labels: list[RawRecord] = field(default_factory=list)


MAX_LINE_BYTES = IngestLimits().max_event_bytes
"""Default bound of one line held in memory: the longest valid event under default limits."""


def _records(stream: IO[bytes], origin: str, max_line_bytes: int) -> Iterator[RawRecord]:
    """Non-blank lines as raw records; a line over ``max_line_bytes`` comes cut (a dead letter)."""
    for number, payload, cut in read_lines(stream, max_line_bytes):
        if cut is not None or payload.strip():
            yield RawRecord(payload, f"{origin}:{number}", datetime.now(UTC), cut)


def _file_records(path: Path, origin: str, max_line_bytes: int) -> Iterator[RawRecord]:
    with path.open("rb") as fh:
        yield from _records(fh, origin, max_line_bytes)


def count_records(path: Path) -> int:
    """How many records a JSON-lines file holds: its non-blank lines."""
    with path.open("rb") as fh:
        return sum(1 for _, payload, cut in read_lines(fh, 1 << 16) if cut or payload.strip())


def count_lines(path: Path) -> int | None:
    """How many lines a file has, blank ones included (None if it cannot be read).

    The progress total of ``linewatch detect``, which reports line numbers.
    """
    try:
        with path.open("rb") as fh:
            return sum(chunk.count(b"\n") for chunk in iter(lambda: fh.read(1 << 20), b""))
    except OSError:
        return None


def read_records(path: str, max_line_bytes: int = MAX_LINE_BYTES) -> list[RawRecord]:
    """All non-empty lines of a file as raw records (for labels files)."""
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"no such file: {path}")
    return list(_file_records(p, f"file:{p.name}", max_line_bytes))


def _simulated(text: str, labels: list[RawRecord]) -> tuple[Iterator[RawRecord], int]:
    from streams.simulate import generate, parse_simulate_source

    request = parse_simulate_source(text)

    def records() -> Iterator[RawRecord]:
        for number, sim in enumerate(generate(request), start=1):
            now = datetime.now(UTC)
            yield RawRecord(json.dumps(sim.event).encode(), f"{text}#{number}", now)
            labels.append(RawRecord(json.dumps(sim.label).encode(), f"{text}#label{number}", now))

    return records(), request.events


def open_source(text: str, max_line_bytes: int = MAX_LINE_BYTES) -> OpenedSource:
    """Open ``--source``; a ``simulate:`` source also fills ``labels`` as events are read.

    No more than ``max_line_bytes`` of one line is held: a longer line comes as a cut
    :class:`~streams.ingest.RawRecord` (its first bytes, its length and sha256).
    """
    spec = SourceSpec.parse(text)
    if spec.kind == "stdin":
        return OpenedSource(_records(sys.stdin.buffer, "stdin", max_line_bytes), None)
    if spec.kind == "simulate":
        labels: list[RawRecord] = []
        events, total = _simulated(spec.target, labels)
        return OpenedSource(events, total, labels)
    path = Path(spec.target)
    if not path.is_file():
        raise ConfigError(
            f"no such source file: {spec.target} (give a JSON-lines file, '-' for stdin, "
            "or simulate:production?events=N)"
        )
    return OpenedSource(
        _file_records(path, f"file:{path.name}", max_line_bytes), count_records(path)
    )
