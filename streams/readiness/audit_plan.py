"""Which units a person should review: a stratified audit plan (``linewatch audit plan``).

Strata are a slice (line x lighting x shift) and a score band (:data:`.design.BANDS`). The
budget is shared out to minimise the summed linearised variances of every slice's FNR and FPR
(Neyman allocation): stratum ``h`` of slice ``s`` gets labels in proportion to

    A_h = N_h * sqrt(q_h (1 - q_h)) * sqrt(c_fnr^2 / D_s^2 + c_fpr^2 / G_s^2)

with ``N_h`` its frames, ``q_h`` a prior defect rate of its band, ``D_s`` / ``G_s`` the slice's
expected defective / good units and ``c`` the residual of a defect (good unit) in the ratio's
linearisation: ``1 - FNR`` for a miss, ``-FNR`` for a caught defect (``1 - FPR`` for a false
flag, ``-FPR`` for a good unit passed). Every stratum gets at least ``floor`` units, so every
unit's inclusion probability ``n_h / N_h`` is above zero; no stratum gets more than its frames.
Within a stratum units are drawn uniformly without replacement.

>>> strata = [Stratum(("a",), "flagged", 50, 0.5), Stratum(("a",), "passed", 1000, 0.01)]
>>> neyman_allocation(strata, 40)
[4, 36]
>>> parse_budget("300/day"), parse_budget("1%"), parse_budget("0.02")
(Budget(per_day=300, fraction=None), Budget(per_day=None, fraction=0.01), \
Budget(per_day=None, fraction=0.02))
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from streams.errors import ConfigError
from streams.readiness.design import BANDS, DesignLabel

__all__ = [
    "DEFAULT_DEFECT_RATES",
    "Budget",
    "Selected",
    "Stratum",
    "neyman_allocation",
    "parse_budget",
    "prior_defect_rates",
    "select_units",
]

DEFAULT_DEFECT_RATES = {"flagged": 0.5, "uncertain": 0.05, "passed": 0.02}
"""Prior defect rate of a band where no designed label says otherwise: what an audit must be
able to rule out rather than what is expected (a passed band's misses are rare, but a failing
lamp makes them common). Measured on the demo world (bench/bench_audit.py), these give per-slice
FNR intervals as narrow as or narrower than sharper priors (0.1 / 0.005) at 1-20 % budgets."""


@dataclass(frozen=True)
class Budget:
    """Units to review: ``per_day`` units per day of frames, or a ``fraction`` of the frames."""

    per_day: int | None = None
    fraction: float | None = None

    def units(self, frames: int, days: float) -> int:
        """Units for ``frames`` frames spanning ``days`` days (at least one day)."""
        if self.per_day is not None:
            return min(frames, math.ceil(self.per_day * max(days, 1.0)))
        assert self.fraction is not None
        return min(frames, math.ceil(self.fraction * frames))


def parse_budget(text: str) -> Budget:
    """``"300/day"``, ``"1%"`` or ``"0.01"`` (a fraction of the frames)."""
    raw = text.strip().lower().replace(" ", "")
    try:
        if raw.endswith("/day"):
            n = int(raw.removesuffix("/day"))
            if n > 0:
                return Budget(per_day=n)
        elif raw.endswith("%"):
            f = float(raw.removesuffix("%")) / 100
            if 0 < f <= 1:
                return Budget(fraction=f)
        else:
            f = float(raw)
            if 0 < f <= 1:
                return Budget(fraction=f)
    except ValueError:
        pass
    raise ConfigError(
        f"--budget {text!r} is not a budget: give units per day ('300/day'), "
        "a percentage of the frames ('1%') or a fraction in (0, 1] ('0.01')"
    )


@dataclass(frozen=True)
class Stratum:
    """A slice's frames in one score band, with the prior defect rate of the band."""

    slice: tuple[str, ...]
    band: str
    frames: int
    defect_rate: float


@dataclass(frozen=True)
class Selected:
    """One unit to review and how it was chosen."""

    event_id: str
    stratum: Stratum
    sample: int
    inclusion_probability: float


def prior_defect_rates(labels: Iterable[DesignLabel]) -> dict[str, float]:
    """Per band: the design-weighted defect rate of the designed labels so far (pooled over
    slices, with one pseudo-label at :data:`DEFAULT_DEFECT_RATES`), else the default."""
    num: dict[str, float] = defaultdict(float)
    den: dict[str, float] = defaultdict(float)
    count: dict[str, int] = defaultdict(int)
    for label in labels:
        if label.inclusion_probability <= 0:
            continue
        w = 1.0 / label.inclusion_probability
        num[label.band] += w * (label.outcome in ("TP", "FN"))
        den[label.band] += w
        count[label.band] += 1
    out = {}
    for band in BANDS:
        prior = DEFAULT_DEFECT_RATES[band]
        if den[band] > 0:
            unit = den[band] / count[band]  # one pseudo-label of the band's mean weight
            out[band] = (num[band] + prior * unit) / (den[band] + unit)
        else:
            out[band] = prior
    return out


def _scores(strata: Sequence[Stratum]) -> list[float]:
    """Neyman's ``A_h`` of every stratum (module docstring)."""
    by_slice: dict[tuple[str, ...], list[Stratum]] = defaultdict(list)
    for s in strata:
        by_slice[s.slice].append(s)
    out = []
    for s in strata:
        group = by_slice[s.slice]
        defects = sum(g.frames * g.defect_rate for g in group)
        missed = sum(g.frames * g.defect_rate for g in group if g.band != "flagged")
        good = sum(g.frames * (1 - g.defect_rate) for g in group)
        false_flags = sum(g.frames * (1 - g.defect_rate) for g in group if g.band == "flagged")
        fnr = missed / defects if defects > 0 else 0.0
        fpr = false_flags / good if good > 0 else 0.0
        c_fnr = -fnr if s.band == "flagged" else 1.0 - fnr
        c_fpr = 1.0 - fpr if s.band == "flagged" else -fpr
        spread = (c_fnr / max(defects, 1e-9)) ** 2 + (c_fpr / max(good, 1e-9)) ** 2
        q = min(max(s.defect_rate, 1e-6), 1 - 1e-6)
        out.append(s.frames * math.sqrt(q * (1 - q)) * math.sqrt(spread))
    return out


def neyman_allocation(strata: Sequence[Stratum], budget: int, *, floor: int = 1) -> list[int]:
    """Labels per stratum: ``floor`` each (or all its frames if fewer), the rest by Neyman."""
    base = [min(floor, s.frames) for s in strata]
    if sum(base) > budget:
        raise ConfigError(
            f"a budget of {budget} units cannot give each of the {len(strata)} strata "
            f"(slice x score band) its {floor} unit(s): raise --budget to at least {sum(base)}"
        )
    alloc = list(base)
    scores = _scores(strata)
    left = budget - sum(alloc)
    open_ = {i for i, s in enumerate(strata) if alloc[i] < s.frames}
    while left > 0 and open_:
        total = sum(scores[i] for i in open_)
        if total <= 0:
            shares = {i: left / len(open_) for i in open_}
        else:
            shares = {i: left * scores[i] / total for i in open_}
        capped = [i for i in open_ if alloc[i] + shares[i] >= strata[i].frames]
        if capped:  # a stratum asks for more than it holds: take it all, share the rest again
            for i in capped:
                left -= strata[i].frames - alloc[i]
                alloc[i] = strata[i].frames
                open_.discard(i)
            continue
        whole = {i: math.floor(shares[i]) for i in open_}
        for i, n in whole.items():
            alloc[i] += n
        rest = left - sum(whole.values())
        by_remainder = sorted(open_, key=lambda i: (shares[i] - whole[i], scores[i]), reverse=True)
        for i in by_remainder[:rest]:
            alloc[i] += 1
        left = 0
    return alloc


def select_units(
    units: Mapping[tuple[tuple[str, ...], str], Sequence[str]],
    strata: Sequence[Stratum],
    allocation: Sequence[int],
    *,
    seed: int | None = None,
) -> list[Selected]:
    """Draw ``allocation[i]`` of the event ids of stratum ``i`` uniformly without replacement."""
    rng = np.random.default_rng(seed)
    out: list[Selected] = []
    for stratum, n in zip(strata, allocation, strict=True):
        ids = list(units.get((stratum.slice, stratum.band), ()))
        if n <= 0 or not ids:
            continue
        picked = rng.choice(len(ids), size=min(n, len(ids)), replace=False)
        p = min(n, len(ids)) / len(ids)
        out.extend(Selected(ids[int(i)], stratum, n, p) for i in sorted(picked))
    return out
