"""Property-based tests (Hypothesis): whatever bytes, events or labels arrive, each input ends as
exactly one frame (or label) or one dead letter, never an exception.

The generated events and labels put, in any field: JSON integers past Python's 4300-digit
int-string limit, floats no Float32 column holds, rich markup, terminal escapes, control
characters and lone surrogates in text, and malformed ``file://`` URIs. The pipeline's output is
written to a real (chDB) store, and each input must be found there once: a stored frame (or
label) or a dead letter.

Generated cases are kept few (``max_examples``) so the file runs in seconds on CI.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import string
import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from schemas.columns import FLOAT32_MAX
from streams.config import CheckpointSettings, Settings
from streams.errors import EventRejected
from streams.inference import Detector
from streams.ingest import IngestLimits, LineCut, RawRecord, decode_image, read_lines
from streams.pipeline import MonitoringPipeline
from streams.readiness.labels import label_records
from streams.runners.checkpoint import Checkpoint
from streams.runners.reference import load_reference
from streams.sinks import ClickHouseStore

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


HUGE = "\x01huge-int\x01"
"""Stands for a 5000-digit JSON integer, which ``json.dumps`` cannot write (:func:`_dumps`)."""

MARKUP = (
    "[/x]",
    "[link=https://evil.example]click[/link]",
    "[bold red]x",
    "\x1b[31mred\x1b[0m",
    "\x1b]8;;https://evil.example\x07x\x1b]8;;\x07",
    "\x1b]0;title\x07",
    "$\\foo$",
    "\u202eevil",
    "a\rb\x08\x7f\x00",
)
SURROGATES = ("\ud800", "cam-\udfff", "\udc80x")
HOSTILE_TEXT = MARKUP + SURROGATES
"""Rich markup, terminal escapes (CSI, OSC 8 links, titles), mathtext, bidi and control
characters, lone surrogates: text a camera may send in any string field."""


def _dumps(body: Any) -> bytes:
    """JSON of ``body`` with every :data:`HUGE` string replaced by a 5000-digit integer."""
    return json.dumps(body).encode().replace(json.dumps(HUGE).encode(), b"9" * 5000)


def _uris(root: Path) -> st.SearchStrategy[str]:
    parts = st.sampled_from([*ROOT_FILES, "..", ".", "sub", "missing.png", "%2e%2e", "etc", ""])
    path = st.lists(parts, min_size=1, max_size=4).map("/".join)
    base = st.sampled_from(
        [
            f"file://{root}/",
            "file:///",
            "file://host/",
            "file:",
            "http://x/",
            "file://[x/",
            "file://[::1/",
            "file://]/",
            f"file://[{root}/",
            f"file://{root}/%00",
            f"file://{root}/\ud800",
            f"file://{root}?q=",
            f"file://{root}#",
            "file://user:pw@host:99999/",
        ]
    )
    malformed = st.sampled_from(["file://[x/a.png", "file://[", "file://[::1", "file://%zz/a"])
    return st.builds(lambda b, p: b + p, base, path) | malformed | st.text(max_size=30)


timestamps = st.datetimes(
    min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30), timezones=st.just(UTC)
)
floats = (
    st.floats(allow_nan=True, allow_infinity=True)
    | st.integers(-(2**70), 2**70)
    | st.sampled_from([1e39, -1e39, 3.4028236e38, 1.7976931348623157e308, HUGE])
)
texts = (
    st.text(alphabet=string.printable + "éß\u0000\ud7ff\x1b\x07\u202e\u2028", max_size=20)
    | st.sampled_from(HOSTILE_TEXT)
    | st.just(HUGE)
)


_ONE_IN_FIVE = st.sampled_from((False, False, False, False, True))  # shrinks towards False
_ONE_IN_TEN = st.sampled_from((False,) * 9 + (True,))


def _mostly(draw: st.DrawFn, good: st.SearchStrategy[Any], bad: st.SearchStrategy[Any]) -> Any:
    """A value from ``good``, or one time in ten from ``bad``: most generated records are valid
    but for one or two fields, so they reach decoding, the model and the store."""
    return draw(bad) if draw(_ONE_IN_TEN) else draw(good)


names = (
    st.sampled_from(["cam-1", "cam-2"])
    | st.sampled_from(MARKUP)
    | st.text(alphabet=string.printable + "éß\x1b\x07\u202e", min_size=1, max_size=20)
)
"""Valid text for a name field: plain names, rich markup, escapes, control characters (all of
them stored as they are)."""


def _encoded(encoding: str, width: int, height: int) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (width, height), (width, height, 90)).save(buf, encoding.upper())
    return buf.getvalue()


@st.composite
def events(draw: st.DrawFn, root: Path) -> bytes:
    """A camera event, mostly well-formed, with any field possibly replaced by junk."""
    good_image = st.builds(
        lambda enc, w, h: {"encoding": enc, "data": base64.b64encode(_encoded(enc, w, h)).decode()},
        st.sampled_from(["png", "jpeg"]),
        st.integers(8, 48),
        st.integers(8, 48),
    ) | st.sampled_from([{"uri": f"file://{root}/ok.png"}, {"uri": f"file://{root}/ok.jpg"}])
    junk_image = st.one_of(
        st.builds(
            lambda enc, data: {"encoding": enc, "data": base64.b64encode(data).decode()},
            st.sampled_from(["png", "jpeg", "gif"]),
            images() | st.binary(max_size=200),
        ),
        st.builds(lambda u: {"uri": u}, _uris(root)),
        st.dictionaries(st.sampled_from(["encoding", "data", "uri"]), texts | floats, max_size=3),
    )
    image = _mostly(draw, good_image, junk_image)
    recent = st.just((datetime.now(UTC) - timedelta(minutes=5)).isoformat())
    body: dict[str, Any] = {
        "event_id": _mostly(draw, st.uuids().map(str), texts | floats),
        "camera_id": _mostly(draw, names, texts | floats),
        "line_id": _mostly(draw, st.sampled_from(["line-1", "line-2"]), names | texts | floats),
        "captured_at": _mostly(draw, recent, timestamps.map(datetime.isoformat) | texts | floats),
        "image": image,
    }
    if draw(st.booleans()):
        body["lighting"] = {
            "lux": _mostly(draw, st.floats(0, 200_000), floats),
            "colour_temp_k": _mostly(draw, st.floats(1000, 20_000), floats),
        }
    if draw(st.booleans()):
        body["shift"] = _mostly(draw, names, texts | floats)
    if draw(st.booleans()):
        body["product_variant"] = _mostly(draw, names, texts | floats)
    if draw(_ONE_IN_FIVE):
        body[draw(texts)] = draw(floats | texts | st.lists(floats, max_size=3))
    if draw(_ONE_IN_FIVE):
        body.pop(draw(st.sampled_from(sorted(body))))
    return _dumps(body)


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ClickHouseStore]:
    with ClickHouseStore.open(f"chdb://{tmp_path_factory.mktemp('store')}") as opened:
        opened.apply_schema()
        yield opened


def _sources(store: ClickHouseStore, table: str, prefix: str) -> Counter[str]:
    rows = store.query(
        f"SELECT source FROM linewatch.{table} WHERE startsWith(source, {{p:String}})",
        {"p": prefix},
    ).result_rows
    return Counter(str(r[0]) for r in rows)


def _accounted(pipeline: MonitoringPipeline, store: ClickHouseStore, payloads: list[bytes]) -> None:
    """Each payload ends as one frame or one dead letter: in the pipeline's output, and in the
    store (a replay of a stored event, same id and content, is the frame stored already)."""
    now = datetime.now(UTC)
    prefix = f"prop-{uuid.uuid4().hex[:12]}:"
    batch = [RawRecord(p, f"{prefix}{i}", now) for i, p in enumerate(payloads)]
    out = pipeline.process(batch)  # must not raise
    sources = [f.source for f in out.frames] + [d.source for d in out.dead_letters]
    assert sorted(sources) == sorted(r.source for r in batch)  # each exactly once
    for dl in out.dead_letters:
        assert dl.reason and dl.detail
        assert dl.payload_bytes == len(batch[int(dl.source.rsplit(":", 1)[1])].payload)
    result = store.write(out.records())  # must not raise: every row fits its columns
    stored = _sources(store, "frames", prefix) + _sources(store, "dead_letters", prefix)
    replays = {f.source: f.event_id for f in out.frames if stored[f.source] == 0}
    assert len(replays) == result.skipped["frames"]
    if replays:
        found = store.query(
            "SELECT DISTINCT event_id FROM linewatch.frames WHERE has({ids:Array(String)}, "
            "event_id)",
            {"ids": list(replays.values())},
        ).result_rows
        assert {r[0] for r in found} == set(replays.values())
    assert all(stored[r.source] == 1 for r in batch if r.source not in replays), stored


def test_any_bytes_end_as_one_frame_or_one_dead_letter(
    pipeline: MonitoringPipeline, store: ClickHouseStore
) -> None:
    @FEW
    @given(st.lists(st.binary(max_size=300), min_size=1, max_size=4))
    def check(payloads: list[bytes]) -> None:
        _accounted(pipeline, store, payloads)

    check()


def test_generated_events_end_as_one_stored_frame_or_one_dead_letter(
    pipeline: MonitoringPipeline, store: ClickHouseStore, root: Path
) -> None:
    @FEW
    @given(st.lists(events(root), min_size=1, max_size=4))
    def check(payloads: list[bytes]) -> None:
        _accounted(pipeline, store, payloads)

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
    """A ground-truth label, mostly well-formed; boxes may hold values no Float32 holds."""
    corners = st.tuples(
        st.floats(0, 100), st.floats(0, 100), st.floats(101, 1e4), st.floats(101, 1e4)
    )
    past_float32 = st.tuples(st.floats(-10, 10), st.floats(-10, 10), floats, floats)
    box = _mostly(draw, corners, past_float32 | st.lists(floats, max_size=5))
    body: dict[str, Any] = {
        "event_id": _mostly(draw, st.uuids().map(str), texts | floats),
        "objects": [
            {"class_name": _mostly(draw, st.sampled_from(["dent"]) | names, texts), "box": box}
            for _ in range(draw(st.integers(0, 3)))
        ],
        "labelled_at": _mostly(
            draw,
            st.just(datetime.now(UTC).isoformat()),
            timestamps.map(datetime.isoformat) | texts | floats,
        ),
    }
    if draw(st.booleans()):
        body["source"] = _mostly(draw, st.just("audit") | names, texts | floats)
    if draw(_ONE_IN_FIVE):
        body.pop(draw(st.sampled_from(sorted(body))))
    return _dumps(body)


def test_labels_end_as_one_stored_label_or_one_dead_letter(store: ClickHouseStore) -> None:
    @FEW
    @given(st.lists(labels() | st.binary(min_size=1, max_size=200), min_size=1, max_size=5))
    def check(lines: list[bytes]) -> None:
        now = datetime.now(UTC)
        prefix = f"labels-{uuid.uuid4().hex[:12]}:"
        raws = [RawRecord(p, f"{prefix}{i}", now) for i, p in enumerate(lines)]
        good, bad = label_records(raws)
        assert len(good) + len(bad) == sum(1 for line in lines if line.strip())
        for label in good:
            assert all(abs(v) <= FLOAT32_MAX for box in label.boxes for v in box)
        stored, dead = Checkpoint(store, CheckpointSettings()).write_labels(raws)  # no raise
        assert (stored, len(dead)) == (len(good), len(bad))
        assert _sources(store, "dead_letters", prefix) == Counter(d.source for d in bad)
        ids = [g.label_id for g in good]
        found = store.query(
            "SELECT DISTINCT label_id FROM linewatch.labels WHERE has({ids:Array(String)}, "
            "label_id)",
            {"ids": ids},
        ).result_rows
        assert {r[0] for r in found} == set(ids)

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
