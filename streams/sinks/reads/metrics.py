"""What the readiness metrics read (:func:`streams.readiness.metrics.compute_metrics`): the
per-slice and per-class counts, latency per line, the latest lab assessment, label coverage
and the review queue. Rows of a view come back as dicts by column name, as the view defines
them (``schemas/clickhouse/``)."""

from __future__ import annotations

from typing import Any

from streams.sinks.clickhouse import ClickHouseStore

__all__ = [
    "LAB_FRAMES_SQL",
    "LAB_RUN_SQL",
    "NOVEL_SQL",
    "LabFrameRow",
    "class_counts",
    "frame_count",
    "lab_frames",
    "lab_rates",
    "label_coverage",
    "latency_by_line",
    "latest_lab_run",
    "novel_inputs",
    "review_count",
    "review_queue",
    "slice_counts",
]

Row = dict[str, Any]

SLICE_SQL = "SELECT * FROM linewatch.v_slice_metrics"
CLASS_SQL = "SELECT class_name, objects, missed, frames, frames_passed FROM linewatch.v_class_fnr"
LATENCY_SQL = "SELECT * FROM linewatch.v_latency_by_line"
LAB_RATES_SQL = "SELECT * FROM linewatch.v_lab_rates"
COVERAGE_SQL = "SELECT * FROM linewatch.v_label_coverage"
FRAME_COUNT_SQL = "SELECT count() FROM linewatch.frames"

LAB_FRAMES_SQL = """
SELECT gt_classes, gt_boxes, det_classes, det_confidences, det_boxes
FROM linewatch.v_lab_clean
"""

LAB_RUN_SQL = """
SELECT run_id, lab_set, classes FROM linewatch.assessment_runs FINAL
WHERE run_id IN (SELECT run_id FROM linewatch.v_latest_assessment WHERE suite = 'corruptions')
"""

NOVEL_SQL = """
SELECT corruption, frames, caught_frames + flagged_good_frames AS flagged, flagged_as,
       fail_safe, fail_silent
FROM linewatch.v_corruption_robustness WHERE kind = 'novel' ORDER BY corruption
"""

REVIEW_QUEUE_SQL = (
    "SELECT * FROM linewatch.v_review_queue("
    "review_low = {lo:Float64}, review_high = {hi:Float64})"
    " ORDER BY labelled ASC, max_confidence DESC, captured_at DESC"
)

REVIEW_COUNT_SQL = (
    "SELECT count() FROM linewatch.v_review_queue("
    "review_low = {lo:Float64}, review_high = {hi:Float64}) WHERE NOT labelled"
)

LabFrameRow = tuple[list[str], list[list[float]], list[str], list[float], list[list[float]]]
"""One clean lab frame: truth classes and boxes, predicted classes, confidences and boxes."""


def _rows(store: ClickHouseStore, sql: str, params: dict[str, Any] | None = None) -> list[Row]:
    result = store.query(sql, params)
    return [dict(zip(result.column_names, row, strict=True)) for row in result.result_rows]


def slice_counts(store: ClickHouseStore) -> list[Row]:
    """``v_slice_metrics``: frames, tp, fp, fn, tn per slice of the labelled frames."""
    return _rows(store, SLICE_SQL)


def class_counts(store: ClickHouseStore) -> list[Row]:
    """``v_class_fnr``: per class, objects, missed, frames and frames passed unflagged."""
    return _rows(store, CLASS_SQL)


def latency_by_line(store: ClickHouseStore) -> list[Row]:
    """``v_latency_by_line``: frames and latency quantiles (ms) per line."""
    return _rows(store, LATENCY_SQL)


def latest_lab_run(store: ClickHouseStore) -> list[Row]:
    """The latest corruption assessment's run id, lab set and classes (none before any)."""
    return _rows(store, LAB_RUN_SQL)


def lab_rates(store: ClickHouseStore) -> Row:
    """``v_lab_rates``: the latest assessment's frames, tp, fp, defective and good counts."""
    return _rows(store, LAB_RATES_SQL)[0]


def lab_frames(store: ClickHouseStore) -> list[LabFrameRow]:
    """The latest assessment's clean lab frames, truth beside predictions."""
    return [(gc, gb, dc, ds, db) for gc, gb, dc, ds, db in store.query(LAB_FRAMES_SQL).result_rows]


def novel_inputs(store: ClickHouseStore) -> list[Row]:
    """The latest assessment's novel inputs: frames, flagged (and as what), fail safe/silent."""
    return _rows(store, NOVEL_SQL)


def label_coverage(store: ClickHouseStore) -> Row:
    """``v_label_coverage``: frames, labelled and reconciled frames, labels without frames."""
    return _rows(store, COVERAGE_SQL)[0]


def frame_count(store: ClickHouseStore) -> int:
    """Production frames in the store."""
    return int(store.query(FRAME_COUNT_SQL).result_rows[0][0])


def review_queue(store: ClickHouseStore, lo: float, hi: float, limit: int | None) -> list[Row]:
    """Frames whose top confidence is in ``[lo, hi]``: unlabelled first, nearest the top; at
    most ``limit`` (all for ``None``)."""
    sql = REVIEW_QUEUE_SQL if limit is None else f"{REVIEW_QUEUE_SQL} LIMIT {int(limit)}"
    return _rows(store, sql, {"lo": lo, "hi": hi})


def review_count(store: ClickHouseStore, lo: float, hi: float) -> int:
    """Unlabelled frames whose top confidence is in ``[lo, hi]``."""
    return int(store.query(REVIEW_COUNT_SQL, {"lo": lo, "hi": hi}).result_rows[0][0])
