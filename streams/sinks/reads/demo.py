"""What ``linewatch demo`` prints per slice, per line and per cause, read from the store."""

from __future__ import annotations

from typing import NamedTuple

from streams.sinks.clickhouse import ClickHouseStore
from streams.sinks.reads.gaps import SliceId

__all__ = [
    "CAUSES_SQL",
    "CLASS_BY_LINE_SQL",
    "DRIFT_BY_SCOPE_SQL",
    "FOLLOW_UP_QUERY",
    "REALIZED_RECALL_SQL",
    "SLICE_FRAMES_SQL",
    "CauseAlarms",
    "ClassCounts",
    "ScopeAlarms",
    "alarms_by_cause",
    "alarms_by_scope",
    "class_counts_by_line",
    "frames_per_slice",
    "realized_recall",
]

SLICE_FRAMES_SQL = """
SELECT line_id, shift, lighting, count() AS frames
FROM linewatch.frames FINAL GROUP BY line_id, shift, lighting ORDER BY line_id, shift, lighting
"""

DRIFT_BY_SCOPE_SQL = """
SELECT line_id, shift, lighting, signal, count() AS n
FROM linewatch.drift_events FINAL GROUP BY line_id, shift, lighting, signal
ORDER BY line_id, shift, lighting, n DESC, signal
"""

CLASS_BY_LINE_SQL = """
SELECT line_id, class_name, sum(objects), sum(missed), sum(frames_passed)
FROM linewatch.v_class_slice_counts GROUP BY line_id, class_name ORDER BY line_id, class_name
"""

REALIZED_RECALL_SQL = """
SELECT line_id, shift, lighting, sum(tp), sum(tp) + sum(fn)
FROM linewatch.v_slice_metrics GROUP BY line_id, shift, lighting
"""

CAUSES_SQL = """
SELECT cause, count(), groupUniqArray(signal)
FROM linewatch.drift_events FINAL GROUP BY cause ORDER BY count() DESC
"""

FOLLOW_UP_QUERY = (
    "SELECT line_id, shift, lighting, count() AS frames, sum(predicted_defective) AS flagged "
    "FROM linewatch.frames FINAL GROUP BY line_id, shift, lighting "
    "ORDER BY line_id, shift, lighting"
)
"""The query the demo prints for ``linewatch query`` at its end (frames and flags per slice)."""


class ScopeAlarms(NamedTuple):
    """Drift alarms of one signal filed for one scope (``shift``/``lighting`` may be ``*``)."""

    line_id: str
    shift: str
    lighting: str
    signal: str
    alarms: int


class ClassCounts(NamedTuple):
    """One defect class on one line, from the labelled frames."""

    line_id: str
    class_name: str
    objects: int
    missed: int
    passed: int
    """Units with that defect that passed unflagged."""


class CauseAlarms(NamedTuple):
    """The drift alarms of one cause and the signals that raised them."""

    cause: str
    alarms: int
    signals: list[str]


def frames_per_slice(store: ClickHouseStore) -> dict[SliceId, int]:
    """Frames per ``(line, shift, lighting)``, in slice order."""
    rows = store.query(SLICE_FRAMES_SQL).result_rows
    return {(str(r[0]), str(r[1]), str(r[2])): int(r[3]) for r in rows}


def alarms_by_scope(store: ClickHouseStore) -> list[ScopeAlarms]:
    """Drift alarms per scope and signal (most alarms first within a scope)."""
    rows = store.query(DRIFT_BY_SCOPE_SQL).result_rows
    return [ScopeAlarms(str(r[0]), str(r[1]), str(r[2]), str(r[3]), int(r[4])) for r in rows]


def class_counts_by_line(store: ClickHouseStore) -> list[ClassCounts]:
    """Labelled defects per line and class, in line and class order."""
    rows = store.query(CLASS_BY_LINE_SQL).result_rows
    return [ClassCounts(str(r[0]), str(r[1]), int(r[2]), int(r[3]), int(r[4])) for r in rows]


def realized_recall(store: ClickHouseStore) -> dict[SliceId, tuple[int, int]]:
    """Per labelled slice: defective units flagged and defective units labelled."""
    rows = store.query(REALIZED_RECALL_SQL).result_rows
    return {(str(r[0]), str(r[1]), str(r[2])): (int(r[3]), int(r[4])) for r in rows}


def alarms_by_cause(store: ClickHouseStore) -> list[CauseAlarms]:
    """Drift alarms per cause, most first, with the signals that raised them."""
    rows = store.query(CAUSES_SQL).result_rows
    return [CauseAlarms(str(r[0]), int(r[1]), [str(s) for s in r[2]]) for r in rows]
