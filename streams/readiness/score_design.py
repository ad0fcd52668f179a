"""Audits chosen unit by unit from the model's score: active-testing inclusion probabilities
(issue 21).

Each unit ``i`` of a slice has a predicted defect probability ``p_i`` (the lab calibration of
its top confidence, :mod:`streams.estimation.calibration`, moved to the production prevalence).
A slice's FNR is ``M / D``: ``M`` the missed defects (defective, not flagged), ``D`` all
defects; its FPR is ``F / G``: false flags among the good units. Linearised, a unit adds
``c_i (d_i - p_i) / D`` to the FNR's error, with ``c_i = 1[passed_i] - FNR`` (``1 - FNR`` for a
unit that passed, ``-FNR`` for a flagged one), and ``(1[flagged_i] - FPR) (g_i - (1 - p_i)) / G``
to the FPR's. The calibration expects ``(d_i - p_i)^2`` to be ``v_i = p_i (1 - p_i)``, so under
a design with inclusion probabilities ``pi_i`` the difference estimator's anticipated variance
of a slice's FNR is ``sum_i a_fnr_i^2 (1 / pi_i - 1)`` with

    a_fnr_i = |1[passed_i] - FNR| sqrt(v_i) / D,    a_fpr_i = |1[flagged_i] - FPR| sqrt(v_i) / G

(:func:`metric_sizes`; ``FNR``, ``FPR``, ``D``, ``G`` the slice's label-free figures from the
``p_i``). A flagged unit tells little about a good detector's FNR (``c = -FNR``, near 0); a
passed unit the calibration is unsure of tells most. :func:`plan_probabilities` chooses the
``pi`` that minimise the sum over slices of ``sd_fnr + fpr_weight * sd_fpr`` (the summed
interval widths, FNR and FPR counted alike by default): at the optimum

    pi_i  proportional to  sqrt(a_fnr_i^2 / sd_fnr(s) + fpr_weight * a_fpr_i^2 / sd_fpr(s))

for the unit's slice ``s``, found by a few fixed-point rounds from the summed variances (all
``sd`` one; that alone would spend most labels on the slices with the fewest defects, while
the summed widths share them out like Neyman's allocation across slices: a slice gets
labels in proportion to about the 2/3 power of its ``sum(a_i)``, not the first). The budget
between FNR and FPR follows from the same optimum: a flagged unit gets labels for the FPR, a
passed one for the FNR, each as far as it narrows them. Each ``pi`` stays within
``[LEAST_SHARE * n / N, 1]`` (so weights are bounded: a unit the calibration calls certain can
still be chosen) and every slice x band cell gets one unit at least
(:func:`inclusion_probabilities`). :func:`systematic_sample` draws exactly ``round(sum(pi))``
units with those probabilities (systematic PPS over the units sorted by slice, band and score:
an implicit stratification). "Active testing", Kossen et al. 2021, is the same idea.

The estimator that goes with such a sample is :mod:`streams.readiness.score_estimate`.

Passed units the calibration is less sure of are likelier to be audited, flagged ones (which
tell the FPR, not the FNR) least:

>>> flagged = np.array([True] * 10 + [False] * 90)
>>> p = np.concatenate([np.full(10, 0.8), np.full(45, 0.05), np.full(45, 0.002)])
>>> pi = plan_probabilities([("a",)] * 100, flagged, p, 30)
>>> round(float(pi.sum()), 6), round(float(pi[10] / pi[-1]), 1), bool(pi[0] < pi[10])
(30.0, 4.9, True)
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Hashable, Sequence

import numpy as np
import numpy.typing as npt

from streams.estimation.calibration import IsotonicCalibration, em_prevalence

__all__ = [
    "LEAST_SHARE",
    "P_FLOOR",
    "BoolArray",
    "FloatArray",
    "inclusion_probabilities",
    "metric_sizes",
    "plan_probabilities",
    "plan_sizes",
    "predicted_defect",
    "slice_prevalences",
    "systematic_sample",
]

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
IntArray = npt.NDArray[np.int64]

P_FLOOR = 1e-4
"""Least predicted defect probability a size is computed from (a unit is never certain)."""

LEAST_SHARE = 0.1
"""No unit's inclusion probability is below this share of the uniform one (``n / N``), so no
label weighs more than ten uniform ones: a unit the calibration calls certain can still be
chosen, and a miss found there does not swamp its slice's figure."""


def slice_prevalences(
    calibration: IsotonicCalibration, slices: Sequence[Hashable], scores: FloatArray
) -> dict[Hashable, float]:
    """Each slice's defect prevalence, label-free (EM on its scores), kept inside (0, 1)."""
    scores = np.asarray(scores, dtype=np.float64)
    groups: dict[Hashable, list[int]] = defaultdict(list)
    for i, key in enumerate(slices):
        groups[key].append(i)
    return {
        key: min(max(em_prevalence(calibration, scores[idx]), P_FLOOR), 1 - P_FLOOR)
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


def metric_sizes(
    slices: Sequence[Hashable], flagged: BoolArray, p: FloatArray
) -> tuple[FloatArray, FloatArray, IntArray]:
    """Every unit's ``a_fnr`` and ``a_fpr`` (module docstring) and its slice's index, from its
    slice, flag and predicted ``p``; the prior FNR / FPR are the label-free ones of the slice."""
    p = np.clip(np.asarray(p, dtype=np.float64), P_FLOOR, 1 - P_FLOOR)
    flagged = np.asarray(flagged, dtype=bool)
    a_fnr, a_fpr = np.zeros(len(p)), np.zeros(len(p))
    group = np.zeros(len(p), dtype=np.int64)
    for g, idx in enumerate(_groups(slices).values()):
        ps, fs = p[idx], flagged[idx]
        defects, good = float(ps.sum()), float((1 - ps).sum())
        fnr, fpr = float(ps[~fs].sum()) / defects, float((1 - ps[fs]).sum()) / good
        spread = np.sqrt(ps * (1 - ps))
        a_fnr[idx] = np.abs(np.where(fs, 0.0, 1.0) - fnr) * spread / defects
        a_fpr[idx] = np.abs(np.where(fs, 1.0, 0.0) - fpr) * spread / good
        group[idx] = g
    return a_fnr, a_fpr, group


def plan_probabilities(
    slices: Sequence[Hashable],
    flagged: BoolArray,
    p: FloatArray,
    n: int,
    *,
    cells: Sequence[Hashable] | None = None,
    least: float = LEAST_SHARE,
    fpr_weight: float = 1.0,
    rounds: int = 8,
) -> FloatArray:
    """Inclusion probabilities summing to ``n`` that minimise the summed standard errors of every
    slice's FNR and (times ``fpr_weight``) FPR (module docstring): ``rounds`` fixed-point
    rounds of :func:`inclusion_probabilities` on ``sqrt(a_fnr^2 / sd_fnr + a_fpr^2 / sd_fpr)``,
    each slice's ``sd`` that of the round before (the first round: the summed variances)."""
    pi, _ = plan_sizes(
        slices, flagged, p, n, cells=cells, least=least, fpr_weight=fpr_weight, rounds=rounds
    )
    return pi


def plan_sizes(
    slices: Sequence[Hashable],
    flagged: BoolArray,
    p: FloatArray,
    n: float,
    *,
    cells: Sequence[Hashable] | None = None,
    least: float = LEAST_SHARE,
    fpr_weight: float = 1.0,
    rounds: int = 8,
) -> tuple[FloatArray, FloatArray]:
    """:func:`plan_probabilities` and the unit sizes of its last round: without ``cells`` each
    probability is ``clip(t * size, least * n / N, 1)`` for one ``t`` (what a stream that sees
    one unit at a time needs to give a unit the plan's probability)."""
    a_fnr, a_fpr, group = metric_sizes(slices, flagged, p)
    count = int(group.max()) + 1 if len(group) else 0
    w_fnr, w_fpr = np.ones(count), np.full(count, fpr_weight)
    pi, sizes = np.ones(len(group)), np.ones(len(group))
    for _ in range(max(rounds, 1)):
        sizes = np.sqrt(w_fnr[group] * a_fnr**2 + w_fpr[group] * a_fpr**2)
        pi = inclusion_probabilities(sizes, n, least=least, cells=cells)
        w_fnr = 1.0 / np.sqrt(np.maximum(_anticipated(a_fnr, pi, group, count), 1e-18))
        w_fpr = fpr_weight / np.sqrt(np.maximum(_anticipated(a_fpr, pi, group, count), 1e-18))
    return pi, sizes


def _anticipated(sizes: FloatArray, pi: FloatArray, group: IntArray, count: int) -> FloatArray:
    """Per slice ``sum(a_i^2 (1 / pi_i - 1))``: the variance the design is expected to give."""
    return np.asarray(
        np.bincount(group, sizes**2 * (1 / pi - 1), minlength=count), dtype=np.float64
    )


def inclusion_probabilities(
    sizes: FloatArray,
    n: float,
    *,
    least: float = LEAST_SHARE,
    cells: Sequence[Hashable] | None = None,
) -> FloatArray:
    """Probabilities summing to ``n``: ``clip(t * size_i, least * n / N, 1)`` with ``t`` set to
    meet the budget (the minimum of ``sum(size_i^2 / pi_i)`` within those bounds). With
    ``cells``, every cell's probabilities sum to at least one (all of a cell of fewer units),
    so :func:`systematic_sample`, drawing along cells, labels a unit of each; such a cell's
    units keep their proportions and the rest of the budget is shared again."""
    sizes = np.asarray(sizes, dtype=np.float64)
    total = len(sizes)
    if n >= total:
        return np.ones(total)
    top = float(sizes.max()) if total else 0.0
    sizes = np.maximum(sizes, 1e-12 * top) if top > 0 else np.ones(total)
    low = np.full(total, min(least, 1.0) * n / total)
    if cells is None:
        return _bounded(sizes, float(n), low)
    codes: dict[Hashable, int] = {}
    cell = np.array([codes.setdefault(c, len(codes)) for c in cells], dtype=np.int64)
    members = np.bincount(cell, minlength=len(codes))
    pi = np.zeros(total)
    held = np.zeros(len(codes), dtype=bool)
    while True:
        rest = ~held[cell]
        pi[rest] = _bounded(sizes[rest], n - float(pi[~rest].sum()), low[rest])
        short = ~held & (
            np.bincount(cell, pi, minlength=len(codes)) < np.minimum(members, 1) - 1e-9
        )
        if not short.any():
            return pi
        for c in np.flatnonzero(short):
            mine = cell == c
            pi[mine] = _bounded(sizes[mine], 1.0, low[mine])
        held |= short


def _bounded(sizes: FloatArray, total: float, low: FloatArray) -> FloatArray:
    """``clip(t * sizes, low, 1)`` summing to ``total`` (``t`` by bisection)."""
    if total >= len(sizes):
        return np.ones(len(sizes))
    if total <= float(low.sum()):
        return np.asarray(low * total / max(float(low.sum()), 1e-300), dtype=np.float64)

    def filled(t: float) -> float:
        return float(np.clip(sizes * t, low, 1.0).sum())

    lo_t, hi_t = 0.0, 1.0 / float(sizes.max())
    while filled(hi_t) < total:
        hi_t *= 2
    for _ in range(200):
        mid = (lo_t + hi_t) / 2
        if filled(mid) < total:
            lo_t = mid
        else:
            hi_t = mid
        if hi_t - lo_t <= 1e-15 * hi_t:
            break
    pi = np.clip(sizes * hi_t, low, 1.0)
    free = (pi > low) & (pi < 1.0)
    if free.any():  # the bisection's last rounding, onto the units between the bounds
        pi[free] += (total - pi.sum()) * pi[free] / pi[free].sum()
    return np.asarray(np.minimum(pi, 1.0), dtype=np.float64)


def _groups(keys: Sequence[Hashable]) -> dict[Hashable, IntArray]:
    groups: dict[Hashable, list[int]] = defaultdict(list)
    for i, key in enumerate(keys):
        groups[key].append(i)
    return {k: np.asarray(v, dtype=np.int64) for k, v in groups.items()}


def systematic_sample(pi: FloatArray, order: Sequence[int], rng: np.random.Generator) -> list[int]:
    """Units drawn by systematic PPS along ``order``: unit ``i`` is in with probability
    ``pi[i]`` exactly, and ``round(sum(pi))`` units are drawn."""
    ordered = np.asarray(pi, dtype=np.float64)[np.asarray(order, dtype=np.int64)]
    edges = np.concatenate([[0.0], np.cumsum(ordered)])
    points = rng.random() + np.arange(int(np.floor(edges[-1] + 1e-9)))
    hits = np.searchsorted(edges, points, side="right") - 1
    hits = hits[(hits >= 0) & (hits < len(ordered))]
    return sorted({int(order[h]) for h in hits})
