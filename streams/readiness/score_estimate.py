"""The design-based estimator of a score-chosen audit (:mod:`streams.readiness.score_design`
chooses the units; issue 21).

:func:`difference_rate` estimates ``num / den`` from such a sample: each total is the sum of
the predictions over every unit plus the inverse-probability-weighted prediction errors of the
labelled ones (the difference estimator, or prediction-powered inference); without predictions
(``p = 0``) it is the plain Horvitz-Thompson ratio. Its variance is the linearised
with-replacement (Hansen-Hurwitz) variance per cell (slice x band), with a finite-population
factor, but never less than the variance the calibration anticipates there for the design,
``sum(c_i^2 v_i (1 / pi_i - 1))`` over the cell's units: the cell's known ``sum(c_i^2 v_i)``
times the labels' ratio (Hajek) estimate of ``1 / pi - 1``, weighted by ``c^2 v`` (exact where
``pi`` is constant in the cell, and steadier than the labels' own Horvitz-Thompson sum, which
in a uniform sample swings with how many of the few likely misses it drew). Where no miss was
seen among a cell's labels the sampled spread is near zero, while misses the calibration
considers possible still could be there, so the interval is never zero-width unless the cell
is a census (a cell without labels joins a labelled neighbour of its slice). That floor
trusts the calibration, so it is scaled by how far the labels contradict it
(:func:`label_dispersion`, over every designed label of the store, flagged and unflagged units
apart): where the labels found a miss the calibration gave 1e-4, its anticipated variance for
every unflagged unit grows by that misfit (about the labels' found / expected defects), as when
a camera fails and the lab calibration no longer holds. The normal
interval on the linearised ratio is widened to the numerator's own interval mapped through the
ratio (the rest held at its estimate), which the linearisation understates where the ratio
bends (FNR near 1).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from streams.readiness.score_design import P_FLOOR, BoolArray, FloatArray
from streams.readiness.stats import Z95

__all__ = ["ScoredSample", "difference_rate", "label_dispersion"]


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
    dispersion: tuple[float, float] = (1.0, 1.0)
    """The calibration's misfit on (flagged, unflagged) units, :func:`label_dispersion`."""


def label_dispersion(
    label_p: FloatArray, label_flagged: BoolArray, defective: BoolArray, pi: FloatArray
) -> tuple[float, float]:
    """How far designed labels contradict the calibration, on (flagged, unflagged) units: the
    line's squared prediction errors over the variance the calibration expects them to have,
    ``sum((y - p)^2 / pi) / sum(p (1 - p) / pi)`` (Pearson's dispersion, each total estimated
    from the labels by Horvitz-Thompson so that a plan which labels the likely misses does
    not read them as the whole line's; ``p`` kept in ``[P_FLOOR, 1 - P_FLOOR]``), at least 1.
    For rare outcomes it is about the line's found over expected defects: one miss among 300
    passed units the calibration gives 1e-4 each reads ~33. Pass every designed label of the
    store (all slices): a slice's own few labels rarely see the misses a failing camera adds,
    the store's more often."""
    q = np.clip(np.asarray(label_p, dtype=np.float64), P_FLOOR, 1 - P_FLOOR)
    y = np.asarray(defective, dtype=np.float64)
    w = 1.0 / np.asarray(pi, dtype=np.float64)
    flagged = np.asarray(label_flagged, dtype=bool)
    found = []
    for side in (flagged, ~flagged):
        expected = float((w[side] * q[side] * (1 - q[side])).sum())
        seen = float((w[side] * (y[side] - q[side]) ** 2).sum())
        found.append(max(1.0, seen / expected) if expected > 0 else 1.0)
    return found[0], found[1]


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
    "uncertain": ("passed",),
    "passed": ("uncertain",),
}
"""Where a cell without labels joins: a neighbouring band of the same slice; an unflagged cell
only on its side of the threshold (as :mod:`.design` joins its cells)."""


def _joined(
    cells: npt.NDArray[np.str_], label_cells: npt.NDArray[np.str_]
) -> tuple[npt.NDArray[np.str_], npt.NDArray[np.str_]]:
    """The variance cells: a cell (``band`` or ``slice/band``) without labels joins a labelled
    neighbour of its slice (a uniform audit of 1 % leaves small cells empty; its units are still
    sampled, only their cell is not a stratum); a flagged one with none joins the slice's most
    labelled cell, an unflagged one with none on its side of the threshold stays alone (its
    units are not like flagged ones: :func:`_variance` counts one of them found for all)."""
    labelled = {str(c): int((label_cells == c).sum()) for c in set(label_cells.tolist())}
    if not labelled:
        return cells, label_cells
    into: dict[str, str] = {}
    for cell in set(cells.tolist()) - set(labelled):
        prefix, _, band = str(cell).rpartition("/")
        names = [f"{prefix}/{b}" if prefix else b for b in _JOINS.get(band, ())]
        most = max(labelled, key=lambda c: labelled[c]) if band == "flagged" else None
        target = next((n for n in names if n in labelled), most)
        if target is not None:
            into[cell] = target
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
    # what the calibration expects each unit's residual variance to be, times its misfit
    q = np.clip(t.lab_den, P_FLOOR, 1 - P_FLOOR)
    u = np.clip(t.pred_den, P_FLOOR, 1 - P_FLOOR)
    on, off = s.dispersion
    lab_scale = np.where(np.asarray(s.label_flagged, dtype=bool), on, off)
    all_scale = np.where(np.asarray(s.flagged, dtype=bool), on, off)
    model = _Model(w, q * (1 - q) * lab_scale, u * (1 - u) * all_scale)
    cells, label_cells = _joined(np.asarray(s.cells), np.asarray(s.label_cells))
    c = np.where(t.lab_can, 1 - ratio, -ratio) / t_den
    c_all = np.where(t.can, 1 - ratio, -ratio) / t_den
    resid = w * (e_num - ratio * e_den) / t_den
    # a unit of a cell without labels, found: a numerator unit moves the ratio by (1 - ratio),
    # a denominator-only one by ratio (over the total)
    whole = np.where(t.can, 1 - ratio, ratio) / t_den
    sd = np.sqrt(_variance(resid, model.scaled(c, c_all), cells, label_cells, whole))
    lo, hi = ratio - z * sd, ratio + z * sd
    # the ratio bends where the numerator is most of the total (FNR near 1): map the
    # numerator's own interval through it, the rest held at its estimate, and keep the wider
    num_model = model.scaled(t.lab_can.astype(np.float64), t.can.astype(np.float64))
    sd_num = np.sqrt(_variance(w * e_num, num_model, cells, label_cells, t.can.astype(np.float64)))
    rest = max(t_den - t_num, 0.0)
    low, high = max(t_num - z * sd_num, 0.0), max(t_num + z * sd_num, 0.0)
    if low + rest > 0:
        lo = min(lo, low / (low + rest))
    if high + rest > 0:
        hi = max(hi, high / (high + rest))
    return ratio, float(max(0.0, lo)), float(min(1.0, hi)), float(sd)


@dataclass(frozen=True)
class _Model:
    """What the calibration expects: every label's weight ``w`` and residual variance ``v``
    (``q (1 - q)``) and every unit's ``v_all``, times the linearisation's coefficients."""

    w: FloatArray
    v: FloatArray
    v_all: FloatArray

    def scaled(self, c: FloatArray, c_all: FloatArray) -> _Model:
        return _Model(self.w, self.v * c**2, self.v_all * c_all**2)


def _variance(
    resid: FloatArray,
    model: _Model,
    cells: npt.NDArray[np.str_],
    label_cells: npt.NDArray[np.str_],
    whole: FloatArray,
) -> float:
    """Hansen-Hurwitz variance of the summed ``resid`` per cell (finite-population factor),
    never below the variance the calibration anticipates for the design there,
    ``sum(v_i (1 / pi_i - 1))`` over the cell's units: the cell's known ``sum(v_i)`` times the
    labels' ratio estimate of ``1 / pi - 1`` weighted by ``v`` (exact where ``pi`` is constant
    in the cell); a cell without labels: one unit found standing for all its units, each of
    residual ``whole`` (per unit)."""
    var = 0.0
    for cell in sorted(set(cells.tolist())):
        members = cells == cell
        size = int(members.sum())
        mine = label_cells == cell
        n = int(mine.sum())
        if n >= size:
            continue  # a census cell has no sampling error
        if n == 0:  # nothing labelled like it: one unit found would stand for them all
            var += float(whole[members].sum()) ** 2
            continue
        r = resid[mine]
        spread = float(((r - r.mean()) ** 2).sum()) * n / (n - 1) if n > 1 else float(r @ r)
        v, w = model.v[mine], model.w[mine]
        seen = float((v * w).sum())
        anticipated = (
            float(model.v_all[members].sum()) * float((v * (w - 1) * w).sum()) / seen
            if seen > 0
            else 0.0
        )
        var += max((1 - n / size) * spread, anticipated)
    return var
