"""A frame's decode time is bounded: the JPEG scan limit and the per-frame decode budget give
``image_too_costly`` dead letters (in the pipeline and in the worker's decode thread), and the
fast JPEG path gives the same pixels as Pillow."""

from __future__ import annotations

import base64
import io
import json
import struct
import threading
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from streams.config import Settings
from streams.errors import EventRejected
from streams.ingest import IngestLimits, RawRecord
from streams.ingest.decode import decode_image, jpeg_scans
from streams.runners.stream_worker import KafkaRecord, StreamWorker
from tests.hostile_inputs import event

# One empty AC scan of component 1 (Ss=1, Se=63, Ah=Al=0) with no entropy-coded bytes: libjpeg
# warns and runs a whole pass over the frame for each of these 10 bytes.
_EMPTY_SCAN = b"\xff\xda" + struct.pack(">H", 8) + bytes([1, 1, 0x00, 1, 63, 0x00])


def _jpeg(
    width: int = 320, height: int = 240, *, progressive: bool = False, **save: object
) -> bytes:
    rng = np.random.default_rng(width * height)
    pixels = rng.integers(0, 255, (height, width, 3), dtype=np.uint8)
    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, "JPEG", progressive=progressive, quality=85, **save)
    return buf.getvalue()


def empty_scans_jpeg(scans: int, width: int = 320, height: int = 240) -> bytes:
    """A valid progressive JPEG followed by ``scans`` empty scans before its end marker."""
    data = _jpeg(width, height, progressive=True)
    assert data.endswith(b"\xff\xd9")
    return data[:-2] + _EMPTY_SCAN * scans + b"\xff\xd9"


def _reason(data: bytes, limits: IngestLimits) -> str:
    with pytest.raises(EventRejected) as info:
        decode_image(data, "jpeg", limits)
    return info.value.reason


def test_thousands_of_empty_scans_are_refused_before_decoding() -> None:
    data = empty_scans_jpeg(5000)
    assert jpeg_scans(data) > 5000
    with pytest.raises(EventRejected) as info:
        decode_image(data, "jpeg")
    assert info.value.reason == "image_too_costly"
    assert "LINEWATCH_INGEST__MAX_JPEG_SCANS" in info.value.detail
    # a usual progressive JPEG (about 10 scans) is well inside the default limit
    usual = _jpeg(progressive=True)
    assert 1 < jpeg_scans(usual) <= IngestLimits().max_jpeg_scans
    assert decode_image(usual, "jpeg").shape == (240, 320, 3)


def test_scans_are_counted_exactly_where_the_cheap_bound_is_passed() -> None:
    # many 0xDA bytes in a comment segment pass the byte count's bound, not the scan limit
    base = _jpeg()
    comment = b"\xda" * 150
    data = base[:2] + b"\xff\xfe" + struct.pack(">H", len(comment) + 2) + comment + base[2:]
    assert jpeg_scans(data) == 1 and data.count(b"\xda") > 150
    assert np.array_equal(decode_image(data, "jpeg"), decode_image(base, "jpeg"))
    # and a frame past the scan limit is refused whatever its other bytes
    assert _reason(empty_scans_jpeg(101), IngestLimits()) == "image_too_costly"


def test_the_decode_budget_refuses_a_frame_that_took_too_long_also_in_another_thread() -> None:
    data = empty_scans_jpeg(6000)
    limits = IngestLimits(max_jpeg_scans=100_000, max_decode_ms=10.0)
    assert _reason(data, limits) == "image_too_costly"
    found: list[str] = []
    worker = threading.Thread(target=lambda: found.append(_reason(data, limits)))
    worker.start()
    worker.join()
    assert found == ["image_too_costly"]
    # within budget, the same bytes decode (the budget, not the bytes, refused them)
    roomy = IngestLimits(max_jpeg_scans=100_000, max_decode_ms=60_000.0)
    assert decode_image(data, "jpeg", roomy).shape == (240, 320, 3)


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("baseline 4:2:0", _jpeg()),
        ("baseline 4:4:4", _jpeg(subsampling=0)),
        ("progressive", _jpeg(progressive=True)),
        ("odd size", _jpeg(321, 239)),
    ],
)
def test_jpeg_pixels_are_pillows(name: str, data: bytes) -> None:
    with Image.open(io.BytesIO(data)) as img:
        expected = np.asarray(img.convert("RGB"))
    assert np.array_equal(decode_image(data, "jpeg"), expected), name


def test_grey_and_cmyk_jpeg_decode_as_with_pillow() -> None:
    for mode in ("L", "CMYK"):
        buf = io.BytesIO()
        Image.new(mode, (40, 30), 90 if mode == "L" else (10, 20, 30, 40)).save(buf, "JPEG")
        with Image.open(io.BytesIO(buf.getvalue())) as img:
            expected = np.asarray(img.convert("RGB"))
        assert np.array_equal(decode_image(buf.getvalue(), "jpeg"), expected), mode


def _inline(data: bytes) -> bytes:
    return event({"encoding": "jpeg", "data": base64.b64encode(data).decode()})


def test_worker_dead_letters_a_costly_frame_and_stores_the_ones_around_it(
    store_dsn: str, production_events: tuple[Path, Path]
) -> None:
    good = production_events[0].read_bytes().splitlines()[:6]
    costly = _inline(empty_scans_jpeg(6000))
    lines = [*good[:3], costly, *good[3:]]
    settings = Settings(
        store={"dsn": store_dsn},
        ingest={"max_jpeg_scans": 100_000, "max_decode_ms": 10.0},
        inference={"max_batch_wait_ms": 0},  # run the take at once, no tail held for later takes
    )
    worker = StreamWorker.create(settings)
    try:
        now = datetime.now(UTC)
        batch = [
            KafkaRecord(RawRecord(p, f"kafka:t:0:{o}", now), 0, o) for o, p in enumerate(lines)
        ]
        out = worker.process(batch)  # decoded on the worker's decode thread
        assert [d.reason for d in out.dead_letters] == ["image_too_costly"]
        assert out.dead_letters[0].source == "kafka:t:0:3"
        assert "LINEWATCH_INGEST__MAX_DECODE_MS" in out.dead_letters[0].detail
        assert len(out.frames) == 6
        bad_id = json.loads(costly)["event_id"]
        assert bad_id not in {str(f.event_id) for f in out.frames}
    finally:
        worker.close()
