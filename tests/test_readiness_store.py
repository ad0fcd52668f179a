"""Reconciliation and metric views on real stores: embedded chDB and the HTTP fixture server."""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from datetime import timedelta

import pytest

from streams.config import Settings
from streams.readiness.labels import label_records
from streams.readiness.metrics import compute_metrics, parse_by, review_queue
from streams.readiness.reconcile import reconcile
from streams.readiness.samples import (
    T0,
    event_uuid,
    sample_detection,
    sample_frame,
    sample_label_line,
)
from streams.readiness.stats import wilson_interval
from streams.sinks import ClickHouseStore

BOX = (10.0, 10.0, 40.0, 40.0)
OTHER = (100.0, 100.0, 130.0, 130.0)


@pytest.fixture
def store(store_dsn: str) -> Iterator[ClickHouseStore]:
    with ClickHouseStore.open(store_dsn) as s:
        s.apply_schema()
        yield s


@pytest.fixture
def settings(store_dsn: str) -> Settings:
    return Settings(store={"dsn": store_dsn}, inference={"operating_threshold": 0.5})


def ingest_labels(store: ClickHouseStore, lines: list[str]) -> None:
    good, bad = label_records(lines)
    assert not bad
    store.insert(good)


def add_frame(
    store: ClickHouseStore,
    n: int,
    dets: list[tuple[str, float, tuple[float, ...]]],
    **kw: object,
) -> str:
    eid = event_uuid(n)
    top = max((c for _, c, _ in dets), default=0.0)
    frame = sample_frame(
        eid,
        max_confidence=top,
        detection_count=len(dets),
        captured_at=T0 + timedelta(seconds=n),
        **kw,  # type: ignore[arg-type]
    )
    store.insert([frame])
    store.insert(
        [
            sample_detection(eid, i, c, s, b, line_id=frame.line_id, captured_at=frame.captured_at)
            for i, (c, s, b) in enumerate(dets)
        ]
    )
    return eid


def build_hand_case(store: ClickHouseStore) -> None:
    """line-1/day/normal: 2 TP, 1 FN, 1 FP, 3 TN; line-2/night/dim: 1 FN (novel crack), 1 TN."""
    labels: list[str] = []
    # TP: dent found
    labels.append(sample_label_line(add_frame(store, 0, [("dent", 0.9, BOX)]), [("dent", BOX)]))
    # TP frame, but wrong class: scratch labelled, stain predicted -> box FN for scratch
    labels.append(sample_label_line(add_frame(store, 1, [("stain", 0.8, BOX)]), [("scratch", BOX)]))
    # FN: dent below threshold
    labels.append(sample_label_line(add_frame(store, 2, [("dent", 0.3, BOX)]), [("dent", BOX)]))
    # FP: good unit flagged
    labels.append(sample_label_line(add_frame(store, 3, [("dent", 0.7, OTHER)]), []))
    for n in (4, 5, 6):  # TN
        labels.append(sample_label_line(add_frame(store, n, [("dent", 0.2, OTHER)]), []))
    kw = {"line_id": "line-2", "shift": "night", "lighting": "dim"}
    labels.append(sample_label_line(add_frame(store, 7, [], **kw), [("crack", BOX)]))
    labels.append(sample_label_line(add_frame(store, 8, [], **kw), []))
    add_frame(store, 9, [("dent", 0.3, BOX)])  # unlabelled, in the review band
    ingest_labels(store, labels)


def test_hand_case_metrics(store: ClickHouseStore, settings: Settings) -> None:
    build_hand_case(store)
    summary = reconcile(store, settings)
    assert summary.reconciled == 9 and summary.labels_without_frames == 0
    m = compute_metrics(store, settings, by=parse_by("line,shift,lighting"))
    o = m.overall
    assert (o.frames, o.tp, o.fp, o.fn, o.tn) == (9, 2, 1, 2, 4)
    assert o.fpr.value == pytest.approx(1 / 5)
    assert o.recall.value == pytest.approx(2 / 4)
    assert o.precision.value == pytest.approx(2 / 3)
    assert (o.fpr.lo, o.fpr.hi) == wilson_interval(1, 5)
    assert o.prevalence.value == pytest.approx(4 / 9)
    by_key = {tuple(s.key.values()): s for s in m.slices}
    s1 = by_key[("line-1", "day", "normal")]
    assert (s1.tp, s1.fp, s1.fn, s1.tn) == (2, 1, 1, 3)
    s2 = by_key[("line-2", "night", "dim")]
    assert s2.recall.value == 0.0 and s2.precision.value is None  # nothing flagged: no data
    assert s2.precision.fmt() == "no data"
    classes = {c.class_name: c for c in m.classes}
    assert classes["dent"].fnr.k == 1 and classes["dent"].fnr.n == 2
    assert classes["scratch"].fnr.value == 1.0  # class-aware: a stain box is no scratch
    assert classes["scratch"].unit_fnr.value == 0.0  # ... but the unit was pulled
    assert classes["crack"].fnr.value == 1.0 and not classes["crack"].trained
    assert classes["stain"].fnr.n == 0 and classes["stain"].fnr.fmt() == "no data"
    assert m.review_queue_size == 1  # labelled frames in the band don't need review
    queue = review_queue(store, settings)
    assert next(r["event_id"] for r in queue) == event_uuid(9)
    in_band = {event_uuid(n) for n in (2, 4, 5, 6, 9)}  # top confidence 0.3 or 0.2
    assert {r["event_id"] for r in queue} == in_band


def test_sql_wilson_matches_python(store: ClickHouseStore, settings: Settings) -> None:
    build_hand_case(store)
    reconcile(store, settings)
    row = store.query(
        "SELECT fp, good, fpr, fpr_lo, fpr_hi, tp, flagged, precision_lo, precision_hi "
        "FROM v_overall_metrics"
    ).result_rows[0]
    fp, good, fpr, lo, hi, tp, flagged, plo, phi = row
    assert fpr == pytest.approx(fp / good)
    assert (lo, hi) == pytest.approx(wilson_interval(fp, good))
    assert (plo, phi) == pytest.approx(wilson_interval(tp, flagged))
    cls = dict(
        (r[0], r[1:])
        for r in store.query("SELECT class_name, fnr, fnr_lo, fnr_hi FROM v_class_fnr").result_rows
    )
    assert cls["crack"] == (1.0, pytest.approx(wilson_interval(1, 1)[0]), 1.0)  # type: ignore[index]


def test_empty_store_says_no_data(store: ClickHouseStore, settings: Settings) -> None:
    m = compute_metrics(store, settings)
    assert m.overall.frames == 0 and m.slices == []
    for p in (m.overall.fpr, m.overall.recall, m.overall.precision):
        assert p.value is None and p.fmt() == "no data"
    assert all(c.fnr.value is None for c in m.classes)
    assert all(lat.p99_ms is None for lat in m.latency)
    assert m.lab.map.map50 is None and m.base_rate is None
    rows = store.query("SELECT * FROM v_slice_metrics").result_rows
    assert rows == []
    assert m.as_dict()["overall"]["fpr"]["value"] is None


def test_label_before_frame_is_kept_then_reconciled(
    store: ClickHouseStore, settings: Settings
) -> None:
    eid = event_uuid(42)
    ingest_labels(store, [sample_label_line(eid, [("dent", BOX)])])
    first = reconcile(store, settings)
    assert (first.reconciled, first.labels_without_frames) == (0, 1)
    add_frame(store, 42, [("dent", 0.95, BOX)])
    second = reconcile(store, settings)
    assert (second.reconciled, second.labels_without_frames) == (1, 0)
    (outcome,) = store.query("SELECT outcome FROM v_frame_outcomes").result_rows[0]
    assert outcome == "TP"
    assert reconcile(store, settings).reconciled == 0  # idempotent


def test_late_label_correction_replaces_the_outcome(
    store: ClickHouseStore, settings: Settings
) -> None:
    eid = add_frame(store, 1, [("dent", 0.9, BOX)])
    ingest_labels(store, [sample_label_line(eid, [])])  # auditor: good unit → FP
    reconcile(store, settings)
    assert store.query("SELECT outcome FROM v_frame_outcomes").result_rows == [("FP",)]
    later = T0 + timedelta(days=2)
    ingest_labels(store, [sample_label_line(eid, [("dent", BOX)], labelled_at=later)])
    assert reconcile(store, settings).reconciled == 1
    assert store.query("SELECT outcome FROM v_frame_outcomes").result_rows == [("TP",)]
    # a different operating threshold re-reconciles too
    strict = Settings(store={"dsn": settings.store.dsn}, inference={"operating_threshold": 0.95})
    assert reconcile(store, strict).reconciled == 1
    assert store.query("SELECT outcome FROM v_frame_outcomes").result_rows == [("FN",)]


def test_latency_against_takt(store: ClickHouseStore, store_dsn: str) -> None:
    settings = Settings(
        store={"dsn": store_dsn},
        inference={"operating_threshold": 0.5},
        plant={"lines": {"line-1": {"takt_units_per_minute": 600}}},
    )
    for n in range(100):
        add_frame(store, n, [], latency_ms=float(n + 1))
    m = compute_metrics(store, settings)
    (lat,) = m.latency
    assert lat.takt_ms == pytest.approx(100.0)
    assert lat.p50_ms is not None and 50 <= lat.p50_ms <= 51
    assert lat.p99_ms is not None and 99 <= lat.p99_ms <= 100
    assert lat.p99_takt_ratio == pytest.approx(lat.p99_ms / 100.0)


def test_parse_by_rejects_unknown() -> None:
    from streams.errors import ConfigError

    assert parse_by("") == ()
    with pytest.raises(ConfigError, match="camera"):
        parse_by("camera")


def test_outcome_rows_are_what_validating_them_gives() -> None:
    # reconcile builds plain rows (no pydantic record per row): every value must already be
    # what FrameOutcomeRecord's validation makes of it, type included
    from streams.evaluation.boxes import PredictedBox
    from streams.readiness.reconcile import _outcome_row, outcome_record
    from streams.readiness.records import FrameOutcomeRecord

    truths = [[10.0, 10.0, 40.0, 40.0], [100.0, 100.0, 130.0, 130.0]]
    pending = (event_uuid(1), "lab-1", "qa", T0 + timedelta(hours=1), ["dent", "scratch"], truths)
    frame = ("line-1", "cam-1", "day", "normal", "A", T0, "1.0.0", 0.9, 12.5, 7.25)
    preds = [PredictedBox("dent", 0.9, BOX), PredictedBox("stain", 0.6, OTHER)]
    for boxes in (preds, []):
        row = _outcome_row((*pending, *frame), boxes, 0.5, T0 + timedelta(days=1))
        record = outcome_record(row)
        validated = tuple(getattr(record, f) for f in FrameOutcomeRecord.model_fields)
        assert validated == row
        assert [type(v) for v in validated] == [type(v) for v in row]
    assert record.outcome == "FN" and record.gt_matched == [0, 0] and record.fn_boxes == 2


def test_insert_new_rows_writes_each_key_once_like_insert(store: ClickHouseStore) -> None:
    from streams.readiness.reconcile import _outcome_row
    from streams.readiness.records import FrameOutcomeRecord

    frame = ("line-1", "cam-1", "day", "normal", "A", T0, "1.0.0", 0.9, 12.5, 7.25)
    rows = [
        _outcome_row(
            (event_uuid(n), f"lab-{n}", "qa", T0, [], [], *frame), [], 0.5, T0 + timedelta(days=1)
        )
        for n in range(3)
    ]
    assert store.insert_new_rows(FrameOutcomeRecord, [*rows, rows[0]]) == 3
    stored = store.query(
        "SELECT outcome_id, outcome, captured_at FROM frame_outcomes ORDER BY outcome_id"
    ).result_rows
    assert stored == sorted((r[0], "TN", T0) for r in rows)


def test_the_scan_path_stores_the_same_outcomes_as_the_key_path(
    store: ClickHouseStore, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    # from SCAN_FROM pending labels on, reconcile reads all their frames in one scan instead of
    # through event_keys chunk by chunk: the stored outcomes must not depend on the path
    module = importlib.import_module("streams.readiness.reconcile")  # the package's name
    # `reconcile` is the function

    build_hand_case(store)
    labels = [sample_label_line(event_uuid(99), [("dent", BOX)])]  # its frame never arrives
    ingest_labels(store, labels)
    sql = "SELECT * EXCEPT reconciled_at FROM frame_outcomes FINAL ORDER BY outcome_id"
    assert reconcile(store, settings).reconciled == 9  # 9 < SCAN_FROM: the key path
    by_keys = store.query(sql).result_rows
    store.command("TRUNCATE TABLE linewatch.frame_outcomes")
    monkeypatch.setattr(module, "SCAN_FROM", 1)
    summary = reconcile(store, settings)
    assert (summary.reconciled, summary.labels_without_frames) == (9, 1)
    assert store.query(sql).result_rows == by_keys
    assert any(r[15] == "TP" for r in by_keys) and any(r[15] == "FN" for r in by_keys)
    assert reconcile(store, settings).reconciled == 0  # idempotent on the scan path too
