"""The frames the difference estimator needs (:mod:`streams.readiness.design_difference`),
aggregated in the store: per slice, score band and step of the lab calibration, how many
frames. The calibration is a step function of the top confidence, so every frame of a step has
the same predicted defect probability: the estimator's sums (``sum p`` per slice x band, the
cell sizes) and EM's prevalence follow from these counts exactly, and no frame's score is read
into Python (one row per slice x band x step, whatever the number of frames).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import NamedTuple

from streams.sinks.clickhouse import ClickHouseStore

__all__ = ["StepCount", "score_step_counts"]

STEP_COUNTS_SQL = """
SELECT line_id, shift, lighting,
       multiIf(max_confidence >= {threshold:Float64}, 'flagged',
               max_confidence >= {review_low:Float64}, 'uncertain', 'passed') AS band,
       greatest(0, least(length({knots:Array(Float64)}) - 1,
                toInt64(arrayCount(k -> k <= max_confidence, {knots:Array(Float64)})) - 1)) AS step,
       count() AS frames
FROM linewatch.frames FINAL
WHERE {since_set:UInt8} = 0 OR captured_at >= {since:DateTime64(3, 'UTC')}
GROUP BY line_id, shift, lighting, band, step
ORDER BY line_id, shift, lighting, band, step
"""
"""The band as :data:`streams.sinks.audits` computes it; the step as
``IsotonicCalibration.predict`` finds it (``searchsorted(knots, score, "right") - 1``, clipped
to the steps)."""


class StepCount(NamedTuple):
    """Frames of one slice x band x calibration step."""

    line_id: str
    shift: str
    lighting: str
    band: str
    step: int
    frames: int


def score_step_counts(
    store: ClickHouseStore,
    threshold: float,
    review_low: float,
    knots: Sequence[float],
    *,
    since: datetime | None = None,
) -> list[StepCount]:
    """Every stored frame (``FINAL``; captured from ``since``) counted per slice, band and
    calibration step (the worker's audits count their reference the same way)."""
    params = {
        "threshold": threshold,
        "review_low": review_low,
        "knots": [float(k) for k in knots],
        "since_set": int(since is not None),
        "since": since or datetime(1970, 1, 1, tzinfo=UTC),
    }
    rows = store.query(STEP_COUNTS_SQL, params).result_rows
    return [StepCount(str(a), str(b), str(c), str(d), int(e), int(f)) for a, b, c, d, e, f in rows]
