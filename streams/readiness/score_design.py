"""Audits chosen unit by unit from the model's score: active-testing inclusion probabilities and
the design-based estimator that goes with them (issue 21).

Each unit ``i`` of a slice has a predicted defect probability ``p_i`` (the lab calibration of
its top confidence, :mod:`streams.estimation.calibration`, moved to the production prevalence).
A slice's FNR is ``M / D``: ``M`` the missed defects (defective, not flagged), ``D`` all
defects; its FPR is ``F / G``: false flags among the good units. Linearised, a unit adds
``c_i (d_i - p_i) / D`` to the FNR's error, with ``c_i = 1 - FNR`` for a unit that passed and
``-FNR`` for a flagged one, so the variance of a Horvitz-Thompson difference estimator is
smallest with inclusion probabilities proportional to

    a_i = sqrt(p_i (1 - p_i)) * sqrt(c_fnr_i^2 / D_s^2 + c_fpr_i^2 / G_s^2)

(Neyman allocation at the unit level; "active testing", Kossen et al. 2021). A share
``mix`` of the budget is spread uniformly (a defensive mixture), so that a unit the calibration
calls certain still has a probability a miss there can be found with. :func:`systematic_sample`
draws exactly ``round(sum(pi))`` units with those probabilities (systematic PPS over the units
sorted by slice, band and score: an implicit stratification).

:func:`difference_rate` estimates ``num / den`` from such a sample: each total is the sum of
the predictions over every unit plus the inverse-probability-weighted prediction errors of the
labelled ones (the difference estimator, or prediction-powered inference); without predictions
(``p = 0``) it is the plain Horvitz-Thompson ratio. Its variance is the linearised
with-replacement (Hansen-Hurwitz) variance per cell (slice x band), with a finite-population
factor, but never less than the variance the calibration expects there (``p (1 - p)`` per
unit, weighted by ``(1 - pi) / pi^2``): where no miss was seen among a cell's labels the
sampled spread is near zero, while misses the calibration considers possible still could be
there, so the interval is never zero-width unless the cell is a census (a cell without labels
joins a labelled neighbour of its slice). The normal interval on the linearised ratio is
widened to the numerator's own interval mapped through the ratio (the rest held at its
estimate), which the linearisation understates where the ratio bends (FNR near 1).

Passed units the calibration finds likelier to be defective are likelier to be audited:

>>> flagged = np.array([True] * 10 + [False] * 90)
>>> p = np.concatenate([np.full(10, 0.8), np.full(45, 0.05), np.full(45, 0.002)])
>>> pi = inclusion_probabilities(unit_sizes([("a",)] * 100, flagged, p), 30)
>>> round(float(pi.sum()), 6), round(float(pi[10] / pi[-1]), 1)
(30.0, 3.2)
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Hashable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from streams.estimation.calibration import IsotonicCalibration, em_prevalence
from streams.readiness.stats import Z95

__all__ = [
    "FloatArray",
    "ScoredSample",
    "difference_rate",
    "inclusion_probabilities",
    "predicted_defect",
    "slice_prevalences",
    "systematic_sample",
    "unit_sizes",
]

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

_P_FLOOR = 1e-4
"""Least predicted defect probability a size is computed from (a unit is never certain)."""


def slice_prevalences(
    calibration: IsotonicCalibration, slices: Sequence[Hashable], scores: FloatArray
) -> dict[Hashable, float]:
    """Each slice's defect prevalence, label-free (EM on its scores), kept inside (0, 1)."""
    scores = np.asarray(scores, dtype=np.float64)
    groups: dict[Hashable, list[int]] = defaultdict(list)
    for i, key in enumerate(slices):
        groups[key].append(i)
    return {
        key: min(max(em_prevalence(calibration, scores[idx]), _P_FLOOR), 1 - _P_FLOOR)
        for key, idx in groups.items()
    }


def predicted_defect(
    calibration: IsotonicCalibration,
    slices: Sequence[Hashable],
    scores: FloatArray,
    prevalence: dict[Hashable, float] | None = None,
) -> FloatArray:
    """Every unit's ``P(defective | top confidence)``: the lab calibration moved to its slice's
    defect prevalence (``prevalence``, by default :func:`slice_prevalences` of these units)."""
    scores = np.asarray(scores, dtype=np.float64)
    if prevalence is None:
        prevalence = slice_prevalences(calibration, slices, scores)
    groups: dict[Hashable, list[int]] = defaultdict(list)
    for i, key in enumerate(slices):
        groups[key].append(i)
    out = np.zeros(len(scores))
    for key, idx in groups.items():
        out[idx] = calibration.at_prevalence(scores[idx], prevalence[key])
    return out


def unit_sizes(slices: Sequence[Hashable], flagged: BoolArray, p: FloatArray) -> FloatArray:
    """Every unit's ``a_i`` (module docstring), from its slice, flag and predicted ``p``."""
    p = np.clip(np.asarray(p, dtype=np.float64), _P_FLOOR, 1 - _P_FLOOR)
    flagged = np.asarray(flagged, dtype=bool)
    groups: dict[Hashable, list[int]] = defaultdict(list)
    for i, key in enumerate(slices):
        groups[key].append(i)
    sizes = np.zeros(len(p))
    for idx_list in groups.values():
        idx = np.asarray(idx_list)
        ps, fs = p[idx], flagged[idx]
        defects, good = max(ps.sum(), 1e-9), max((1 - ps).sum(), 1e-9)
        fnr = ps[~fs].sum() / defects
        fpr = (1 - ps[fs]).sum() / good
        c_fnr = np.where(fs, -fnr, 1 - fnr)
        c_fpr = np.where(fs, 1 - fpr, -fpr)
        spread = np.sqrt((c_fnr / defects) ** 2 + (c_fpr / good) ** 2)
        sizes[idx] = np.sqrt(ps * (1 - ps)) * spread
    return sizes


def inclusion_probabilities(
    sizes: FloatArray, n: int, *, mix: float = 0.2, cells: Sequence[Hashable] | None = None
) -> FloatArray:
    """Probabilities summing to ``n`` (at most 1 each): ``(1 - mix)`` of the budget in
    proportion to ``sizes``, ``mix`` uniformly; units that would exceed 1 are taken for sure
    and the rest shared again. With ``cells``, every cell's probabilities sum to at least one
    (so :func:`systematic_sample`, drawing along cells, labels a unit of each), the rest of the
    budget shrinking to make room."""
    sizes = np.asarray(sizes, dtype=np.float64)
    total_units = len(sizes)
    if n >= total_units:
        return np.ones(total_units)
    uniform = np.full(total_units, 1.0 / total_units)
    share = sizes / sizes.sum() if sizes.sum() > 0 else uniform
    weight = (1 - mix) * share + mix * uniform
    if cells is not None:
        weight = _cell_floor(weight, n, cells)
    sure = np.zeros(total_units, dtype=bool)
    while True:
        left = n - int(sure.sum())
        rest = weight * ~sure
        pi = np.where(sure, 1.0, left * rest / rest.sum())
        over = (pi > 1.0) & ~sure
        if not over.any():
            return pi
        sure |= over


def _cell_floor(weight: FloatArray, n: int, cells: Sequence[Hashable]) -> FloatArray:
    """Weights (summing to one) where every cell holds at least ``1 / n`` of the sum."""
    groups: dict[Hashable, list[int]] = defaultdict(list)
    for i, key in enumerate(cells):
        groups[key].append(i)
    out: FloatArray = np.asarray(weight / weight.sum(), dtype=np.float64)
    small = {k: np.asarray(v) for k, v in groups.items() if out[v].sum() < 1.0 / n}
    if not small or len(small) >= n:
        return out
    floor_idx = np.concatenate(list(small.values()))
    rest = np.ones(len(out), dtype=bool)
    rest[floor_idx] = False
    for idx in small.values():
        out[idx] = out[idx] / out[idx].sum() / n
    out[rest] *= (1.0 - len(small) / n) / out[rest].sum()
    return out


def systematic_sample(pi: FloatArray, order: Sequence[int], rng: np.random.Generator) -> list[int]:
    """Units drawn by systematic PPS along ``order``: unit ``i`` is in with probability
    ``pi[i]`` exactly, and ``round(sum(pi))`` units are drawn."""
    ordered = np.asarray(pi, dtype=np.float64)[np.asarray(order, dtype=np.int64)]
    edges = np.concatenate([[0.0], np.cumsum(ordered)])
    points = rng.random() + np.arange(int(np.floor(edges[-1] + 1e-9)))
    hits = np.searchsorted(edges, points, side="right") - 1
    hits = hits[(hits >= 0) & (hits < len(ordered))]
    return sorted({int(order[h]) for h in hits})


@dataclass(frozen=True)
class ScoredSample:
    """One slice: every unit's cell (band), prediction ``p`` and flag; the labelled units' cell,
    prediction, flag, inclusion probability and whether each was defective."""

    cells: Sequence[str]
    p: FloatArray
    flagged: BoolArray
    label_cells: Sequence[str]
    label_p: FloatArray
    label_flagged: BoolArray
    pi: FloatArray
    defective: BoolArray


@dataclass(frozen=True)
class _Terms:
    """Per unit and per label: numerator / denominator predictions and observed values."""

    pred_num: FloatArray
    pred_den: FloatArray
    lab_num: FloatArray
    lab_den: FloatArray
    y_num: FloatArray
    y_den: FloatArray
    can: BoolArray
    lab_can: BoolArray


def _terms(s: ScoredSample, metric: str) -> _Terms:
    """FNR: numerator the misses (defective, not flagged), denominator the defects; FPR: the
    false flags (good, flagged) over the good units."""
    p, flag = np.asarray(s.p, dtype=np.float64), np.asarray(s.flagged, dtype=bool)
    lp, lf = np.asarray(s.label_p, dtype=np.float64), np.asarray(s.label_flagged, dtype=bool)
    d = np.asarray(s.defective, dtype=np.float64)
    if metric == "fnr":
        return _Terms(p * ~flag, p, lp * ~lf, lp, d * ~lf, d, ~flag, ~lf)
    return _Terms((1 - p) * flag, 1 - p, (1 - lp) * lf, 1 - lp, (1 - d) * lf, 1 - d, flag, lf)


_JOINS = {
    "flagged": ("uncertain", "passed"),
    "uncertain": ("passed", "flagged"),
    "passed": ("uncertain", "flagged"),
}
"""Where a cell without labels joins: a neighbouring band of the same slice, the same side of
the threshold first (as :mod:`.design` joins its cells)."""


def _joined(
    cells: npt.NDArray[np.str_], label_cells: npt.NDArray[np.str_]
) -> tuple[npt.NDArray[np.str_], npt.NDArray[np.str_]]:
    """The variance cells: a cell (``band`` or ``slice/band``) without labels joins a labelled
    neighbour of its slice, else the slice's most labelled cell (a uniform audit of 1 % leaves
    small cells empty; its units are still sampled, only their cell is not a stratum)."""
    labelled = {str(c): int((label_cells == c).sum()) for c in set(label_cells.tolist())}
    if not labelled:
        return cells, label_cells
    into: dict[str, str] = {}
    for cell in set(cells.tolist()) - set(labelled):
        prefix, _, band = str(cell).rpartition("/")
        names = [f"{prefix}/{b}" if prefix else b for b in _JOINS.get(band, ())]
        most = max(labelled, key=lambda c: labelled[c])
        into[cell] = next((n for n in names if n in labelled), most)
    if not into:
        return cells, label_cells
    return np.array([into.get(str(c), str(c)) for c in cells.tolist()]), label_cells


def difference_rate(
    s: ScoredSample, metric: str, *, z: float = Z95
) -> tuple[float | None, float, float, float]:
    """``(value, lo, hi, sd)`` of a slice's ``"fnr"`` or ``"fpr"`` (module docstring);
    ``value`` is ``None`` where neither the labels nor the predictions see a denominator."""
    t = _terms(s, metric)
    w = 1.0 / np.asarray(s.pi, dtype=np.float64)
    e_num, e_den = t.y_num - t.lab_num, t.y_den - t.lab_den
    t_num = float(t.pred_num.sum() + (w * e_num).sum())
    t_den = float(t.pred_den.sum() + (w * e_den).sum())
    if t_den <= 0:
        return None, 0.0, 1.0, float("inf")
    ratio = min(max(t_num / t_den, 0.0), 1.0)
    # what the calibration expects each label's residual variance to be (HT-weighted)
    q = np.clip(t.lab_den, _P_FLOOR, 1 - _P_FLOOR)
    spread = q * (1 - q) * (w - 1) * w
    cells, label_cells = _joined(np.asarray(s.cells), np.asarray(s.label_cells))
    c = np.where(t.lab_can, 1 - ratio, -ratio) / t_den
    resid = w * (e_num - ratio * e_den) / t_den
    sd = np.sqrt(_variance(resid, spread * c**2, cells, label_cells, (1 - ratio) / t_den))
    lo, hi = ratio - z * sd, ratio + z * sd
    # the ratio bends where the numerator is most of the total (FNR near 1): map the
    # numerator's own interval through it, the rest held at its estimate, and keep the wider
    sd_num = np.sqrt(_variance(w * e_num, spread * t.lab_can, cells, label_cells, 1.0))
    rest = max(t_den - t_num, 0.0)
    low, high = max(t_num - z * sd_num, 0.0), max(t_num + z * sd_num, 0.0)
    if low + rest > 0:
        lo = min(lo, low / (low + rest))
    if high + rest > 0:
        hi = max(hi, high / (high + rest))
    return ratio, float(max(0.0, lo)), float(min(1.0, hi)), float(sd)


def _variance(
    resid: FloatArray,
    expected: FloatArray,
    cells: npt.NDArray[np.str_],
    label_cells: npt.NDArray[np.str_],
    whole: float,
) -> float:
    """Hansen-Hurwitz variance of the summed ``resid`` per cell (finite-population factor),
    never below the ``expected`` one; a cell without labels: one unit of residual ``whole``
    standing for all its units."""
    var = 0.0
    for cell in sorted(set(cells.tolist())):
        size = int((cells == cell).sum())
        mine = label_cells == cell
        n = int(mine.sum())
        if n >= size:
            continue  # a census cell has no sampling error
        if n == 0:  # nothing labelled in the slice: one unit found would stand for them all
            var += (size * whole) ** 2
            continue
        r = resid[mine]
        spread = float(((r - r.mean()) ** 2).sum()) * n / (n - 1) if n > 1 else float(r @ r)
        var += max((1 - n / size) * spread, float(expected[mine].sum()))
    return var
