"""Design-weighted FNR and FPR per slice from audited labels (issue 21).

Plants do not label a random sample: every flagged unit is looked at, passed units rarely. Rates
over the labelled frames then describe the labelled frames, not the line. Here each label counts
by how its unit was chosen (its *inclusion probability* ``pi``), within *cells*: a slice's frames
in one score band (:func:`score_band`: ``flagged``, ``uncertain``, ``passed``), whose sizes are
known from the frames table.

Estimator (a Hajek ratio estimator, post-stratified by cell). In cell ``h`` with ``N_h`` frames
of which ``n_h`` are labelled, outcome ``c``'s count is ``k_hc + (N_h - n_h) p_hc``: the labelled
units' own outcomes plus the unlabelled ones at ``p_hc = sum(w_i [c_i = c]) / sum(w_i)``, each
label weighted ``w_i = 1 / pi_i``. FNR is ``FN / (TP + FN)`` and FPR ``FP / (FP + TN)`` of the
summed counts. A cell whose every frame is labelled is a census: its counts are exact.

Interval (95 %): a Bayesian bootstrap that respects the cells, Clopper-Pearson style. Each
sampled cell's unlabelled share is drawn from a Dirichlet over its outcomes with the cell's
(Kish effective) label counts plus one pseudo-unit that pushes the rate down (for the 2.5 %
quantile) or up (for the 97.5 % quantile), e.g. one more miss among the passed units for FNR's
upper end: a cell where no miss was seen still admits some. The unlabelled units' outcomes are
then drawn (multinomial) from that share, so a nearly labelled cell is nearly exact. Census
cells are exact. A cell with frames but no labels joins its neighbouring band on the same side
of the threshold (``uncertain`` <-> ``passed``). Where that side holds no label at all it
stays a cell of its own side's outcomes that no label describes: its point shares are even
(``TP`` / ``FP`` for ``flagged``, ``FN`` / ``TN`` below the threshold) and each end of an
interval puts all of its units on the outcome that pushes that end (a flagged unit is never
counted a ``TN``, an unflagged one never a false flag).

Labels without a design (no ``audit``, no plan) count only where their slice is a census (every
frame labelled): that keeps a fully labelled store's figures exactly as the plain counts. Else
they are reported apart (``undesigned``) and never enter a rate.

>>> pop = {(("a",), "flagged"): 2, (("a",), "passed"): 100}
>>> labels = [DesignLabel(("a",), "flagged", "TP", 1.0), DesignLabel(("a",), "flagged", "FP", 1.0)]
>>> labels += [DesignLabel(("a",), "passed", "TN", 0.1)] * 10
>>> est = estimate_slices(pop, labels, draws=500)[("a",)]
>>> est.fnr.value, round(est.fpr.value, 4), est.labels
(0.0, 0.0099, 12)
>>> est.fnr.hi > 0.5  # ten passed units without a miss do not rule misses out
True
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from streams.readiness.design_suggest import AuditSuggestion, suggest

__all__ = [
    "BANDS",
    "OUTCOMES",
    "DesignLabel",
    "DesignRate",
    "SliceDesign",
    "estimate_slices",
    "resolve_designs",
    "score_band",
]

BANDS = ("flagged", "uncertain", "passed")
"""Score bands of a frame's top confidence ``s``: ``flagged`` (``s >= threshold``),
``uncertain`` (``review_low <= s < threshold``), ``passed`` (below the review band)."""

OUTCOMES = ("TP", "FP", "FN", "TN")
_FLAGGED_SIDE = np.array([1.0, 1.0, 0.0, 0.0])
_PASSED_SIDE = np.array([0.0, 0.0, 1.0, 1.0])
_JEFFREYS = 0.5
Slice = tuple[str, ...]
Cell = tuple[Slice, str]


def score_band(score: float, threshold: float, review_low: float) -> str:
    """The band of a frame's top confidence.

    >>> [score_band(s, 0.5, 0.15) for s in (0.9, 0.5, 0.3, 0.1)]
    ['flagged', 'flagged', 'uncertain', 'passed']
    """
    if score >= threshold:
        return "flagged"
    return "uncertain" if score >= review_low else "passed"


@dataclass(frozen=True)
class DesignLabel:
    """One labelled frame: its slice, band, outcome at the threshold and inclusion probability
    (``0``: no design; :func:`resolve_designs` turns those into census labels or drops them)."""

    slice: Slice
    band: str
    outcome: str
    inclusion_probability: float


@dataclass(frozen=True)
class DesignRate:
    """A design-weighted rate with its 95 % interval; ``None`` where nothing estimates it."""

    value: float | None
    lo: float | None
    hi: float | None

    @property
    def width(self) -> float | None:
        return None if self.lo is None or self.hi is None else self.hi - self.lo

    def as_dict(self) -> dict[str, float | None]:
        return {"value": self.value, "lo": self.lo, "hi": self.hi}


@dataclass(frozen=True)
class SliceDesign:
    """Design-weighted FNR / FPR of one slice, the labels behind them and the naive figures."""

    key: Slice
    frames: int
    labels: int
    """Designed labels used (census labels included)."""
    undesigned: int
    """Labels without a design, shown apart and never in a rate."""
    census: bool
    fnr: DesignRate
    fpr: DesignRate
    naive_fnr: float | None
    naive_fpr: float | None
    """Plain rates over every labelled frame, as if the labelled frames were the line."""
    next_audit: AuditSuggestion | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "frames": self.frames,
            "labels": self.labels,
            "undesigned_labels": self.undesigned,
            "census": self.census,
            "fnr": self.fnr.as_dict(),
            "fpr": self.fpr.as_dict(),
            "naive_fnr": self.naive_fnr,
            "naive_fpr": self.naive_fpr,
            "next_audit": None if self.next_audit is None else self.next_audit.as_dict(),
        }


def resolve_designs(
    labels: Iterable[DesignLabel], population: Mapping[Cell, int]
) -> tuple[list[DesignLabel], dict[Slice, int], dict[Slice, list[DesignLabel]]]:
    """Designed labels, undesigned counts per slice, and every label per slice (for the naive
    figures). A label without a design (``pi == 0``) becomes a census label (``pi = 1``) where
    every frame of its slice is labelled; elsewhere it is counted apart."""
    frames: dict[Slice, int] = defaultdict(int)
    for (key, _band), n in population.items():
        frames[key] += n
    by_slice: dict[Slice, list[DesignLabel]] = defaultdict(list)
    for label in labels:
        by_slice[label.slice].append(label)
    designed: list[DesignLabel] = []
    undesigned: dict[Slice, int] = defaultdict(int)
    for key, group in by_slice.items():
        census = len(group) >= frames.get(key, 0)
        for label in group:
            if label.inclusion_probability > 0:
                designed.append(label)
            elif census:
                designed.append(
                    DesignLabel(label.slice, label.band, label.outcome, inclusion_probability=1.0)
                )
            else:
                undesigned[key] += 1
    return designed, dict(undesigned), dict(by_slice)


@dataclass
class _CellData:
    band: str
    frames: int
    counts: npt.NDArray[np.float64]  # labelled outcomes, OUTCOMES order
    weighted: npt.NDArray[np.float64]  # sum of 1/pi per outcome
    weight_sq: float
    sides: npt.NDArray[np.float64]  # outcomes possible in the cell

    @property
    def labelled(self) -> int:
        return int(self.counts.sum())

    @property
    def census(self) -> bool:
        return self.labelled >= self.frames

    def proportions(self) -> npt.NDArray[np.float64]:
        """Weighted outcome shares of the labels; even over the cell's outcomes without any."""
        total = self.weighted.sum()
        if total <= 0:
            even: npt.NDArray[np.float64] = self.sides / self.sides.sum()
            return even
        shares: npt.NDArray[np.float64] = self.weighted / total
        return shares

    def alpha(self, push: tuple[int, int] | None = None) -> npt.NDArray[np.float64]:
        """Dirichlet parameters of the unlabelled units' outcome shares: the (Kish effective)
        label counts, plus, for ``push = (toward, away)``, one pseudo-unit of outcome ``toward``
        where the cell allows it, else of each allowed outcome but ``away`` (``None``: half a
        pseudo-unit of every allowed outcome, for a smoothed share)."""
        total = self.weighted.sum()
        n_eff = total * total / self.weight_sq if self.weight_sq > 0 else 0.0
        alpha: npt.NDArray[np.float64] = n_eff * self.proportions()
        if push is None:
            alpha += _JEFFREYS * self.sides
            return alpha
        toward, away = push
        if self.sides[toward]:
            alpha[toward] += 1.0
        else:
            extra = self.sides.copy()
            extra[away] = 0.0
            alpha += extra
        return alpha

    def point(self) -> npt.NDArray[np.float64]:
        if self.census:
            return self.counts.copy()
        counts: npt.NDArray[np.float64] = self.counts + (self.frames - self.labelled) * (
            self.proportions()
        )
        return counts


def _cells(frames: Mapping[str, int], labels: Sequence[DesignLabel]) -> list[_CellData]:
    """The slice's cells; a cell with frames but no labels joins a labelled neighbour on its
    side of the threshold, else stays a cell without labels (module docstring)."""
    cells: dict[str, _CellData] = {}
    for band in BANDS:
        side = _FLAGGED_SIDE if band == "flagged" else _PASSED_SIDE  # the outcomes it can hold
        cells[band] = _CellData(
            band, int(frames.get(band, 0)), np.zeros(4), np.zeros(4), 0.0, side.copy()
        )
    for label in labels:
        cell = cells[label.band]
        i = OUTCOMES.index(label.outcome)
        w = 1.0 / label.inclusion_probability
        cell.counts[i] += 1
        cell.weighted[i] += w
        cell.weight_sq += w * w
        cell.sides = np.maximum(cell.sides, np.eye(4)[i])
        cell.frames = max(cell.frames, cell.labelled)
    if not any(c.labelled for c in cells.values()):
        return []
    # a unit keeps the outcomes of its side of the threshold: no join across it
    joins = {"uncertain": ("passed",), "passed": ("uncertain",), "flagged": ()}
    for band in BANDS:
        cell = cells[band]
        if cell.frames == 0 or cell.labelled > 0:
            continue
        target = next((t for t in joins[band] if cells[t].labelled > 0), None)
        if target is None:
            continue  # nothing labelled on its side: a cell that no label describes
        cells[target].frames += cell.frames
        cells[target].sides = np.maximum(cells[target].sides, cell.sides)
        cell.frames = 0
    return [c for c in cells.values() if c.frames > 0]


def _ratio(num: npt.NDArray[np.float64], den: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, num / np.where(den > 0, den, 1.0), np.nan)


def _rate(
    cells: Sequence[_CellData], num: int, other: int, draws: int, rng: np.random.Generator
) -> DesignRate:
    """Ratio ``num / (num + other)`` of the summed counts, with its interval: the 2.5 % quantile
    of draws where each sampled cell's unlabelled share has one pseudo-unit pushing the ratio
    down (toward ``other``, away from ``num``), the 97.5 % quantile of draws with one pushing
    it up (the Clopper-Pearson construction, cell by cell)."""
    point = np.sum([c.point() for c in cells], axis=0)
    if point[num] + point[other] <= 0:
        return DesignRate(None, None, None)
    value = float(point[num] / (point[num] + point[other]))
    bounds = []
    for push, q in (((other, num), 0.025), ((num, other), 0.975)):
        sample = np.zeros((draws, 4))
        for c in cells:
            if c.census:
                sample += c.counts
                continue
            alpha = c.alpha(push)
            shares = rng.standard_gamma(np.broadcast_to(alpha, (draws, 4)))
            total = shares.sum(axis=1, keepdims=True)
            shares = np.divide(shares, total, out=np.zeros_like(shares), where=total > 0)
            # the unlabelled units are whole units: a share of 0.4 % of 13 units is 0 units
            # most of the time, not 0.05 of a unit every time
            sample += c.counts + rng.multinomial(c.frames - c.labelled, shares)
        ratios = _ratio(sample[:, num], sample[:, num] + sample[:, other])
        ratios = ratios[~np.isnan(ratios)]
        bounds.append(value if ratios.size == 0 else float(np.quantile(ratios, q)))
    return DesignRate(value, min(bounds[0], value), max(bounds[1], value))


def _naive(labels: Sequence[DesignLabel]) -> tuple[float | None, float | None]:
    n = {o: sum(1 for x in labels if x.outcome == o) for o in OUTCOMES}
    fnr = n["FN"] / (n["FN"] + n["TP"]) if n["FN"] + n["TP"] else None
    fpr = n["FP"] / (n["FP"] + n["TN"]) if n["FP"] + n["TN"] else None
    return fnr, fpr


def estimate_slices(
    population: Mapping[Cell, int],
    labels: Iterable[DesignLabel],
    *,
    draws: int = 2000,
    seed: int = 0,
) -> dict[Slice, SliceDesign]:
    """Design-weighted FNR and FPR of every slice of ``population`` (``(slice, band) -> frames``)
    from ``labels`` (see the module docstring)."""
    designed, undesigned, every = resolve_designs(labels, population)
    frames: dict[Slice, dict[str, int]] = defaultdict(dict)
    for (key, band), n in population.items():
        frames[key][band] = frames[key].get(band, 0) + int(n)
    by_slice: dict[Slice, list[DesignLabel]] = defaultdict(list)
    for label in designed:
        by_slice[label.slice].append(label)
    rng = np.random.default_rng(seed)
    out: dict[Slice, SliceDesign] = {}
    for key in sorted(set(frames) | set(every)):
        cells = _cells(frames.get(key, {}), by_slice.get(key, []))
        naive_fnr, naive_fpr = _naive(every.get(key, []))
        total_frames = sum(frames.get(key, {}).values())
        if not cells:
            none = DesignRate(None, None, None)
            out[key] = SliceDesign(
                key, total_frames, 0, undesigned.get(key, 0), False, none, none,
                naive_fnr, naive_fpr, None,
            )  # fmt: skip
            continue
        fnr = _rate(cells, 2, 0, draws, rng)
        fpr = _rate(cells, 1, 3, draws, rng)
        out[key] = SliceDesign(
            key=key,
            frames=total_frames,
            labels=len(by_slice.get(key, [])),
            undesigned=undesigned.get(key, 0),
            census=all(c.census for c in cells),
            fnr=fnr,
            fpr=fpr,
            naive_fnr=naive_fnr,
            naive_fpr=naive_fpr,
            next_audit=suggest(cells, fnr, fpr),
        )
    return out
