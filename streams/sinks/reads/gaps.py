"""The worst window per slice and image statistic: the share of frames outside the lab's range.

Read by the readiness verdict and report (:func:`reference_gaps`, every statistic of every
slice) and by ``linewatch demo`` (:func:`worst_gap_per_slice`, the worst statistic of each
slice). The caller names the signals judged (the input signals: output signals differ from the
lab by design, the lab set being ~50 % defective and production ~2 %).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

from streams.sinks.clickhouse import ClickHouseStore

__all__ = [
    "GAP_SQL",
    "SLICE_GAP_SQL",
    "SliceGap",
    "SliceId",
    "reference_gaps",
    "worst_gap_per_slice",
]

SliceId = tuple[str, str, str]
"""``(line_id, shift, lighting)``."""

GAP_SQL = """
SELECT line_id, shift, lighting, signal, max_distance
FROM linewatch.v_reference_gap_by_slice
WHERE metric = 'outside_lab_range' AND signal IN {signals:Array(String)}
ORDER BY max_distance DESC, line_id, shift, lighting, signal
"""

SLICE_GAP_SQL = """
SELECT line_id, shift, lighting, max(distance) AS max_gap, argMax(signal, distance) AS gap_signal
FROM linewatch.reference_gap FINAL
WHERE metric = 'outside_lab_range' AND signal IN {signals:Array(String)}
GROUP BY line_id, shift, lighting
"""


class SliceGap(NamedTuple):
    """One slice and statistic's worst window: the share of its frames outside the lab range."""

    line_id: str
    shift: str
    lighting: str
    signal: str
    max_distance: float


def reference_gaps(store: ClickHouseStore, signals: Sequence[str]) -> list[SliceGap]:
    """Every slice and statistic among ``signals``, worst first (ties by slice and signal)."""
    rows = store.query(GAP_SQL, {"signals": list(signals)}).result_rows
    return [SliceGap(str(r[0]), str(r[1]), str(r[2]), str(r[3]), float(r[4])) for r in rows]


def worst_gap_per_slice(
    store: ClickHouseStore, signals: Sequence[str]
) -> dict[SliceId, tuple[float, str]]:
    """Per slice: the largest share outside the lab range among ``signals``, and its signal."""
    rows = store.query(SLICE_GAP_SQL, {"signals": list(signals)}).result_rows
    return {(str(r[0]), str(r[1]), str(r[2])): (float(r[3]), str(r[4])) for r in rows}
