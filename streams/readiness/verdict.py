"""The readiness verdict: each criterion of ``settings.readiness`` is pass, fail or no data.

A criterion passes on its point estimate; ``certain`` says whether the 95 % interval lies on
the same side of the limit (a pass on 20 frames is a weak pass). A defect class the model was
never trained on, once labelled in production, is a blind spot: it fails (every box of it is a
miss, whatever share of its units were flagged as another class) and shows as ``blind spot``.
The terminal table of a verdict is drawn by :func:`streams.cli.tables.verdict_table`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from streams.config import ReadinessCriteria, Settings
from streams.drift.signals import INPUT_SIGNALS
from streams.readiness.metrics import (
    ClassMetrics,
    LatencyMetrics,
    ReadinessMetrics,
    compute_metrics,
)
from streams.readiness.proportion import Proportion
from streams.sinks import ClickHouseStore
from streams.sinks.reads.gaps import SliceGap, reference_gaps

__all__ = [
    "Criterion",
    "ReadinessVerdict",
    "Status",
    "compute_verdict",
    "verdict_from_metrics",
]

Status = Literal["pass", "fail", "no data"]


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
    blind_spot: bool = False
    """A defect class the model was never trained on, seen in production: it fails whatever
    the unit-level figures say, and the report shows it with its own status."""

    @property
    def shown_status(self) -> str:
        """The status a reader sees: ``blind spot`` for one, else :attr:`status`."""
        return "blind spot" if self.blind_spot else self.status

    def as_dict(self) -> dict[str, Any]:
        return {**self.__dict__, "shown_status": self.shown_status}


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


def _blind_spot(c: ClassMetrics) -> Criterion:
    """A class outside the model's classes: it can never be found as itself, so it is judged by
    its labelled boxes (every one a miss), never by the units flagged as something else.

    >>> from streams.readiness.proportion import Proportion
    >>> crit = _blind_spot(ClassMetrics("crack", False, Proportion(4, 4), Proportion(0, 4)))
    >>> crit.status, crit.shown_status, crit.measured
    ('fail', 'blind spot', '4 of 4 boxes missed')
    >>> print(crit.detail)  # doctest: +NORMALIZE_WHITESPACE
    never trained: 4 of 4 units flagged anyway, as another class (unit FNR 0.0% [0.0–49.0]
    n=4); retrain with crack or accept it as any defect
    """
    name = f"blind spot: {c.class_name} (never trained)"
    if c.fnr.n == 0:
        return Criterion(
            name, "no data", "no data", "a class of the model", how_to_fill=LABELS_HINT
        )
    flagged = c.unit_fnr.n - c.unit_fnr.k
    return Criterion(
        name,
        "fail",
        f"{c.fnr.k} of {c.fnr.n} boxes missed",
        "a class of the model",
        detail=(
            f"never trained: {flagged} of {c.unit_fnr.n} units flagged anyway, as another class "
            f"(unit FNR {c.unit_fnr.fmt()}); retrain with {c.class_name} or accept it as any "
            "defect"
        ),
        blind_spot=True,
    )


LABELS_HINT = (
    "run `linewatch run --source … --labels labels.jsonl` (or `linewatch demo`) "
    "to store labelled production frames"
)


def _latency_criterion(lat: LatencyMetrics, crit: ReadinessCriteria) -> Criterion:
    """p99 latency of one line against its takt."""
    name = f"p99 latency {lat.line_id} / takt"
    limit = f"≤ {crit.max_p99_latency_takt_ratio:.0%} of takt"
    ratio = lat.p99_takt_ratio
    if ratio is None:
        hint = (
            f"add {lat.line_id} to LINEWATCH_PLANT__LINES with its takt"
            if lat.takt_ms is None and lat.frames
            else f"run production frames of {lat.line_id} through `linewatch run`"
        )
        return Criterion(name, "no data", "no data", limit, how_to_fill=hint)
    ok = ratio <= crit.max_p99_latency_takt_ratio
    return Criterion(
        name,
        "pass" if ok else "fail",
        f"{ratio:.0%} ({lat.p99_ms:.0f} of {lat.takt_ms:.0f} ms, n={lat.frames})",
        limit,
    )


def _gap_criterion(gaps: Sequence[SliceGap], crit: ReadinessCriteria) -> Criterion:
    """The worst slice's share of frames outside the lab's conditions (``gaps``: worst first)."""
    gap_name = "frames outside lab conditions, worst slice × image statistic"
    gap_limit = f"≤ {crit.max_reference_gap:.0%}"
    if not gaps:
        return Criterion(
            gap_name,
            "no data",
            "no data",
            gap_limit,
            how_to_fill="run production frames through `linewatch run` with a lab "
            "reference; a slice reports this every LINEWATCH_DRIFT__GAP_WINDOW_EVENTS "
            "frames (default 200)",
        )
    line, shift, lighting, signal, worst = gaps[0]
    over = sum(1 for g in gaps if g[4] > crit.max_reference_gap)
    return Criterion(
        gap_name,
        "pass" if worst <= crit.max_reference_gap else "fail",
        f"{worst:.0%}",
        gap_limit,
        detail=f"{line}/{shift}/{lighting} {signal}; {over} of {len(gaps)} over the limit",
    )


def verdict_from_metrics(
    m: ReadinessMetrics, settings: Settings, gaps: Sequence[SliceGap]
) -> ReadinessVerdict:
    """The verdict of already computed metrics and reference-gap rows (worst first; only
    input signals, as :func:`compute_verdict` reads them)."""
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
        if not c.trained:
            out.append(_blind_spot(c))
            continue
        out.append(
            _max_rate(
                f"missed units with {c.class_name}",
                c.unit_fnr,
                crit.max_fnr_per_class,
                LABELS_HINT,
                f"box-level FNR {c.fnr.fmt()}",
            )
        )
    out.extend(_latency_criterion(lat, crit) for lat in m.latency)
    out.append(_gap_criterion(gaps, crit))
    return ReadinessVerdict(out)


def compute_verdict(
    store: ClickHouseStore, settings: Settings, metrics: ReadinessMetrics | None = None
) -> ReadinessVerdict:
    """Reconcile, compute the metrics (unless given) and judge them against the criteria."""
    m = metrics or compute_metrics(store, settings)
    # only input signals (image statistics) are judged: output signals differ from the lab by
    # design (the lab set is ~50 % defective, production ~2 %)
    return verdict_from_metrics(m, settings, reference_gaps(store, INPUT_SIGNALS))
