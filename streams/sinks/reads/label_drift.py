"""What the label-driven drift detectors (:mod:`streams.readiness.label_drift`) replay: every
reconciled production unit at one threshold, in capture order."""

from __future__ import annotations

from typing import Any

from streams.sinks.clickhouse import ClickHouseStore

__all__ = ["OUTCOMES_SQL", "production_outcomes"]

OUTCOMES_SQL = """
SELECT event_id, line_id, shift, lighting, captured_at, gt_defective, pred_defective,
       gt_matched, gt_classes
FROM linewatch.v_frame_outcomes
WHERE threshold = {threshold:Float64} AND split = 'production'
ORDER BY captured_at, event_id
"""


def production_outcomes(store: ClickHouseStore, threshold: float) -> list[tuple[Any, ...]]:
    """``(event_id, line_id, shift, lighting, captured_at, gt_defective, pred_defective,
    gt_matched, gt_classes)`` of each reconciled production unit at ``threshold``, oldest
    first (ties by event id)."""
    return store.query(OUTCOMES_SQL, {"threshold": threshold}).result_rows
