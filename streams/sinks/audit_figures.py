"""The ``audit_figures`` table (``300_audit_figures.sql``): per slice and ``linewatch estimate``
run, the label-free estimate beside the realized design-weighted figure and the next audit
(:mod:`streams.readiness.slice_audits` builds the rows; Grafana reads them); and the latest
capture time the worker's audits count their reference window back from
(:mod:`streams.readiness.audit_stream`)."""

from __future__ import annotations

from datetime import datetime

from schemas.records import StoreRecord
from streams.sinks.clickhouse import ClickHouseStore

__all__ = ["AuditFigureRecord", "capture_span"]


class AuditFigureRecord(StoreRecord):
    """One slice's figures of one ``estimate`` run (rates in [0, 1], ``None`` where unknown)."""

    __table__ = "audit_figures"
    __key__ = ("line_id", "shift", "lighting", "computed_at")

    computed_at: datetime
    line_id: str
    shift: str
    lighting: str
    threshold: float
    estimate_status: str
    est_recall: float | None
    est_recall_lo: float | None
    est_recall_hi: float | None
    est_fpr: float | None
    est_fpr_lo: float | None
    est_fpr_hi: float | None
    realized_source: str
    recall: float | None
    recall_lo: float | None
    recall_hi: float | None
    fpr: float | None
    fpr_lo: float | None
    fpr_hi: float | None
    labels: int
    undesigned_labels: int
    census: bool
    next_metric: str
    next_band: str
    next_units: int
    interval_width: float
    recommendation: str
    window_start: datetime | None = None
    """The first frame of the slice's estimate and realized figure (``420_...``)."""
    window_end: datetime | None = None
    est_frames: int = 0
    """Frames behind the estimate (``0``: no estimate)."""
    est_windows: int = 0
    """The estimation windows combined into it."""


def capture_span(
    store: ClickHouseStore, since: datetime | None = None
) -> tuple[datetime, datetime] | None:
    """The oldest and newest ``captured_at`` of the frames (from ``since``); ``None`` without
    frames."""
    where = "" if since is None else "WHERE captured_at >= {since:DateTime64(3, 'UTC')}"
    sql = f"SELECT count(), min(captured_at), max(captured_at) FROM linewatch.frames {where}"
    rows = store.query(sql, {} if since is None else {"since": since}).result_rows
    return None if not rows or int(rows[0][0]) == 0 else (rows[0][1], rows[0][2])
