"""Audits against the store: design-weighted slice rates and audit plans (issue 21).

:func:`design_estimates` reads frames per slice x band and every labelled outcome with its design
(:mod:`streams.sinks.audits`) and weights the labels (:mod:`.design`). :func:`plan_audit`
chooses units to review (:mod:`.audit_plan`) and stores them with their inclusion probabilities
(table ``audit_units``); a label that comes back for one of them without its own ``audit`` is
weighted by the plan's probability.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from schemas.records import stable_id
from streams.config import Settings
from streams.errors import ConfigError
from streams.readiness.audit_plan import (
    Budget,
    Selected,
    Stratum,
    neyman_allocation,
    prior_defect_rates,
    select_units,
)
from streams.readiness.design import (
    BANDS,
    DesignLabel,
    SliceDesign,
    estimate_slices,
    resolve_designs,
)
from streams.readiness.score_plan import score_choice
from streams.sinks import ClickHouseStore
from streams.sinks.audits import (
    AuditUnitRecord,
    PlanFrame,
    band_counts,
    design_outcomes,
    plan_frames,
    planned_until,
)

__all__ = ["SLICE_COLUMNS", "AuditPlan", "design_estimates", "plan_audit"]

SLICE_COLUMNS = ("line_id", "shift", "lighting")


_Population = dict[tuple[tuple[str, str, str], str], int]


def _read(
    store: ClickHouseStore, threshold: float, review_low: float
) -> tuple[_Population, list[DesignLabel]]:
    """Frames per (line, shift, lighting) x band and every labelled frame, at the finest grain."""
    population: _Population = {
        ((line, shift, lighting), band): n
        for (line, shift, lighting, band), n in band_counts(store, threshold, review_low).items()
    }
    labels = [
        DesignLabel((o.line_id, o.shift, o.lighting), o.band, o.outcome, o.inclusion_probability)
        for o in design_outcomes(store, threshold, review_low)
    ]
    return population, labels


def _grouped(
    population: _Population, labels: list[DesignLabel], by: Sequence[str]
) -> tuple[dict[tuple[tuple[str, ...], str], int], list[DesignLabel]]:
    """The same, grouped by the columns ``by`` (a subset of :data:`SLICE_COLUMNS`)."""
    idx = [SLICE_COLUMNS.index(c) for c in by]
    pop: dict[tuple[tuple[str, ...], str], int] = defaultdict(int)
    for (key, band), n in population.items():
        pop[(tuple(key[i] for i in idx), band)] += n
    grouped = [
        DesignLabel(tuple(x.slice[i] for i in idx), x.band, x.outcome, x.inclusion_probability)
        for x in labels
    ]
    return dict(pop), grouped


def design_estimates(
    store: ClickHouseStore,
    settings: Settings,
    threshold: float,
    groupings: Sequence[Sequence[str]] = (SLICE_COLUMNS,),
    *,
    draws: int = 2000,
) -> list[dict[tuple[str, ...], SliceDesign]]:
    """Design-weighted FNR / FPR per group, for each grouping (columns of
    :data:`SLICE_COLUMNS`; ``()``: overall), keyed by the group's values; one read of the store."""
    for by in groupings:
        unknown = [c for c in by if c not in SLICE_COLUMNS]
        if unknown:
            raise ConfigError(f"design estimates group by {SLICE_COLUMNS}, not {unknown}")
    population, labels = _read(store, threshold, settings.inference.review_band[0])
    return [estimate_slices(*_grouped(population, labels, by), draws=draws) for by in groupings]


@dataclass(frozen=True)
class AuditPlan:
    """What ``audit plan`` chose: the units, and per stratum its frames and sample."""

    plan_id: str
    window_start: datetime
    window_end: datetime
    budget: int
    frames: int
    units: list[Selected] = field(default_factory=list)
    strata: list[tuple[Stratum, int]] = field(default_factory=list)
    method: str = "band"
    """``score``: per-unit probabilities from the lab calibration; ``band``: per stratum."""

    def _probability(self, stratum: Stratum, sample: int) -> float | None:
        """A band stratum's probability; a score plan's mean over the stratum's chosen units."""
        if self.method == "band":
            return sample / stratum.frames if stratum.frames else None
        mine = [u.inclusion_probability for u in self.units if u.stratum == stratum]
        return sum(mine) / len(mine) if mine else None

    def summary(self) -> dict[str, Any]:
        return {
            "plan_id": self.plan_id,
            "window_start": self.window_start.isoformat(),
            "window_end": self.window_end.isoformat(),
            "frames": self.frames,
            "budget": self.budget,
            "method": self.method,
            "selected": len(self.units),
            "strata": [
                {
                    "line_id": s.slice[0],
                    "shift": s.slice[1],
                    "lighting": s.slice[2],
                    "band": s.band,
                    "frames": s.frames,
                    "sample": n,
                    "inclusion_probability": self._probability(s, n),
                    "prior_defect_rate": s.defect_rate,
                }
                for s, n in self.strata
            ],
        }


def _window(
    store: ClickHouseStore, since: datetime | None, until: datetime | None
) -> tuple[datetime | None, datetime | None]:
    """``since`` defaults to where the latest plan ended; a plan may not start before it."""
    last = planned_until(store)
    if since is None:
        return last, until
    if last is not None and since < last:
        raise ConfigError(
            f"frames up to {last.isoformat()} were planned already; plan from there "
            f"(--since {last.isoformat()}) so that no unit has two inclusion probabilities"
        )
    return since, until


def _band_choice(
    store: ClickHouseStore,
    frames: Sequence[PlanFrame],
    n: int,
    threshold: float,
    review_low: float,
    *,
    floor: int,
    seed: int | None,
) -> tuple[list[Selected], list[tuple[Stratum, int]]]:
    """Neyman allocation over slice x band strata with band priors from the designed labels so
    far; uniform within a stratum (:mod:`.audit_plan`): the plan where no lab calibration
    gives each unit a predicted defect probability."""
    population, labels = _read(store, threshold, review_low)
    designed, _undesigned, _every = resolve_designs(
        labels, _grouped(population, [], SLICE_COLUMNS)[0]
    )
    rates = prior_defect_rates(designed)
    groups: dict[tuple[tuple[str, ...], str], list[str]] = defaultdict(list)
    for f in frames:
        groups[((f.line_id, f.shift, f.lighting), f.band)].append(f.event_id)
    keys = sorted(groups, key=lambda k: (k[0], BANDS.index(k[1])))
    strata = [Stratum(k[0], k[1], len(groups[k]), rates[k[1]]) for k in keys]
    allocation = neyman_allocation(strata, n, floor=floor)
    chosen = select_units(groups, strata, allocation, seed=seed)
    return chosen, list(zip(strata, allocation, strict=True))


def plan_audit(
    store: ClickHouseStore,
    settings: Settings,
    threshold: float,
    budget: Budget,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    floor: int = 1,
    seed: int | None = None,
    write: bool = True,
) -> AuditPlan:
    """Choose units to review among the frames captured in ``[since, until)`` and store them.

    ``since`` defaults to where the latest plan ended (plans never overlap, so each unit has one
    inclusion probability), ``until`` to just after the latest frame. With a lab calibration
    (``linewatch assess``) each unit's probability follows its predicted defect probability
    (:func:`.score_plan.score_choice`); without one, slice x band strata are Neyman-allocated
    with band priors from the designed labels so far (:func:`.audit_plan.prior_defect_rates`).
    """
    review_low = settings.inference.review_band[0]
    since, until = _window(store, since, until)
    frames = plan_frames(store, threshold, review_low, since, until)
    if not frames:
        raise ConfigError(
            "no frames to plan in that window: run the pipeline first, or widen --since/--until"
        )
    start = since or min(f.captured_at for f in frames)
    end = until or max(f.captured_at for f in frames) + timedelta(milliseconds=1)
    n = budget.units(len(frames), (end - start).total_seconds() / 86400)
    method = "score"
    found = score_choice(store, frames, n, seed=seed)
    if found is None:
        method = "band"
        found = _band_choice(store, frames, n, threshold, review_low, floor=floor, seed=seed)
    chosen, strata = found
    planned_at = datetime.now(UTC)
    plan_id = stable_id(start.isoformat(), end.isoformat(), planned_at.isoformat())[:16]
    plan = AuditPlan(plan_id, start, end, n, len(frames), chosen, strata, method)
    if write and chosen:
        store.insert(_unit_records(plan, frames, planned_at))
    return plan


def _unit_records(
    plan: AuditPlan, frames: Sequence[PlanFrame], planned_at: datetime
) -> list[AuditUnitRecord]:
    """The ``audit_units`` rows of a plan's chosen units."""
    info = {f.event_id: f for f in frames}
    return [
        AuditUnitRecord(
            plan_id=plan.plan_id,
            event_id=u.event_id,
            line_id=u.stratum.slice[0],
            shift=u.stratum.slice[1],
            lighting=u.stratum.slice[2],
            band=u.stratum.band,
            captured_at=info[u.event_id].captured_at,
            max_confidence=info[u.event_id].max_confidence,
            stratum_frames=u.stratum.frames,
            stratum_sample=u.sample,
            inclusion_probability=u.inclusion_probability,
            window_start=plan.window_start,
            window_end=plan.window_end,
            planned_at=planned_at,
        )
        for u in plan.units
    ]
