"""One record can only ever cost itself (issue 17, cases 2 and 3).

Poison lines (JSON integers past Python's 4300-digit limit in any field, ``file://`` URIs that
``urlsplit`` refuses, text that is not UTF-8, numbers past their column's type) sit among good
events and labels, through ``linewatch run`` (:func:`run_embedded`), ``linewatch detect``
(:func:`detect_lines`), the Kafka worker (:class:`StreamWorker`) and label ingestion. Each poison
line becomes its own dead letter with a reason; every good record around it is stored. A label
the store itself refuses (a real ClickHouse constraint, nothing mocked) is bisected out and
dead-lettered with the store's message, in the embedded run and in the worker, instead of
ending the run or being retried forever.
"""

from __future__ import annotations

import json
import re
import tempfile
import threading
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from schemas.columns import FLOAT32_MAX, column_type
from schemas.records import DeadLetterRecord, DetectionRecord, FrameRecord, LabelRecord
from streams.config import Settings
from streams.detect import detect_lines
from streams.errors import StoreWriteError
from streams.inference import Detector
from streams.ingest import IngestLimits, RawRecord
from streams.pipeline import MonitoringPipeline
from streams.readiness.labels import label_records
from streams.runners.embedded import run_embedded
from streams.runners.reference import load_reference
from streams.runners.stream_worker import KafkaRecord, StreamWorker
from streams.sinks import ClickHouseStore
from tests.hostile_inputs import HostileLine, hostile_events, hostile_labels
from tests.store_fixtures import ServerFactory
from tests.test_store_samples import detection, frame

POISON_EVENTS = (
    "huge int lux",
    "huge negative int in an extra field",
    "huge int event_id",
    "huge int image data",
    "huge int alone",
    "lux 1e39",
    "lone surrogate camera_id",
    "lone surrogate product_variant",
    "uri bracket",
    "uri bracket ipv6",
    "uri close bracket",
    "uri lone surrogate",
    "uri dot-dot inside",
    "/etc/passwd",
    "good file frame",
)
"""The hostile events of this issue (and two of the first round as controls)."""


class NoEndlessRetry(RuntimeError):
    """Raised by the test's sleep: a write retried past any sensible count."""


def _no_endless_retry(slept: list[float], most: int = 10) -> Any:
    def sleep(delay: float) -> None:
        slept.append(delay)
        if len(slept) > most:
            raise NoEndlessRetry(f"retried {len(slept)} times: a refusal is retried forever")

    return sleep


@pytest.fixture(scope="module")
def frames_root(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[HostileLine]]:
    folder = tmp_path_factory.mktemp("roots") / "frames"
    return folder, [h for h in hostile_events(folder, huge_line_mb=1) if h.name in POISON_EVENTS]


@pytest.fixture(scope="module")
def detector() -> Detector:
    return Detector.load(None)


def _settings(store: Path, root: Path, **groups: dict[str, Any]) -> Settings:
    return Settings(store={"dsn": f"chdb://{store}"}, ingest={"image_roots": [str(root)]}, **groups)


def _mixed(
    good: list[bytes], poison: list[HostileLine]
) -> tuple[list[bytes], dict[int, str | None]]:
    """Two good lines, one poison line, ...; and each line's expected reason (None: stored)."""
    lines: list[bytes] = []
    expected: dict[int, str | None] = {}
    pending = list(good)
    for h in poison:
        for _ in range(2):
            if pending:
                lines.append(pending.pop(0))
                expected[len(lines)] = None
        lines.append(h.payload)
        expected[len(lines)] = h.reason
    for line in pending:
        lines.append(line)
        expected[len(lines)] = None
    return lines, expected


def _labels(good_ids: list[str]) -> tuple[list[RawRecord], dict[str, str | None]]:
    lines = hostile_labels(iter(good_ids))
    now = datetime.now(UTC)
    raws = [RawRecord(h.payload, f"labels:{i}", now) for i, h in enumerate(lines, 1)]
    return raws, {r.source: h.reason for r, h in zip(raws, lines, strict=True)}


def _rows(store: ClickHouseStore, sql: str) -> list[tuple[Any, ...]]:
    return [tuple(r) for r in store.query(sql).result_rows]


def test_run_stores_the_good_events_and_labels_around_each_poison_line(
    frames_root: tuple[Path, list[HostileLine]],
    production_events: tuple[Path, Path],
    detector: Detector,
    tmp_path: Path,
) -> None:
    root, poison = frames_root
    good = production_events[0].read_bytes().splitlines()[:24]
    lines, expected = _mixed(good, poison)
    settings = _settings(tmp_path / "store", root)
    now = datetime.now(UTC)
    records = [RawRecord(p, f"file:mixed:{n}", now) for n, p in enumerate(lines, 1)]
    good_ids = [json.loads(p)["event_id"] for n, p in enumerate(lines, 1) if expected[n] is None]
    labels, label_expected = _labels(good_ids[:5])
    with ClickHouseStore.open(settings.store.dsn) as store:
        store.apply_schema()
        pipeline = MonitoringPipeline(settings, detector, load_reference(settings))
        summary = run_embedded(records, pipeline, store, labels=lambda: labels)
        stored = Counter(r[0] for r in _rows(store, "SELECT event_id FROM linewatch.frames"))
        dead = dict(_rows(store, "SELECT source, reason FROM linewatch.dead_letters"))
        label_count = _rows(store, "SELECT count() FROM linewatch.labels")[0][0]
    assert stored == Counter(good_ids)  # every good event, once
    events_dead = {int(s.rsplit(":", 1)[1]): r for s, r in dead.items() if s.startswith("file:")}
    assert events_dead == {n: r for n, r in expected.items() if r is not None}
    assert {s: r for s, r in dead.items() if s.startswith("labels:")} == {
        s: r for s, r in label_expected.items() if r is not None
    }
    assert label_count == summary.labels == 5
    assert summary.records_read == len(lines)


def test_detect_writes_the_good_events_around_each_poison_line(
    frames_root: tuple[Path, list[HostileLine]],
    production_events: tuple[Path, Path],
    detector: Detector,
) -> None:
    root, poison = frames_root
    good = production_events[0].read_bytes().splitlines()[:12]
    lines, expected = _mixed(good, poison)
    limits = IngestLimits.from_settings(Settings(ingest={"image_roots": [str(root)]}))
    written: list[str] = []
    rejected: dict[int, str] = {}
    summary = detect_lines(
        lines,
        detector,
        written.append,
        batch_size=4,
        limits=limits,
        on_reject=lambda n, exc: rejected.__setitem__(n, exc.reason),
    )
    ids = [json.loads(w)["event_id"] for w in written]
    assert ids == [json.loads(lines[n - 1])["event_id"] for n, r in expected.items() if r is None]
    assert rejected == {n: r for n, r in expected.items() if r is not None}
    assert summary.accepted == len(ids)


@pytest.fixture
def worker(tmp_path: Path, frames_root: tuple[Path, list[HostileLine]]) -> Iterator[StreamWorker]:
    w = StreamWorker.create(_settings(tmp_path / "store", frames_root[0]))
    yield w
    w.close()


def _kafka(lines: list[bytes], partition: int = 0) -> list[KafkaRecord]:
    now = datetime.now(UTC)
    return [
        KafkaRecord(RawRecord(p, f"kafka:t:{partition}:{o}", now), partition, o)
        for o, p in enumerate(lines)
    ]


def test_worker_process_stores_the_good_events_around_each_poison_message(
    worker: StreamWorker,
    frames_root: tuple[Path, list[HostileLine]],
    production_events: tuple[Path, Path],
) -> None:
    _, poison = frames_root
    good = production_events[0].read_bytes().splitlines()[24:44]
    lines, expected = _mixed(good, poison)
    worker.process(_kafka(lines))  # must not raise
    result = worker.flush()
    wanted = {f"kafka:t:0:{n - 1}": r for n, r in expected.items() if r is not None}
    assert {d.source: d.reason for d in result.dead_letters} == wanted
    assert result.frames == sum(r is None for r in expected.values())
    assert worker.partitions.committed[0] == len(lines) - 1


def test_worker_labels_dead_letter_values_no_column_holds_and_store_the_rest(
    worker: StreamWorker,
) -> None:
    ids = [f"00000000-0000-4000-8000-{n:012d}" for n in range(4)]
    raws, expected = _labels(ids)
    slept: list[float] = []
    worker.checkpoint.sleep = _no_endless_retry(slept)
    good, bad = worker.handle_labels(raws)
    assert good == 4
    assert {d.source: d.reason for d in bad} == {s: r for s, r in expected.items() if r}
    box = next(d for d in bad if b"1e39" in d.payload.encode())
    assert "labels.boxes.0.2" in box.detail and "Float32" in box.detail
    stored = _rows(worker.store, "SELECT event_id FROM linewatch.labels ORDER BY event_id")
    assert stored == [(i,) for i in ids]
    assert slept == []


# --- case 3: a label the store refuses ----------------------------------------------------------

POISON_SOURCE = "poison-audit"


def _refusing_store(store: ClickHouseStore) -> None:
    """A real ClickHouse refusal: a constraint no label of source ``poison-audit`` meets."""
    store.command(
        f"ALTER TABLE linewatch.labels ADD CONSTRAINT no_poison CHECK source != '{POISON_SOURCE}'"
    )


def _label_lines(n: int, poison_at: int) -> list[RawRecord]:
    now = datetime.now(UTC)
    stamp = now.isoformat().replace("+00:00", "Z")
    out = []
    for i in range(n):
        body = {
            "event_id": f"00000000-0000-4000-8000-{i:012d}",
            "objects": [{"class_name": "dent", "box": [1, 2, 3, 4]}],
            "labelled_at": stamp,
            "source": POISON_SOURCE if i == poison_at else "audit",
        }
        out.append(RawRecord(json.dumps(body).encode(), f"labels:{i + 1}", now))
    return out


def test_worker_dead_letters_a_label_the_store_refuses_instead_of_retrying_it_forever(
    worker: StreamWorker,
) -> None:
    _refusing_store(worker.store)
    slept: list[float] = []
    worker.checkpoint.sleep = _no_endless_retry(slept)
    lines = _label_lines(9, poison_at=6)
    good, bad = worker.handle_labels(lines)
    assert good == 8
    assert [(d.reason, d.source) for d in bad] == [("store_rejected", "labels:7")]
    assert "no_poison" in bad[0].detail
    assert bad[0].payload.encode() == lines[6].payload
    assert _rows(worker.store, "SELECT count() FROM linewatch.labels") == [(8,)]
    dead = _rows(worker.store, "SELECT reason, source FROM linewatch.dead_letters")
    assert dead == [("store_rejected", "labels:7")]
    assert len(slept) == worker.settings.checkpoint.write_attempts - 1  # retried, then bisected


def test_run_dead_letters_a_label_the_store_refuses_and_stores_the_batch(
    production_events: tuple[Path, Path],
    frames_root: tuple[Path, list[HostileLine]],
    detector: Detector,
    tmp_path: Path,
) -> None:
    settings = _settings(tmp_path / "store", frames_root[0], checkpoint={"write_attempts": 1})
    events = production_events[0].read_bytes().splitlines()[:8]
    now = datetime.now(UTC)
    records = [RawRecord(p, f"file:e:{n}", now) for n, p in enumerate(events, 1)]
    lines = _label_lines(40, poison_at=23)
    with ClickHouseStore.open(settings.store.dsn) as store:
        store.apply_schema()
        _refusing_store(store)
        pipeline = MonitoringPipeline(settings, detector, load_reference(settings))
        summary = run_embedded(records, pipeline, store, labels=lambda: lines)
        labels = _rows(store, "SELECT count() FROM linewatch.labels")[0][0]
        dead = _rows(store, "SELECT reason, source, detail FROM linewatch.dead_letters")
        frames = _rows(store, "SELECT count() FROM linewatch.frames")[0][0]
    assert (summary.labels, summary.label_dead_letters) == (39, 1)
    assert labels == 39 and frames == 8
    assert [(r, s) for r, s, _ in dead] == [("store_rejected", "labels:24")]
    assert "no_poison" in dead[0][2]


def test_run_dead_letters_an_event_the_store_refuses_and_goes_on(
    production_events: tuple[Path, Path],
    frames_root: tuple[Path, list[HostileLine]],
    detector: Detector,
    tmp_path: Path,
) -> None:
    """``linewatch run`` writes through the worker's Checkpoint: a refused frame row is a
    ``store_rejected`` dead letter and every other event is stored (it used to end the run)."""
    settings = _settings(tmp_path / "store", frames_root[0], checkpoint={"write_attempts": 1})
    events = production_events[0].read_bytes().splitlines()[:12]
    poison_id = json.loads(events[5])["event_id"]
    now = datetime.now(UTC)
    records = [RawRecord(p, f"file:e:{n}", now) for n, p in enumerate(events, 1)]
    with ClickHouseStore.open(settings.store.dsn) as store:
        store.apply_schema()
        store.command(
            f"ALTER TABLE linewatch.frames ADD CONSTRAINT no_poison CHECK event_id != '{poison_id}'"
        )
        pipeline = MonitoringPipeline(settings, detector, load_reference(settings))
        summary = run_embedded(records, pipeline, store)  # must not raise
        frames = _rows(store, "SELECT count() FROM linewatch.frames")[0][0]
        dead = _rows(store, "SELECT reason, source, detail FROM linewatch.dead_letters")
    assert frames == summary.frames == 11
    assert [(r, s) for r, s, _ in dead] == [("store_rejected", "file:e:6")]
    assert "no_poison" in dead[0][2]
    assert summary.dead_letter_reasons == {"store_rejected": 1}


# --- the rule behind "numbers outside what a column can hold" -----------------------------------


def _outside(type_name: str) -> list[object]:
    """Values a column of ``type_name`` cannot hold."""
    if type_name == "Float32":
        return [1e39, -1e39, FLOAT32_MAX * 1.0000001]
    if type_name.startswith("UInt"):
        bits = int(type_name[4:])
        return [-1, 2**bits]
    if type_name.startswith("Int"):
        bits = int(type_name[3:])
        return [-(2 ** (bits - 1)) - 1, 2 ** (bits - 1)]
    if type_name == "String":
        return ["cam-\ud800", "\udfff"]
    return []


def _element(type_name: str, value: object) -> object:
    """``value`` placed where a column of ``type_name`` (maybe Array / Nullable) holds it."""
    if type_name.startswith("Array("):
        return [_element(type_name[6:-1], value)]
    if type_name.startswith("Nullable("):
        return _element(type_name[9:-1], value)
    return value


def _scalar(type_name: str) -> str:
    while type_name.startswith(("Array(", "Nullable(")):
        type_name = type_name[type_name.index("(") + 1 : -1]
    return type_name


SAMPLES: dict[type[BaseModel], dict[str, Any]] = {
    FrameRecord: frame(1).model_dump(),
    DetectionRecord: detection(1, 0).model_dump(),
    LabelRecord: label_records(
        [
            '{"event_id": "0b9f8e9a-2a53-4c9e-9c57-2f1b8f0d1a11", "objects": '
            '[{"class_name": "dent", "box": [1, 2, 3, 4]}], "labelled_at": "2026-11-29T06:00:00Z"}'
        ]
    )[0][0].model_dump(),
    DeadLetterRecord: DeadLetterRecord.build(
        reason="r", detail="d", payload=b"p", source="s", received_at=datetime.now(UTC)
    ).model_dump(),
}


@pytest.mark.parametrize("model", list(SAMPLES), ids=lambda m: m.__name__)
def test_every_field_refuses_each_value_its_column_cannot_hold(model: type[BaseModel]) -> None:
    sample = SAMPLES[model]
    model.model_validate(sample)  # the sample itself fits
    checked = 0
    for name, field in model.model_fields.items():
        declared = column_type(field)
        assert declared is not None, f"{model.__name__}.{name} declares no column type"
        for value in _outside(_scalar(declared)):
            with pytest.raises(ValidationError) as info:
                model.model_validate({**sample, name: _element(declared, value)})
            err = info.value.errors(include_input=False)[0]
            assert err["loc"][0] == name, err
            if err["type"] == "value_error":  # ours, not the Python type's own refusal
                assert _scalar(declared) in err["msg"], err
            checked += 1
    assert checked >= 8


def test_declared_column_types_are_those_of_the_migrated_store() -> None:
    with ClickHouseStore.open(f"chdb://{tempfile.mkdtemp()}/s") as store:
        store.apply_schema()
        for model in SAMPLES:
            table = model.__table__  # type: ignore[attr-defined]
            rows = store.query(
                "SELECT name, type FROM system.columns "
                "WHERE database = 'linewatch' AND table = {t:String}",
                {"t": table},
            ).result_rows
            actual = {n: re.sub(r"LowCardinality\((\w+)\)", r"\1", str(t)) for n, t in rows}
            declared = {n: column_type(f) for n, f in model.model_fields.items()}
            assert declared == {n: actual[n] for n in declared}, table


@pytest.mark.slow
def test_worker_waits_out_a_store_outage_for_labels_instead_of_dead_lettering_them(
    http_server_factory: ServerFactory, tmp_path: Path, frames_root: tuple[Path, list[HostileLine]]
) -> None:
    """Retries are for transient errors: a store that cannot be reached is waited for, and no
    label becomes a dead letter because of it."""
    server = http_server_factory("labels-outage")
    worker = StreamWorker.create(
        Settings(store={"dsn": server.dsn()}, ingest={"image_roots": [str(frames_root[0])]})
    )
    try:
        server.stop()
        back = threading.Timer(2.0, server.start)
        back.start()
        good, bad = worker.handle_labels(_label_lines(6, poison_at=-1))
        back.join()
        assert server.starts == 2  # the write did meet the outage, and waited it out
        assert (good, bad) == (6, [])
        assert _rows(worker.store, "SELECT count() FROM linewatch.labels") == [(6,)]
        assert _rows(worker.store, "SELECT count() FROM linewatch.dead_letters") == [(0,)]
    finally:
        worker.close()


def test_a_row_the_driver_cannot_serialise_is_a_store_write_error(tmp_path: Path) -> None:
    """Rows that skip record validation (plain rows) and do not fit their column fail as a
    deterministic :class:`StoreWriteError` (bisectable), not as a driver's own exception."""
    now = datetime.now(UTC)
    row = ["l1", "e1", "audit", now, 0, ["\ud800"], [], now]
    too_wide = ["l2", "e2", "audit", now, 2**33, [], [], now]
    with ClickHouseStore.open(f"chdb://{tmp_path / 's'}") as store:
        store.apply_schema()
        for bad in (row, too_wide):
            with pytest.raises(StoreWriteError, match="could not write 1 rows to labels"):
                store.insert_new_rows(LabelRecord, [bad])
