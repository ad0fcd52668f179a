"""``read_report_data(store, settings) -> ReportData``: everything the readiness report shows,
read from the store before any of it is rendered (:func:`streams.report.render.render_data`).

Every read is a typed function of the store package (``streams/sinks/reads/``) or of
``streams/readiness`` (metrics, verdict, review queue); this module writes no SQL.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from streams.config import Settings
from streams.drift.signals import INPUT_SIGNALS
from streams.readiness.metrics import ReadinessMetrics, compute_metrics, review_queue
from streams.readiness.verdict import ReadinessVerdict, verdict_from_metrics
from streams.sinks import ClickHouseStore
from streams.sinks.reads import report as reads
from streams.sinks.reads.gaps import SliceGap, reference_gaps

__all__ = ["REVIEW_ROWS", "ReportData", "read_report_data"]

REVIEW_ROWS = 20
"""Frames of the review queue the report lists."""


@dataclass(frozen=True)
class ReportData:
    """What the report shows, as read from one store at one time."""

    dsn: str
    metrics: ReadinessMetrics
    verdict: ReadinessVerdict
    gaps: list[SliceGap]
    """Every slice and input statistic's worst window, worst first."""
    timeline: list[reads.TimelineRow]
    line_alarms: list[reads.LineAlarms]
    watched: tuple[int, int] | None
    """Frames and slices watched; read only when no drift alarm was raised."""
    causes: list[reads.CauseSummary]
    """Alarms per cause; read only when some drift alarm was raised."""
    confidence_production: list[tuple[float, int]]
    confidence_lab: list[tuple[float, int]]
    robustness: list[dict[str, Any]]
    latency_curves: dict[str, list[float]] | None
    """Latency quantile curves per line; read only when some line has latency figures."""
    review_queue: list[dict[str, Any]]
    """The first :data:`REVIEW_ROWS` frames of the review queue (unlabelled first)."""
    review_band: reads.ReviewBand


def read_report_data(
    store: ClickHouseStore,
    settings: Settings,
    *,
    metrics: ReadinessMetrics | None = None,
    verdict: ReadinessVerdict | None = None,
) -> ReportData:
    """Read the report's data (reconciling pending labels first unless ``metrics`` is given;
    the verdict judged from the metrics unless given)."""
    m = metrics or compute_metrics(store, settings)
    gaps = reference_gaps(store, INPUT_SIGNALS)
    v = verdict or verdict_from_metrics(m, settings, gaps)
    timeline = reads.drift_timeline(store)
    line_alarms = reads.line_alarms(store)
    lo, hi = m.review_band
    return ReportData(
        dsn=store.dsn,
        metrics=m,
        verdict=v,
        gaps=gaps,
        timeline=timeline,
        line_alarms=line_alarms,
        watched=None if timeline else reads.watched(store),
        causes=reads.cause_summary(store) if timeline else [],
        confidence_production=reads.confidence_histogram(store, "production"),
        confidence_lab=reads.confidence_histogram(store, "lab"),
        robustness=reads.robustness(store),
        latency_curves=(
            reads.latency_curves(store) if any(lat.frames for lat in m.latency) else None
        ),
        review_queue=review_queue(store, settings, limit=REVIEW_ROWS),
        review_band=reads.review_band(store, lo, hi),
    )
