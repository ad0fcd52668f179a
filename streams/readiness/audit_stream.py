"""Audits requested as events stream by (issue 21): the worker decides per unit whether a person
should review it, with the per-unit inclusion probability ``linewatch audit plan`` would give
it, publishes the request (topic ``audit-requests``) and stores the probability, so that the
label, when it comes back, is weighted by design.

A plan draws from a window of frames it sees whole; a stream sees one unit at a time. So the
population a plan would share the budget over is taken from the store: the frames of the last
``history_h`` hours (the *reference*). With a lab calibration (``linewatch assess``) the unit's
size is the score plan's (:func:`.score_design.plan_sizes`: ``sqrt(p (1 - p))`` times its
slice's spread for a flagged or a passed unit, ``p`` the calibration moved to its slice's
label-free prevalence), and its probability is the one the score plan gives it over the
reference at the daily budget

    pi = clip(t * a, LEAST_SHARE * n_day / N_day, 1)

with ``t`` the plan's scale over the reference (the budget over ``days`` days, units above 1
taken for sure and the rest shared again) and ``N_day`` the reference's frames per day: over a
day like the reference the probabilities sum to the budget, and each is the one the plan gives
it (``audit plan`` additionally lifts every slice x band cell to one unit; a stream does not).
Without a calibration the slice x band strata of the reference are Neyman-allocated with the
band priors (:func:`.audit_plan.neyman_allocation`) and each unit takes its stratum's
``n_h / N_h``. A unit of a slice the reference does not hold, or any unit before the store
holds frames, takes ``n_day / N_day`` (``N_day`` from the lines' frame rates then).

Each unit is decided by a uniform draw made from its event id (:func:`unit_draw`): a replayed
event gets the same decision, so a request and its ``audit_units`` row are written once.

>>> auditor = StreamAuditor.uniform(0.5, 0.15, Budget(fraction=0.1), "stream:10%", 1000.0)
>>> auditor.probability(("line-1", "day", "normal"), 0.9)
0.1
>>> 0.0 <= unit_draw("e-1", "stream:10%") < 1.0
True
"""

from __future__ import annotations

import hashlib
import json
import math
from collections import defaultdict
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import NamedTuple

import numpy as np

from schemas.records import FrameRecord
from streams.estimation.calibration import IsotonicCalibration
from streams.readiness.audit_plan import (
    DEFAULT_DEFECT_RATES,
    Budget,
    Stratum,
    neyman_allocation,
    parse_budget,
)
from streams.readiness.design import score_band
from streams.readiness.score_design import (
    LEAST_SHARE,
    plan_sizes,
    predicted_defect,
    slice_prevalences,
)
from streams.sinks.audits import AuditUnitRecord, PlanFrame

__all__ = [
    "AuditRequest",
    "ReferenceCount",
    "StreamAuditor",
    "audit_requests",
    "stream_policy",
    "unit_draw",
]

_P_FLOOR = 1e-4
"""As :func:`.score_design.metric_sizes` clips ``p`` before ``sqrt(p (1 - p))``."""

_Slice = tuple[str, str, str]


def stream_policy(budget_text: str) -> str:
    """The policy the requests and stored units carry: ``stream:<budget>``.

    >>> stream_policy("300/day")
    'stream:300/day'
    """
    parse_budget(budget_text)
    return f"stream:{budget_text.strip().lower().replace(' ', '')}"


def unit_draw(event_id: str, policy: str) -> float:
    """A uniform number in [0, 1) fixed by the event id and policy (a replay draws the same)."""
    digest = hashlib.sha256(f"{policy}\x00{event_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2.0**64


class ReferenceCount(NamedTuple):
    """Reference frames of one slice and band with one score (as far as the calibration can
    tell: one step of it), counted in the store."""

    key: _Slice
    band: str
    score: float
    frames: int


@dataclass(frozen=True)
class AuditRequest:
    """One unit a person should review: the message on ``audit-requests``."""

    event_id: str
    camera_id: str
    line_id: str
    shift: str
    lighting: str
    band: str
    score: float
    inclusion_probability: float
    policy: str
    captured_at: datetime

    def to_json(self) -> bytes:
        """The message: the unit, its slice and band, and the ``audit`` block a reviewer copies
        into the label (``{"policy", "inclusion_probability"}``)."""
        return json.dumps(
            {
                "event_id": self.event_id,
                "camera_id": self.camera_id,
                "line_id": self.line_id,
                "shift": self.shift,
                "lighting": self.lighting,
                "band": self.band,
                "score": self.score,
                "captured_at": self.captured_at.isoformat(),
                "audit": {
                    "policy": self.policy,
                    "inclusion_probability": self.inclusion_probability,
                },
            }
        ).encode()


@dataclass
class StreamAuditor:
    """Per-unit audit decisions for a budget, from a reference population (module docstring)."""

    threshold: float
    review_low: float
    policy: str
    n_day: float
    """Units to audit per day."""
    frames_day: float
    """Frames per day (the reference's, else the lines' frame rates)."""
    calibration: IsotonicCalibration | None = None
    spreads: dict[tuple[_Slice, bool], float] = field(default_factory=dict)
    """Per slice and flag: the size of a unit over ``sqrt(p (1 - p))`` (score plan)."""
    prevalence: dict[Hashable, float] = field(default_factory=dict)
    strata: dict[tuple[_Slice, str], float] = field(default_factory=dict)
    """Per slice x band: ``n_h / N_h`` (band plan, without a calibration)."""
    scale: float = 0.0
    """The score plan's ``t`` over the reference: a unit's probability is ``t`` times its size
    (within the bounds)."""
    least: float = 0.0
    """The least probability a unit takes (``LEAST_SHARE`` of the uniform one)."""
    days: float = 1.0
    """Days the reference spans."""

    @classmethod
    def uniform(
        cls, threshold: float, review_low: float, budget: Budget, policy: str, frames_day: float
    ) -> StreamAuditor:
        """Every unit at ``n_day / frames_day`` (no reference yet)."""
        frames_day = max(frames_day, 1.0)
        return cls(threshold, review_low, policy, _per_day(budget, frames_day), frames_day)

    @classmethod
    def of_reference(
        cls,
        threshold: float,
        review_low: float,
        budget: Budget,
        policy: str,
        *,
        reference: Sequence[PlanFrame | ReferenceCount],
        days: float,
        calibration: IsotonicCalibration | None,
        fallback_frames_day: float,
    ) -> StreamAuditor:
        """From the frames of ``days`` days (one by one, or counted per slice, band and score):
        the score plan's sizes with a calibration, else the band plan's strata; uniform without
        frames."""
        counted = [
            r if isinstance(r, ReferenceCount)
            else ReferenceCount((r.line_id, r.shift, r.lighting), r.band, r.max_confidence, 1)
            for r in reference
        ]  # fmt: skip
        total = sum(r.frames for r in counted)
        if not total:
            return cls.uniform(threshold, review_low, budget, policy, fallback_frames_day)
        days = max(days, 1e-6)
        frames_day = total / days
        me = cls(threshold, review_low, policy, _per_day(budget, frames_day), frames_day)
        me.days = days
        counts = np.array([r.frames for r in counted], dtype=np.int64)
        slices: list[_Slice] = [
            r.key for r, n in zip(counted, counts, strict=True) for _ in range(n)
        ]
        bands = [r.band for r, n in zip(counted, counts, strict=True) for _ in range(n)]
        if calibration is None:
            me.strata = _band_strata(slices, bands, me.n_day, days)
            return me
        scores = np.repeat(np.array([r.score for r in counted], dtype=np.float64), counts)
        prevalence = slice_prevalences(calibration, slices, scores)
        p = predicted_defect(calibration, slices, scores, prevalence)
        flagged = np.array([b == "flagged" for b in bands], dtype=bool)
        n = min(me.n_day * days, float(total))
        pi, sizes = plan_sizes(slices, flagged, p, n)
        pc = np.clip(p, _P_FLOOR, 1 - _P_FLOOR)
        base = np.sqrt(pc * (1 - pc))
        for i, key in enumerate(slices):
            me.spreads.setdefault((key, bool(flagged[i])), float(sizes[i] / base[i]))
        me.calibration = calibration
        me.prevalence = dict(prevalence)
        me.least = min(LEAST_SHARE, 1.0) * n / total
        # t from the units the bounds do not hold (every unit the same t: the plan's scale)
        free = (pi > me.least * (1 + 1e-9)) & (pi < 1 - 1e-9) & (sizes > 0)
        me.scale = float(np.median(pi[free] / sizes[free])) if free.any() else 0.0
        return me

    def probability(self, key: _Slice, score: float) -> float:
        """The unit's inclusion probability (module docstring)."""
        uniform = min(1.0, self.n_day / self.frames_day)
        band = score_band(score, self.threshold, self.review_low)
        if self.strata:
            return self.strata.get((key, band), uniform)
        if self.calibration is None or key not in self.prevalence or self.scale <= 0:
            return uniform
        spread = self.spreads.get((key, band == "flagged"))
        if spread is None:
            return uniform
        p = float(predicted_defect(self.calibration, [key], np.array([score]), self.prevalence)[0])
        pc = min(max(p, _P_FLOOR), 1 - _P_FLOOR)
        size = math.sqrt(pc * (1 - pc)) * spread
        return min(1.0, max(self.least, self.scale * size))

    def decide(self, frame: FrameRecord, now: datetime | None = None) -> AuditUnitRecord | None:
        """The ``audit_units`` row of a unit to review (``None``: not this one)."""
        key = (frame.line_id, frame.shift, frame.lighting)
        pi = self.probability(key, float(frame.max_confidence))
        if pi <= 0 or unit_draw(frame.event_id, self.policy) >= pi:
            return None
        captured = frame.captured_at
        return AuditUnitRecord(
            plan_id=self.policy,
            event_id=frame.event_id,
            line_id=frame.line_id,
            shift=frame.shift,
            lighting=frame.lighting,
            band=score_band(float(frame.max_confidence), self.threshold, self.review_low),
            captured_at=captured,
            max_confidence=float(frame.max_confidence),
            stratum_frames=0,
            stratum_sample=0,
            inclusion_probability=pi,
            window_start=captured,
            window_end=captured + timedelta(milliseconds=1),
            planned_at=now or datetime.now(UTC),
        )


def _per_day(budget: Budget, frames_day: float) -> float:
    """Units per day: the budget's ``per_day``, or its fraction of the day's frames."""
    if budget.per_day is not None:
        return float(budget.per_day)
    assert budget.fraction is not None
    return budget.fraction * frames_day


def _band_strata(
    slices: Sequence[_Slice], bands: Sequence[str], n_day: float, days: float
) -> dict[tuple[_Slice, str], float]:
    """Per slice x band: the Neyman-allocated share ``n_h / N_h`` of a day's frames (band
    priors :data:`.audit_plan.DEFAULT_DEFECT_RATES`)."""
    counts: dict[tuple[_Slice, str], int] = defaultdict(int)
    for key, band in zip(slices, bands, strict=True):
        counts[(key, band)] += 1
    keys = sorted(counts)
    scale = 1000.0  # allocate 1000 x the daily budget in whole units, then scale back
    strata = [
        Stratum(k[0], k[1], max(1, round(scale * counts[k] / days)), DEFAULT_DEFECT_RATES[k[1]])
        for k in keys
    ]
    total = min(round(scale * n_day), sum(s.frames for s in strata))
    alloc = neyman_allocation(strata, total, floor=0)
    return {k: min(1.0, a / s.frames) for k, s, a in zip(keys, strata, alloc, strict=True)}


def audit_requests(groups: Iterable[Sequence[object]]) -> list[AuditRequest]:
    """The requests among rows: each ``audit_units`` row of a stream policy, with the camera
    of the frame beside it (``groups``: the rows of each event)."""
    out = []
    for records in groups:
        frame = next((r for r in records if isinstance(r, FrameRecord)), None)
        for r in records:
            if isinstance(r, AuditUnitRecord) and r.plan_id.startswith("stream:"):
                out.append(
                    AuditRequest(
                        event_id=r.event_id,
                        camera_id="" if frame is None else frame.camera_id,
                        line_id=r.line_id,
                        shift=r.shift,
                        lighting=r.lighting,
                        band=r.band,
                        score=r.max_confidence,
                        inclusion_probability=r.inclusion_probability,
                        policy=r.plan_id,
                        captured_at=r.captured_at,
                    )
                )
    return out
