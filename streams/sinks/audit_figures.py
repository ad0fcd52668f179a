"""The ``audit_figures`` table (``300_audit_figures.sql``): per slice and ``linewatch estimate``
run, the label-free estimate beside the realized design-weighted figure and the next audit
(:mod:`streams.readiness.slice_audits` builds the rows; Grafana reads them)."""

from __future__ import annotations

from datetime import datetime

from schemas.records import StoreRecord

__all__ = ["AuditFigureRecord"]


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
