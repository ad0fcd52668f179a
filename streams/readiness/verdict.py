"""The readiness verdict: each criterion of ``settings.readiness`` is pass, fail or no data.

A criterion passes on its point estimate; ``certain`` says whether the 95 % interval lies on
the same side of the limit (a pass on 20 frames is a weak pass). The terminal table of a verdict
is drawn by :func:`streams.cli.tables.verdict_table`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from streams.config import Settings
from streams.drift.signals import INPUT_SIGNALS
from streams.readiness.metrics import ReadinessMetrics, compute_metrics
from streams.readiness.proportion import Proportion
from streams.sinks import ClickHouseStore

__all__ = [
    "GAP_PARAMETERS",
    "GAP_SQL",
    "Criterion",
    "ReadinessVerdict",
    "Status",
    "compute_verdict",
    "verdict_from_metrics",
]

Status = Literal["pass", "fail", "no data"]

GAP_SQL = """
SELECT line_id, shift, lighting, signal, max_distance
FROM linewatch.v_reference_gap_by_slice
WHERE metric = 'outside_lab_range' AND signal IN {signals:Array(String)}
ORDER BY max_distance DESC, line_id, shift, lighting, signal
"""
"""Worst window per slice and image statistic: the share of frames outside the lab's range.

Only input signals (image statistics) are judged: output signals differ from the lab by design
(the lab set is ~50 % defective, production ~2 %)."""

GAP_PARAMETERS = {"signals": list(INPUT_SIGNALS)}


@dataclass(frozen=True)
class Criterion:
    """One line of the verdict."""

    name: str
    status: Status
    measured: str
    limit: str
    certain: bool = True
    detail: str = ""
    how_to_fill: str = ""

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class ReadinessVerdict:
    """All criteria and the overall status (fail beats no data beats pass)."""

    criteria: list[Criterion] = field(default_factory=list)

    @property
    def status(self) -> Status:
        states = {c.status for c in self.criteria}
        if "fail" in states:
            return "fail"
        if "no data" in states or not states:
            return "no data"
        return "pass"

    @property
    def ready(self) -> bool:
        return self.status == "pass"

    def as_dict(self) -> dict[str, Any]:
        return {"status": self.status, "criteria": [c.as_dict() for c in self.criteria]}

    def __str__(self) -> str:
        lines = [f"readiness verdict: {self.status}"]
        for c in self.criteria:
            lines.append(f"  [{c.status:>7}] {c.name}: {c.measured} (limit {c.limit}) {c.detail}")
        return "\n".join(lines)


def _max_rate(name: str, p: Proportion, limit: float, fill: str, detail: str = "") -> Criterion:
    if p.value is None:
        return Criterion(name, "no data", "no data", f"≤ {limit:.1%}", how_to_fill=fill)
    status: Status = "pass" if p.value <= limit else "fail"
    hi, lo = p.hi or 0.0, p.lo or 0.0
    certain = hi <= limit if status == "pass" else lo > limit
    return Criterion(name, status, p.fmt(), f"≤ {limit:.1%}", certain, detail)


LABELS_HINT = (
    "run `linewatch run --source … --labels labels.jsonl` (or `linewatch demo`) "
    "to store labelled production frames"
)


def verdict_from_metrics(
    m: ReadinessMetrics, settings: Settings, gaps: list[tuple[Any, ...]]
) -> ReadinessVerdict:
    """The verdict of already computed metrics and reference-gap rows (worst first)."""
    crit = settings.readiness
    out = [
        _max_rate(
            f"false-positive rate at threshold {m.threshold:.2f}",
            m.overall.fpr,
            crit.max_fpr,
            LABELS_HINT,
            "good units flagged",
        )
    ]
    for c in m.classes:
        tag = "" if c.trained else " (never trained)"
        out.append(
            _max_rate(
                f"missed units with {c.class_name}{tag}",
                c.unit_fnr,
                crit.max_fnr_per_class,
                LABELS_HINT,
                f"box-level FNR {c.fnr.fmt()}",
            )
        )
    for lat in m.latency:
        name = f"p99 latency {lat.line_id} / takt"
        limit = f"≤ {crit.max_p99_latency_takt_ratio:.0%} of takt"
        ratio = lat.p99_takt_ratio
        if ratio is None:
            hint = (
                f"add {lat.line_id} to LINEWATCH_PLANT__LINES with its takt"
                if lat.takt_ms is None and lat.frames
                else f"run production frames of {lat.line_id} through `linewatch run`"
            )
            out.append(Criterion(name, "no data", "no data", limit, how_to_fill=hint))
            continue
        ok = ratio <= crit.max_p99_latency_takt_ratio
        out.append(
            Criterion(
                name,
                "pass" if ok else "fail",
                f"{ratio:.0%} ({lat.p99_ms:.0f} of {lat.takt_ms:.0f} ms, n={lat.frames})",
                limit,
            )
        )
    gap_name = "frames outside lab conditions, worst slice × image statistic"
    gap_limit = f"≤ {crit.max_reference_gap:.0%}"
    if not gaps:
        out.append(
            Criterion(
                gap_name,
                "no data",
                "no data",
                gap_limit,
                how_to_fill="run production frames through `linewatch run` with a lab reference",
            )
        )
    else:
        line, shift, lighting, signal, worst = gaps[0]
        over = sum(1 for g in gaps if g[4] > crit.max_reference_gap)
        out.append(
            Criterion(
                gap_name,
                "pass" if worst <= crit.max_reference_gap else "fail",
                f"{worst:.0%}",
                gap_limit,
                detail=f"{line}/{shift}/{lighting} {signal}; {over} of {len(gaps)} over the limit",
            )
        )
    return ReadinessVerdict(out)


def compute_verdict(
    store: ClickHouseStore, settings: Settings, metrics: ReadinessMetrics | None = None
) -> ReadinessVerdict:
    """Reconcile, compute the metrics (unless given) and judge them against the criteria."""
    m = metrics or compute_metrics(store, settings)
    gaps = [tuple(r) for r in store.query(GAP_SQL, GAP_PARAMETERS).result_rows]
    return verdict_from_metrics(m, settings, gaps)
