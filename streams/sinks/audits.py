"""Store reads and writes of audit designs (issue 21): frames per slice x score band, labelled
outcomes with how each unit was chosen, and the units of ``linewatch audit plan``.

A frame's band is ``flagged`` (top confidence >= threshold), ``uncertain`` (>= the review band's
low end) or ``passed`` (:func:`streams.readiness.design.score_band`, computed here in SQL).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from schemas.records import StoreRecord
from streams.sinks.clickhouse import ClickHouseStore

__all__ = [
    "AuditUnitRecord",
    "DesignOutcome",
    "PlanFrame",
    "band_counts",
    "design_outcomes",
    "frame_scores",
    "plan_frames",
    "planned_until",
]

_BAND = (
    "multiIf(max_confidence >= {threshold:Float64}, 'flagged', "
    "max_confidence >= {review_low:Float64}, 'uncertain', 'passed')"
)


class AuditUnitRecord(StoreRecord):
    """One unit chosen by an audit plan (table ``audit_units``, ``141_audit_units.sql``)."""

    __table__ = "audit_units"
    __key__ = ("event_id", "plan_id")

    plan_id: str
    event_id: str
    line_id: str
    shift: str
    lighting: str
    band: str
    captured_at: datetime
    max_confidence: float
    stratum_frames: int
    stratum_sample: int
    inclusion_probability: float
    window_start: datetime
    window_end: datetime
    planned_at: datetime


@dataclass(frozen=True)
class DesignOutcome:
    """A labelled frame's slice, band, outcome, and how it was chosen (``policy`` /
    ``inclusion_probability``: the label's own ``audit``, else the plan that chose it; ``""`` /
    ``0`` where neither says)."""

    line_id: str
    shift: str
    lighting: str
    band: str
    outcome: str
    policy: str
    inclusion_probability: float
    max_confidence: float = 0.0
    """The frame's top confidence (what a score-based plan chose it by)."""
    event_id: str = ""
    """The labelled frame's event (which estimation window it falls in)."""


@dataclass(frozen=True)
class PlanFrame:
    """A frame a plan may choose."""

    event_id: str
    line_id: str
    shift: str
    lighting: str
    band: str
    captured_at: datetime
    max_confidence: float


def band_counts(
    store: ClickHouseStore, threshold: float, review_low: float
) -> dict[tuple[str, str, str, str], int]:
    """``(line_id, shift, lighting, band) -> frames`` over every stored frame (``FINAL``, as
    ``v_label_coverage`` counts them)."""
    sql = (
        f"SELECT line_id, shift, lighting, {_BAND} AS band, count() "
        "FROM linewatch.frames FINAL GROUP BY line_id, shift, lighting, band"
    )
    rows = store.query(sql, {"threshold": threshold, "review_low": review_low}).result_rows
    return {(str(r[0]), str(r[1]), str(r[2]), str(r[3])): int(r[4]) for r in rows}


DESIGN_SQL = f"""
SELECT o.line_id, o.shift, o.lighting, {_BAND.replace("max_confidence", "o.max_confidence")},
       o.outcome,
       if(l.inclusion_probability > 0, l.audit_policy,
          if(u.inclusion_probability > 0, concat('plan:', u.plan_id), '')) AS policy,
       if(l.inclusion_probability > 0, l.inclusion_probability,
          if(u.inclusion_probability > 0, u.inclusion_probability, 0.)) AS p,
       o.max_confidence, o.event_id
FROM linewatch.v_frame_outcomes AS o
LEFT JOIN (
    SELECT label_id, audit_policy, inclusion_probability FROM linewatch.labels FINAL
) AS l ON l.label_id = o.label_id
LEFT JOIN (
    SELECT event_id, argMax(plan_id, planned_at) AS plan_id,
           argMax(inclusion_probability, planned_at) AS inclusion_probability
    FROM linewatch.audit_units GROUP BY event_id
) AS u ON u.event_id = o.event_id
SETTINGS join_use_nulls = 0
"""


def design_outcomes(
    store: ClickHouseStore, threshold: float, review_low: float
) -> list[DesignOutcome]:
    """Every reconciled labelled frame with its band and design."""
    rows = store.query(DESIGN_SQL, {"threshold": threshold, "review_low": review_low}).result_rows
    return [
        DesignOutcome(str(a), str(b), str(c), str(d), str(e), str(f), float(g), float(h), str(i))
        for a, b, c, d, e, f, g, h, i in rows
    ]


def planned_until(store: ClickHouseStore) -> datetime | None:
    """The end of the latest plan's window (the next plan starts there), if any plan exists."""
    rows = store.query("SELECT count(), max(window_end) FROM linewatch.audit_units").result_rows
    return None if not rows or int(rows[0][0]) == 0 else rows[0][1]


def plan_frames(
    store: ClickHouseStore,
    threshold: float,
    review_low: float,
    since: datetime | None,
    until: datetime | None,
) -> list[PlanFrame]:
    """Frames captured in ``[since, until)`` (either end open when ``None``), one per event."""
    where = ["1"]
    params: dict[str, Any] = {"threshold": threshold, "review_low": review_low}
    if since is not None:
        where.append("captured_at >= {since:DateTime64(3, 'UTC')}")
        params["since"] = since
    if until is not None:
        where.append("captured_at < {until:DateTime64(3, 'UTC')}")
        params["until"] = until
    sql = (
        f"SELECT event_id, line_id, shift, lighting, {_BAND} AS band, captured_at, max_confidence "
        f"FROM linewatch.frames WHERE {' AND '.join(where)} LIMIT 1 BY event_id"
    )
    return [
        PlanFrame(str(r[0]), str(r[1]), str(r[2]), str(r[3]), str(r[4]), r[5], float(r[6]))
        for r in store.query(sql, params).result_rows
    ]


def frame_scores(
    store: ClickHouseStore, threshold: float, review_low: float
) -> list[tuple[str, str, str, str, float]]:
    """``(line_id, shift, lighting, band, max_confidence)`` of every stored frame (``FINAL``)."""
    sql = (
        f"SELECT line_id, shift, lighting, {_BAND} AS band, max_confidence "
        "FROM linewatch.frames FINAL"
    )
    rows = store.query(sql, {"threshold": threshold, "review_low": review_low}).result_rows
    return [(str(r[0]), str(r[1]), str(r[2]), str(r[3]), float(r[4])) for r in rows]
