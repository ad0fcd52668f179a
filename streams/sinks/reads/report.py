"""What the readiness report reads beyond the metrics and the verdict: drift alarms per hour,
per cause and per line, what is watched, confidence histograms, corruption robustness, latency
quantile curves and the review band's counts."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal, NamedTuple

from streams.sinks.clickhouse import ClickHouseStore

__all__ = [
    "BUDGET_SQL",
    "CAUSE_SQL",
    "IN_BAND_SQL",
    "ROBUSTNESS_SQL",
    "TIMELINE_SQL",
    "WATCHED_SQL",
    "CauseSummary",
    "LineAlarms",
    "ReviewBand",
    "TimelineRow",
    "cause_summary",
    "confidence_histogram",
    "drift_timeline",
    "latency_curves",
    "line_alarms",
    "review_band",
    "robustness",
    "watched",
]

TIMELINE_SQL = (
    "SELECT line_id, shift, lighting, signal, hour, alarms "
    "FROM linewatch.v_drift_timeline ORDER BY hour"
)

CAUSE_SQL = (
    "SELECT cause, count() AS alarms, uniqExact(line_id, shift, lighting) AS slices, "
    "argMax(evidence, detected_at) FROM linewatch.drift_events FINAL "
    "GROUP BY cause ORDER BY alarms DESC"
)

# frames counted exactly (FINAL); the slices from the hourly rollup (one row per slice and hour,
# docs/storage.md) instead of a scan of every frame
WATCHED_SQL = """
SELECT (SELECT count() FROM linewatch.frames FINAL),
       (SELECT uniqExact(line_id, shift, lighting) FROM linewatch.frames_hourly)
"""

BUDGET_SQL = """
SELECT f.line_id, f.frames, f.seconds, ifNull(d.alarms, 0), ifNull(d.label_alarms, 0)
FROM (
    SELECT line_id, count() AS frames,
           dateDiff('millisecond', min(captured_at), max(captured_at)) / 1000.0 AS seconds
    FROM linewatch.frames FINAL GROUP BY line_id
) AS f
LEFT JOIN (
    SELECT line_id, countIf(signal NOT IN ('fnr', 'fpr')) AS alarms,
           countIf(signal IN ('fnr', 'fpr')) AS label_alarms
    FROM linewatch.drift_events FINAL GROUP BY line_id
) AS d ON d.line_id = f.line_id
ORDER BY f.line_id
"""

HISTOGRAM_SQL = {
    "production": "SELECT bin, frames FROM linewatch.v_confidence_hist_production",
    "lab": "SELECT bin, frames FROM linewatch.v_confidence_hist_lab",
}

ROBUSTNESS_SQL = (
    "SELECT * FROM linewatch.v_corruption_robustness "
    "ORDER BY kind = 'novel', kind != 'clean', corruption, severity"
)

LATENCY_QUANTILES = ", ".join(f"{q / 100:.2f}" for q in range(101))
"""0.00, 0.01, …, 1.00: the points of each line's latency curve."""

LATENCY_SQL = (
    f"SELECT line_id, quantiles({LATENCY_QUANTILES})(latency_ms) "
    "FROM linewatch.frames FINAL GROUP BY line_id"
)

IN_BAND_SQL = """
SELECT (SELECT count() FROM linewatch.frames FINAL), count(), countIf(labelled)
FROM linewatch.v_review_queue(review_low = {lo:Float64}, review_high = {hi:Float64})
"""


class TimelineRow(NamedTuple):
    """Drift alarms of one slice and signal in one hour."""

    line_id: str
    shift: str
    lighting: str
    signal: str
    hour: dt.datetime
    alarms: int


class CauseSummary(NamedTuple):
    """The drift alarms of one cause: how many, over how many slices, the latest evidence."""

    cause: str
    alarms: int
    slices: int
    evidence: str


class LineAlarms(NamedTuple):
    """One line's frames, the seconds they span, and its drift alarms (label alarms apart)."""

    line_id: str
    frames: int
    seconds: float
    alarms: int
    label_alarms: int


class ReviewBand(NamedTuple):
    """All production frames, those in the review band, and those of the band labelled."""

    frames: int
    in_band: int
    labelled: int


def drift_timeline(store: ClickHouseStore) -> list[TimelineRow]:
    """Drift alarms per slice, signal and hour, oldest hour first."""
    rows = store.query(TIMELINE_SQL).result_rows
    return [TimelineRow(str(a), str(b), str(c), str(d), h, int(n)) for a, b, c, d, h, n in rows]


def cause_summary(store: ClickHouseStore) -> list[CauseSummary]:
    """Drift alarms per cause, most first."""
    rows = store.query(CAUSE_SQL).result_rows
    return [CauseSummary(str(c), int(n), int(k), str(e)) for c, n, k, e in rows]


def watched(store: ClickHouseStore) -> tuple[int, int]:
    """Production frames stored and slices (line × shift × lighting) seen."""
    frames, slices = store.query(WATCHED_SQL).result_rows[0]
    return int(frames), int(slices)


def line_alarms(store: ClickHouseStore) -> list[LineAlarms]:
    """Per line with frames, in line order: frames, seconds spanned, drift alarms."""
    rows = store.query(BUDGET_SQL).result_rows
    return [LineAlarms(str(r[0]), int(r[1]), float(r[2]), int(r[3]), int(r[4])) for r in rows]


def confidence_histogram(
    store: ClickHouseStore, kind: Literal["production", "lab"]
) -> list[tuple[float, int]]:
    """Frames per top-confidence bin (0.05 wide) of production or of the latest lab run."""
    return [(float(b), int(n)) for b, n in store.query(HISTOGRAM_SQL[kind]).result_rows]


def robustness(store: ClickHouseStore) -> list[dict[str, Any]]:
    """The latest corruption run per condition (clean, each corruption and severity, novel
    inputs), by column name of ``v_corruption_robustness``."""
    res = store.query(ROBUSTNESS_SQL)
    return [dict(zip(res.column_names, r, strict=True)) for r in res.result_rows]


def latency_curves(store: ClickHouseStore) -> dict[str, list[float]]:
    """Per line: end-to-end latency (ms) at the quantiles 0.00, 0.01, …, 1.00."""
    rows = store.query(LATENCY_SQL).result_rows
    return {str(line): [float(v) for v in values] for line, values in rows}


def review_band(store: ClickHouseStore, lo: float, hi: float) -> ReviewBand:
    """Frames stored, and of those in the review band ``[lo, hi]`` how many and how many are
    labelled."""
    frames, in_band, labelled = store.query(IN_BAND_SQL, {"lo": lo, "hi": hi}).result_rows[0]
    return ReviewBand(int(frames), int(in_band), int(labelled))
