"""What ``linewatch estimate`` and the readiness estimates read (:mod:`streams.estimation`): the
latest assessment's labelled lab frames, lab set and lab recall counts, the audited production
units per slice, every production frame's top confidence and image statistics, and the alarms
that moved with an estimated-recall drop.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import NamedTuple

from streams.estimation.shift import SHIFT_FEATURES
from streams.sinks.clickhouse import ClickHouseStore

__all__ = [
    "AUDIT_SQL",
    "CO_MOVING_SQL",
    "FRAMES_SQL",
    "LAB_NAME_SQL",
    "LAB_RECALL_SQL",
    "LAB_SQL",
    "LabFrame",
    "ProductionFrame",
    "SliceAudit",
    "co_moving_signals",
    "lab_frames",
    "lab_recall_counts",
    "latest_lab_set",
    "production_frames",
    "slice_audits",
]

LAB_SQL = f"""
SELECT corruption = 'clean', max_confidence, gt_defective, gt_classes, {", ".join(SHIFT_FEATURES)}
FROM linewatch.lab_eval FINAL
WHERE run_id IN (SELECT run_id FROM linewatch.v_latest_assessment WHERE suite = 'corruptions')
  AND corruption NOT IN (
      SELECT corruption FROM linewatch.corruption_results FINAL WHERE kind = 'novel')
  AND corruption NOT IN {{excluded:Array(String)}}
ORDER BY corruption, severity, frame_index
"""
LAB_RECALL_SQL = "SELECT tp, defective FROM linewatch.v_lab_rates"
LAB_NAME_SQL = """
SELECT lab_set FROM linewatch.assessment_runs FINAL
WHERE run_id IN (SELECT run_id FROM linewatch.v_latest_assessment WHERE suite = 'corruptions')
"""
AUDIT_SQL = """
SELECT line_id, shift, lighting, count() AS units, sum(gt_defective) AS defective
FROM linewatch.v_frame_outcomes
WHERE split = 'production'
GROUP BY line_id, shift, lighting
"""
FRAMES_SQL = f"""
SELECT line_id, shift, lighting, captured_at, event_id, max_confidence, model_version,
       {", ".join(SHIFT_FEATURES)}
FROM linewatch.frames FINAL
ORDER BY line_id, shift, lighting, captured_at, event_id
"""
CO_MOVING_SQL = """
SELECT DISTINCT signal FROM linewatch.drift_events
WHERE line_id = {line:String} AND shift = {shift:String} AND signal != {own:String}
  AND detected_at BETWEEN {start:DateTime64(3)} AND {end:DateTime64(3)}
"""


class LabFrame(NamedTuple):
    """One labelled lab frame of the latest corruption-suite run."""

    clean: bool
    """Whether it is of the clean condition (else of a corruption)."""
    max_confidence: float
    gt_defective: int
    gt_classes: tuple[str, ...]
    stats: tuple[float, ...] | None
    """Its image statistics in :data:`~streams.estimation.shift.SHIFT_FEATURES` order;
    ``None`` where the assessment stored none (one made before lab frames carried them)."""


class SliceAudit(NamedTuple):
    """The audited (reconciled) production units of one slice."""

    line_id: str
    shift: str
    lighting: str
    units: int
    defective: int


class ProductionFrame(NamedTuple):
    """One production frame's slice, capture time, top confidence and image statistics."""

    line_id: str
    shift: str
    lighting: str
    captured_at: datetime
    """Aware (UTC where the store returned it naive)."""
    event_id: str
    max_confidence: float
    model_version: str
    stats: tuple[float, ...]
    """In :data:`~streams.estimation.shift.SHIFT_FEATURES` order."""


def lab_frames(store: ClickHouseStore, excluded: Sequence[str]) -> list[LabFrame]:
    """The labelled lab frames of the latest corruption-suite run, the novel inputs and the
    corruptions ``excluded`` left out, by corruption, severity and frame index."""
    rows = store.query(LAB_SQL, {"excluded": list(excluded)}).result_rows
    return [
        LabFrame(
            bool(r[0]),
            float(r[1]),
            int(r[2]),
            tuple(str(c) for c in r[3]),
            None if any(v is None for v in r[4:]) else tuple(float(v) for v in r[4:]),
        )
        for r in rows
    ]


def latest_lab_set(store: ClickHouseStore) -> str | None:
    """The lab set of the latest corruption-suite assessment (``""``: the simulated lab;
    ``None``: no assessment yet)."""
    rows = store.query(LAB_NAME_SQL).result_rows
    return str(rows[0][0]) if rows else None


def lab_recall_counts(store: ClickHouseStore) -> tuple[float, float] | None:
    """``(true positives, defective frames)`` of the lab split at the latest assessment's
    threshold; ``None`` with no assessment."""
    rows = store.query(LAB_RECALL_SQL).result_rows
    if not rows:
        return None
    tp, defective = rows[0]
    return float(tp or 0), float(defective or 0)


def slice_audits(store: ClickHouseStore) -> list[SliceAudit]:
    """The audited production units and their defective count, per slice."""
    return [
        SliceAudit(str(r[0]), str(r[1]), str(r[2]), int(r[3]), int(r[4]))
        for r in store.query(AUDIT_SQL).result_rows
    ]


def production_frames(store: ClickHouseStore) -> list[ProductionFrame]:
    """Every production frame, by line, shift, lighting, capture time and event id."""
    out = []
    for r in store.query(FRAMES_SQL).result_rows:
        at = r[3]
        out.append(
            ProductionFrame(
                str(r[0]),
                str(r[1]),
                str(r[2]),
                at if at.tzinfo else at.replace(tzinfo=UTC),
                str(r[4]),
                float(r[5]),
                str(r[6]),
                tuple(float(v) for v in r[7:]),
            )
        )
    return out


def co_moving_signals(
    store: ClickHouseStore, line_id: str, shift: str, own: str, *, start: datetime, end: datetime
) -> set[str]:
    """The signals other than ``own`` of the drift events of ``line_id`` and ``shift`` detected
    from ``start`` to ``end`` (both included)."""
    rows = store.query(
        CO_MOVING_SQL,
        {"line": line_id, "shift": shift, "own": own, "start": start, "end": end},
    ).result_rows
    return {str(r[0]) for r in rows}
