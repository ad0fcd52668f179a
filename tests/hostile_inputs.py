"""Hostile camera events and labels for tests: image bombs, file URIs that must not be read,
broken clocks, oversize and malformed lines. Each builder returns bytes; nothing here is mocked.
"""

from __future__ import annotations

import base64
import io
import json
import os
import struct
import uuid
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PIL import Image

__all__ = [
    "HostileLine",
    "event",
    "hostile_events",
    "hostile_labels",
    "png_bomb",
    "png_bytes",
    "png_header_only",
]


def _chunk(kind: bytes, data: bytes) -> bytes:
    body = kind + data
    return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))


def png_header_only(width: int, height: int) -> bytes:
    """A PNG whose header says ``width x height`` 8-bit grey, with (almost) no pixel data."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", ihdr)
        + _chunk(b"IDAT", zlib.compress(b"\x00" * 64))
        + _chunk(b"IEND", b"")
    )


def png_bomb(side: int = 20000) -> bytes:
    """A real, complete 1-bit PNG of ``side x side`` pixels: tens of KB that decode to ~side² px."""
    row = b"\x00" + b"\x00" * ((side + 7) // 8)
    comp = zlib.compressobj(9)
    parts = [comp.compress(row) for _ in range(side)]
    parts.append(comp.flush())
    ihdr = struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", ihdr)
        + _chunk(b"IDAT", b"".join(parts))
        + _chunk(b"IEND", b"")
    )


def png_bytes(width: int, height: int, fmt: str = "PNG") -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (width, height), (90, 120, 150)).save(buf, fmt)
    return buf.getvalue()


def event(image: dict[str, Any], **fields: Any) -> bytes:
    """One camera event JSON line (fresh event_id, line-1, captured ten minutes ago)."""
    from datetime import UTC, datetime, timedelta

    captured = (datetime.now(UTC) - timedelta(minutes=10)).isoformat().replace("+00:00", "Z")
    body: dict[str, Any] = {
        "event_id": str(uuid.uuid4()),
        "camera_id": "cam-hostile",
        "line_id": "line-1",
        "captured_at": captured,
        "image": image,
    }
    body.update(fields)
    return json.dumps(body).encode()


def _inline(data: bytes, encoding: str = "png") -> dict[str, str]:
    return {"encoding": encoding, "data": base64.b64encode(data).decode()}


HUGE_INT = b"9" * 5000
"""A JSON integer past Python's int-string limit (4300 digits): ``int()`` of it raises."""


def with_value(line: bytes, marker: str, value: bytes) -> bytes:
    """``line`` with the JSON string ``"<marker>"`` replaced by the raw JSON ``value`` (which
    ``json.dumps`` could not write: a 5000-digit integer, a lone surrogate escape).

    >>> with_value(b'{"a": "@"}', "@", b"1e39")
    b'{"a": 1e39}'
    """
    quoted = json.dumps(marker).encode()
    assert line.count(quoted) == 1, line
    return line.replace(quoted, value)


@dataclass(frozen=True)
class HostileLine:
    """One hostile line and the dead-letter reason it must give (``None``: it is stored)."""

    name: str
    payload: bytes
    reason: str | None
    kafka: bool = True  # False: too large for a default broker (message.max.bytes ~1 MB)


def hostile_events(folder: Path, *, huge_line_mb: int = 50) -> list[HostileLine]:
    """Every hostile event case; ``folder`` becomes the only image root
    (LINEWATCH_INGEST__IMAGE_ROOTS).

    Creates in ``folder``: a good frame, a symlink to /etc/passwd, a FIFO, a directory.
    """
    folder.mkdir(parents=True, exist_ok=True)
    good_file = folder / "good.png"
    good_file.write_bytes(png_bytes(64, 48))
    link = folder / "passwd.png"
    if not link.is_symlink():
        link.symlink_to("/etc/passwd")
    fifo = folder / "pipe.png"
    if not fifo.exists():
        os.mkfifo(fifo)
    (folder / "dir.png").mkdir(exist_ok=True)
    big_file = folder / "big.png"
    big_file.write_bytes(b"\x00" * (5 * 1024 * 1024))  # above the 4 MiB byte limit
    f = folder.as_posix()
    truncated_jpeg = png_bytes(64, 48, "JPEG")[:300]
    gif = png_bytes(16, 16, "GIF")
    deep = b'{"image": ' + b"[" * 200_000 + b"]" * 200_000 + b"}"
    return [
        HostileLine("good file frame", event({"uri": f"file://{f}/good.png"}), None),
        HostileLine("bomb png", event(_inline(png_bomb())), "image_too_large"),
        HostileLine("12000x12000 png", event(_inline(png_bomb(12000))), "image_too_large"),
        HostileLine("1x1 png", event(_inline(png_bytes(1, 1))), "image_too_small"),
        HostileLine("gif sent as png", event(_inline(gif)), "image_undecodable"),
        HostileLine("truncated jpeg", event(_inline(truncated_jpeg, "jpeg")), "image_undecodable"),
        HostileLine("/etc/passwd", event({"uri": "file:///etc/passwd"}), "image_uri_refused"),
        HostileLine("/etc/shadow", event({"uri": "file:///etc/shadow"}), "image_uri_refused"),
        HostileLine("/dev/zero", event({"uri": "file:///dev/zero"}), "image_uri_refused"),
        HostileLine(
            "symlink to passwd", event({"uri": f"file://{f}/passwd.png"}), "image_uri_refused"
        ),
        HostileLine(
            "dot-dot", event({"uri": f"file://{f}/../../../etc/passwd"}), "image_uri_refused"
        ),
        HostileLine("fifo", event({"uri": f"file://{f}/pipe.png"}), "image_uri_refused"),
        HostileLine("directory", event({"uri": f"file://{f}/dir.png"}), "image_uri_refused"),
        HostileLine(
            "host part", event({"uri": f"file://evil.example{f}/good.png"}), "image_uri_refused"
        ),
        HostileLine("missing file", event({"uri": f"file://{f}/nope.png"}), "image_unreadable"),
        HostileLine("big file", event({"uri": f"file://{f}/big.png"}), "image_too_large"),
        HostileLine(
            "clock 1970",
            event(_inline(png_bytes(32, 32)), captured_at="1970-01-01T00:00:00Z"),
            "clock_out_of_range",
        ),
        HostileLine(
            "clock 2099",
            event(_inline(png_bytes(32, 32)), captured_at="2099-06-01T00:00:00Z"),
            "clock_out_of_range",
        ),
        HostileLine(
            "bad base64", event({"encoding": "png", "data": "!!!not base64!!!"}), "schema_invalid"
        ),
        HostileLine(
            "huge int lux",
            with_value(event(_inline(png_bytes(32, 32)), lighting={"lux": "@"}), "@", HUGE_INT),
            "schema_invalid",
        ),
        HostileLine(
            "huge negative int in an extra field",
            with_value(event(_inline(png_bytes(32, 32)), x=["@"]), "@", b"-" + HUGE_INT),
            "schema_invalid",
        ),
        HostileLine(
            "huge int event_id",
            with_value(event(_inline(png_bytes(32, 32)), event_id="@"), "@", HUGE_INT),
            "schema_invalid",
        ),
        HostileLine(
            "huge int image data",
            event({"encoding": "png", "data": 1}).replace(b'"data": 1', b'"data": ' + HUGE_INT),
            "schema_invalid",
        ),
        HostileLine("huge int alone", HUGE_INT, "not_json"),
        HostileLine(
            "lux 1e39",
            with_value(event(_inline(png_bytes(32, 32)), lighting={"lux": "@"}), "@", b"1e39"),
            "schema_invalid",
        ),
        HostileLine(
            "lone surrogate camera_id",
            with_value(event(_inline(png_bytes(32, 32)), camera_id="@"), "@", b'"cam-\\ud800"'),
            "schema_invalid",
        ),
        HostileLine(
            "lone surrogate product_variant",
            with_value(event(_inline(png_bytes(32, 32)), product_variant="@"), "@", b'"\\udfff"'),
            "schema_invalid",
        ),
        HostileLine("uri bracket", event({"uri": "file://[x/a.png"}), "image_uri_refused"),
        HostileLine("uri bracket ipv6", event({"uri": "file://[::1/a.png"}), "image_uri_refused"),
        HostileLine(
            "uri close bracket", event({"uri": f"file://]{f}/good.png"}), "image_uri_refused"
        ),
        HostileLine(
            "uri lone surrogate",
            with_value(event({"uri": "@"}), "@", b'"file:///\\ud800.png"'),
            "schema_invalid",
        ),
        HostileLine(
            "uri dot-dot inside",
            event({"uri": f"file://{f}/dir.png/../good.png"}),
            "image_uri_refused",
        ),
        HostileLine("not json", b"\x00\xff this is not json", "not_json"),
        HostileLine("deep json", deep, "not_json"),
        HostileLine("junk 900 KB", b"x" * 900_000, "not_json"),
        HostileLine(
            f"{huge_line_mb} MB line",
            event(_inline(b"\x00" * (huge_line_mb * 1024 * 1024 * 3 // 4))),
            "event_too_large",
            kafka=False,
        ),
    ]


def hostile_labels(event_ids: Iterator[str]) -> list[HostileLine]:
    """Good and hostile ground-truth lines (good ones label ``event_ids``)."""
    from datetime import UTC, datetime

    now = datetime.now(UTC).isoformat().replace("+00:00", "Z")

    def label(**fields: Any) -> bytes:
        body: dict[str, Any] = {"event_id": str(uuid.uuid4()), "objects": [], "labelled_at": now}
        body.update(fields)
        return json.dumps(body).encode()

    good = [HostileLine("good label", label(event_id=e), None) for e in event_ids]
    inf_box = label().replace(
        b'"objects": []', b'"objects": [{"class_name": "dent", "box": [0, 0, Infinity, 1e999]}]'
    )

    def box(value: bytes, at: int = 2) -> bytes:
        corners: list[Any] = [0, 0, 1, 1]
        corners[at] = "@"
        return with_value(label(objects=[{"class_name": "dent", "box": corners}]), "@", value)

    surrogate_class = with_value(
        label(objects=[{"class_name": "@", "box": [0, 0, 1, 1]}]), "@", b'"\\ud800"'
    )
    return [
        *good,
        HostileLine("label inf box", inf_box, "label_invalid"),
        HostileLine("label box 1e39", box(b"1e39"), "label_invalid"),
        HostileLine("label box -1e39", box(b"-1e39", at=0), "label_invalid"),
        HostileLine("label box huge int", box(HUGE_INT), "label_invalid"),
        HostileLine("label class lone surrogate", surrogate_class, "label_invalid"),
        HostileLine(
            "label source lone surrogate",
            with_value(label(source="@"), "@", b'"\\udc80x"'),
            "label_invalid",
        ),
        HostileLine("label 1970", label(labelled_at="1970-01-01T00:00:00Z"), "clock_out_of_range"),
        HostileLine("label not json", b"]]]", "label_invalid"),
        HostileLine("label deep", b"[" * 100_000, "label_invalid"),
        HostileLine(
            "label 7 MB", b'{"event_id": "' + b"a" * (7 << 20) + b'"}', "label_invalid", kafka=False
        ),
    ]
