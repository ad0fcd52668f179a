"""The whole-chain bootstrap of a re-weighted estimate: its intervals include the density
ratio's own uncertainty, not only the calibration's.

A re-weighted estimate (:mod:`streams.estimation.reweighted`) is a chain: match the window's
frames to lab frames (the importance weights), fit the weighted calibration, estimate the
window's prevalence from its scores, sum the calibrated posteriors. Each replicate of
:func:`chain_draws` runs the whole chain again on

- a resample of the window's frames (so the weights are re-derived from the resampled frames'
  nearest lab frames: the density ratio's sampling error),
- a resample of the lab frames (a lab frame drawn ``j`` times weighs ``j`` times: the
  calibration's sampling error; the weights concentrate on few lab frames when the effective
  sample size is small, and the spread grows with it),
- and the window's own outcomes drawn from their posteriors (the window's defects are a
  sample too: its realized recall scatters around the expected one).

Every replicate also gives the recall read *directly* from the weighted lab frames (the share
of the weighted defective lab frames whose top score reaches the threshold, drawn for the
window's number of defects). That reading assumes only ``P(score | inputs, defective)`` is the
lab's; the calibrated one also assumes the window's scores are explained by the matched lab
frames. Where the two disagree the inputs compared do not explain the shift (a focus loss
that keeps the contrast, a condition between two lab severities), and the interval spans
both (:func:`recall_interval`).

>>> rng = np.random.default_rng(0)
>>> lab_y = rng.integers(0, 2, 600)
>>> lab_s = np.where(lab_y == 1, rng.uniform(0.3, 1.0, 600), rng.uniform(0.0, 0.5, 600))
>>> near = rng.integers(0, 600, (400, 30))    # every window frame's 30 nearest lab frames
>>> chain = Chain(lab_s[:400], near, lab_s, lab_y, threshold=0.45, prevalence=None)
>>> d = chain_draws(chain, draws=40, seed=1)
>>> sorted(d), len(d["recall"]) > 30
(['fpr', 'lab_recall', 'precision', 'recall'], True)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from streams.errors import EstimationError
from streams.estimation.calibration import IsotonicCalibration, em_prevalence
from streams.estimation.estimator import Estimate

__all__ = ["Chain", "chain_draws", "interval", "recall_interval"]

FloatArray = npt.NDArray[np.float64]

_FLOOR = 1e-6


@dataclass(frozen=True)
class Chain:
    """What one window's re-weighted estimate is computed from."""

    scores: FloatArray
    """The window frames' top scores."""
    neighbours: npt.NDArray[np.intp]
    """Per window frame, the indices of its nearest lab frames (the matching)."""
    lab_scores: FloatArray
    lab_defective: npt.NDArray[Any]
    threshold: float
    prevalence: float | None
    """The known prevalence, or ``None``: estimated by EM in every replicate."""
    base_rate: bool = False
    """Recall is over the base-rate count ``prevalence * frames`` (see the estimator)."""
    units_share: float | None = None
    """The window's defect share for the direct reading's draw of its defects (``None``: each
    replicate's prevalence; set where excess flags make EM's estimate run high)."""

    def __post_init__(self) -> None:
        if len(self.neighbours) != len(self.scores):
            raise EstimationError(
                f"{len(self.neighbours)} neighbour rows for {len(self.scores)} window frames"
            )


def _ratios(tp: int, fp: int, fn: int, tn: int, defective: float) -> tuple[float, ...]:
    return (
        tp / (tp + fp) if tp + fp > 0 else np.nan,
        min(tp / defective, 1.0) if defective > 0 else np.nan,
        fp / (fp + tn) if fp + tn > 0 else np.nan,
    )


def _one(c: Chain, rng: np.random.Generator) -> tuple[float, ...] | None:
    """One replicate: precision, recall, FPR and the direct lab recall (``None``: the
    resampled weighted lab lacks a class)."""
    m, n = len(c.scores), len(c.lab_scores)
    rows = rng.integers(0, m, m)
    times = np.bincount(rng.integers(0, n, n), minlength=n)
    w = np.bincount(c.neighbours[rows].ravel(), minlength=n) * times
    keep = w > 0
    y = np.asarray(c.lab_defective, dtype=np.float64)[keep]
    if y.size < 20 or y.min() == y.max():
        return None
    ls, lw = c.lab_scores[keep], w[keep].astype(np.float64)
    cal = IsotonicCalibration.fit(ls, y, weights=lw)
    s = c.scores[rows]
    prior = em_prevalence(cal, s) if c.prevalence is None else c.prevalence
    prior = min(max(prior, _FLOOR), 1 - _FLOOR)
    outcome = rng.random(m) < cal.at_prevalence(s, prior)
    flagged = s >= c.threshold
    tp = int(np.count_nonzero(outcome & flagged))
    fp = int(np.count_nonzero(flagged)) - tp
    fn = int(np.count_nonzero(outcome & ~flagged))
    base = prior * m
    defective = max(float(rng.poisson(base)), tp) if c.base_rate else tp + fn
    caught = float((lw * y * (ls >= c.threshold)).sum() / (lw * y).sum())
    share = prior if c.units_share is None else c.units_share
    units = max(int(rng.poisson(share * m)), 1)
    direct = rng.binomial(units, caught) / units
    return (*_ratios(tp, fp, fn, m - tp - fp - fn, defective), direct)


def chain_draws(c: Chain, *, draws: int, seed: int) -> dict[str, FloatArray]:
    """``draws`` replicates of the whole chain (see the module docstring): per figure
    (``precision``, ``recall``, ``fpr``, ``lab_recall``) its finite replicate values."""
    rng = np.random.default_rng(seed)
    rows = [r for r in (_one(c, rng) for _ in range(draws)) if r is not None]
    table = np.asarray(rows, dtype=np.float64).reshape(len(rows), 4)
    names = ("precision", "recall", "fpr", "lab_recall")
    return {name: table[np.isfinite(table[:, j]), j] for j, name in enumerate(names)}


def interval(value: float | None, samples: FloatArray) -> Estimate:
    """The point ``value`` with the 2.5-97.5 % quantiles of ``samples`` (widened to hold the
    value); no interval from fewer than 10 samples.

    >>> e = interval(0.5, np.linspace(0.4, 0.7, 101))
    >>> round(e.lo or 0, 4), round(e.hi or 0, 4)
    (0.4075, 0.6925)
    >>> interval(None, np.ones(50)), interval(0.5, np.ones(3))
    (Estimate(value=None, lo=None, hi=None), Estimate(value=0.5, lo=None, hi=None))
    """
    if value is None or not np.isfinite(value):
        return Estimate(None, None, None)
    if samples.size < 10:
        return Estimate(value, None, None)
    lo, hi = np.quantile(samples, [0.025, 0.975])
    return Estimate(value, float(min(lo, value)), float(max(hi, value)))


def recall_interval(calibrated: Estimate, direct: Estimate) -> Estimate:
    """The direct reading of recall with an interval spanning both readings' intervals.

    The direct reading (the weighted lab frames' own recall) needs neither the window's
    prevalence (EM on ~50 defects errs by ±25 %) nor the calibration's posteriors at a 2 %
    prevalence (its shrinkage counts each flagged defect as ~0.7 of one): it assumes only
    that the inputs compared explain the shift, which the ``unknown`` rules check. The
    calibrated reading, which follows the window's scores, bounds it: where the two
    disagree, the interval holds both (measured in docs/estimation.md). Without a direct
    reading the calibrated one stands alone; without both intervals (fewer than 10 usable
    replicates) there is no interval.

    >>> recall_interval(Estimate(0.875, 0.85, 0.95), Estimate(0.625, 0.5, 0.75))
    Estimate(value=0.625, lo=0.5, hi=0.95)
    >>> recall_interval(Estimate(0.9, 0.85, 0.95), Estimate(None, None, None))
    Estimate(value=0.9, lo=0.85, hi=0.95)
    >>> recall_interval(Estimate(0.9, 0.85, 0.95), Estimate(0.7, None, None))
    Estimate(value=0.7, lo=None, hi=None)
    """
    if direct.value is None:
        return calibrated
    c_lo, c_hi, d_lo, d_hi = calibrated.lo, calibrated.hi, direct.lo, direct.hi
    if c_lo is None or c_hi is None or d_lo is None or d_hi is None:
        return Estimate(direct.value, None, None)
    return Estimate(direct.value, min(c_lo, d_lo), max(c_hi, d_hi))
