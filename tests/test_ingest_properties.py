"""Property-based tests (Hypothesis): whatever bytes, events or labels arrive, each input ends as
exactly one frame (or label) or one dead letter, never an exception.

Generated cases are kept few (``max_examples``) so the file runs in seconds on CI.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import string
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from streams.config import Settings
from streams.errors import EventRejected
from streams.inference import Detector
from streams.ingest import IngestLimits, LineCut, RawRecord, decode_image, read_lines
from streams.pipeline import MonitoringPipeline
from streams.readiness.labels import label_records
from streams.runners.reference import load_reference

FEW = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

ROOT_FILES = ("ok.png", "ok.jpg", "text.png", "empty.png")


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("roots") / "frames"
    folder.mkdir()
    Image.new("RGB", (20, 12), (1, 2, 3)).save(folder / "ok.png")
    Image.new("RGB", (20, 12), (1, 2, 3)).save(folder / "ok.jpg", "JPEG")
    (folder / "text.png").write_text("hello")
    (folder / "empty.png").write_bytes(b"")
    (folder / "sub").mkdir()
    return folder


@pytest.fixture(scope="module")
def pipeline(root: Path, tmp_path_factory: pytest.TempPathFactory) -> MonitoringPipeline:
    s = Settings(
        store={"dsn": f"chdb://{tmp_path_factory.mktemp('unused')}"},
        ingest={"image_roots": [str(root)], "max_image_bytes": 64 * 1024, "max_image_pixels": 4096},
    )
    return MonitoringPipeline(s, Detector.load(None), load_reference(s))


@st.composite
def images(draw: st.DrawFn) -> bytes:
    """A small real PNG/JPEG, possibly truncated or with flipped bytes."""
    w, h = draw(st.integers(1, 80)), draw(st.integers(1, 80))
    fmt = draw(st.sampled_from(["PNG", "JPEG", "GIF", "BMP"]))
    colour = draw(st.tuples(*[st.integers(0, 255)] * 3))
    buf = io.BytesIO()
    Image.new("RGB", (w, h), colour).save(buf, fmt)
    data = bytearray(buf.getvalue())
    if draw(st.booleans()):
        data = data[: draw(st.integers(0, len(data)))]
    for _ in range(draw(st.integers(0, 3))):
        if data:
            data[draw(st.integers(0, len(data) - 1))] = draw(st.integers(0, 255))
    return bytes(data)


def _uris(root: Path) -> st.SearchStrategy[str]:
    parts = st.sampled_from([*ROOT_FILES, "..", ".", "sub", "missing.png", "%2e%2e", "etc"])
    path = st.lists(parts, min_size=1, max_size=4).map("/".join)
    base = st.sampled_from([f"file://{root}/", "file:///", "file://host/", "file:", "http://x/"])
    return st.builds(lambda b, p: b + p, base, path) | st.text(max_size=30)


timestamps = st.datetimes(
    min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30), timezones=st.just(UTC)
)
floats = st.floats(allow_nan=True, allow_infinity=True) | st.integers(-(2**70), 2**70)
texts = st.text(alphabet=string.printable + "éß\u0000\ud7ff", max_size=20)


@st.composite
def events(draw: st.DrawFn, root: Path) -> bytes:
    """A camera event, mostly well-formed, with any field possibly replaced by junk."""
    image: dict[str, Any] = draw(
        st.one_of(
            st.builds(
                lambda enc, data: {"encoding": enc, "data": base64.b64encode(data).decode()},
                st.sampled_from(["png", "jpeg", "gif"]),
                images() | st.binary(max_size=200),
            ),
            st.builds(lambda u: {"uri": u}, _uris(root)),
            st.dictionaries(st.sampled_from(["encoding", "data", "uri"]), texts, max_size=3),
        )
    )
    body: dict[str, Any] = {
        "event_id": draw(st.uuids().map(str) | texts),
        "camera_id": draw(st.just("cam-1") | texts),
        "line_id": draw(st.sampled_from(["line-1", "line-2", "line-9"]) | texts),
        "captured_at": draw(timestamps.map(datetime.isoformat) | texts),
        "image": image,
    }
    if draw(st.booleans()):
        body["lighting"] = {"lux": draw(floats), "colour_temp_k": draw(floats)}
    if draw(st.booleans()):
        body[draw(texts)] = draw(floats | texts)
    for key in draw(st.lists(st.sampled_from(sorted(body)), max_size=2)):
        body.pop(key, None)
    return json.dumps(body).encode()


def _accounted(pipeline: MonitoringPipeline, payloads: list[bytes]) -> None:
    now = datetime.now(UTC)
    batch = [RawRecord(p, f"prop:{i}", now) for i, p in enumerate(payloads)]
    prepared = pipeline.prepare(batch)  # must not raise
    sources = [a.raw.source for a in prepared.accepted] + [d.source for d in prepared.dead_letters]
    assert sorted(sources) == sorted(r.source for r in batch)  # each exactly once
    for dl in prepared.dead_letters:
        assert dl.reason and dl.detail
        assert dl.payload_bytes == len(batch[int(dl.source.split(":")[1])].payload)


def test_any_bytes_end_as_one_frame_or_one_dead_letter(
    pipeline: MonitoringPipeline,
) -> None:
    @FEW
    @given(st.lists(st.binary(max_size=300), min_size=1, max_size=4))
    def check(payloads: list[bytes]) -> None:
        _accounted(pipeline, payloads)

    check()


def test_generated_events_end_as_one_frame_or_one_dead_letter(
    pipeline: MonitoringPipeline, root: Path
) -> None:
    @FEW
    @given(st.lists(events(root), min_size=1, max_size=4))
    def check(payloads: list[bytes]) -> None:
        _accounted(pipeline, payloads)

    check()


def test_decoder_returns_rgb_or_rejects() -> None:
    limits = IngestLimits(max_image_pixels=4096, min_image_side=1)

    @FEW
    @given(images() | st.binary(max_size=300), st.sampled_from(["png", "jpeg", "webp"]))
    def check(data: bytes, encoding: str) -> None:
        try:
            rgb = decode_image(data, encoding, limits)
        except EventRejected as exc:
            assert exc.reason in {"image_undecodable", "image_too_large", "image_too_small"}
            return
        assert rgb.ndim == 3 and rgb.shape[2] == 3 and rgb.dtype.name == "uint8"

    check()


@st.composite
def labels(draw: st.DrawFn) -> bytes:
    body: dict[str, Any] = {
        "event_id": draw(st.uuids().map(str) | texts),
        "objects": draw(
            st.lists(
                st.fixed_dictionaries(
                    {"class_name": texts, "box": st.lists(floats, min_size=0, max_size=5)}
                ),
                max_size=3,
            )
        ),
        "labelled_at": draw(timestamps.map(datetime.isoformat) | texts),
    }
    if draw(st.booleans()):
        body["source"] = draw(texts)
    for key in draw(st.lists(st.sampled_from(sorted(body)), max_size=1)):
        body.pop(key, None)
    return json.dumps(body).encode()


def test_labels_end_as_one_label_or_one_dead_letter() -> None:
    @FEW
    @given(st.lists(labels() | st.binary(min_size=1, max_size=200), min_size=1, max_size=5))
    def check(lines: list[bytes]) -> None:
        good, bad = label_records(lines)
        assert len(good) + len(bad) == sum(1 for line in lines if line.strip())
        for label in good:
            assert all(abs(v) < float("inf") for box in label.boxes for v in box)

    check()


def test_read_lines_keeps_at_most_the_bound_and_describes_long_lines() -> None:
    @FEW
    @given(
        st.lists(st.binary(max_size=40).map(lambda b: b.replace(b"\n", b"")), max_size=6),
        st.sampled_from([b"\n", b"\r\n"]),
        st.booleans(),
        st.integers(1, 30),
    )
    def check(lines: list[bytes], newline: bytes, last_newline: bool, bound: int) -> None:
        text = newline.join(lines) + (newline if last_newline and lines else b"")
        got = list(read_lines(io.BytesIO(text), bound))
        expected = [line.rstrip(b"\r") for line in lines]
        if lines and not last_newline and lines[-1] == b"":
            expected = expected[:-1]  # an empty last line without newline is no line
        assert [n for n, _, _ in got] == list(range(1, len(expected) + 1))
        for (_, payload, cut), line in zip(got, expected, strict=True):
            if len(line) <= bound:
                assert (payload, cut) == (line, None)
            else:
                assert payload == line[:bound]
                assert cut == LineCut(len(line), hashlib.sha256(line).hexdigest())

    check()
