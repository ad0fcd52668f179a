"""Confidence calibration: the probability that a frame is defective given the model's top score.

Fitted once on the labelled lab split (isotonic regression by pool-adjacent-violators, so the
map is monotone and needs no parametric form), then moved to the production defect prevalence by
Bayes' rule: calibration holds ``P(defective | score)`` at the *lab* prevalence (about half the
lab units are defective), and only the prior odds change in production (the label-shift
assumption: ``P(score | defective)`` and ``P(score | good)`` are the same as in the lab).

>>> x, y = [0.0, 0.1, 0.2, 0.3, 0.8, 0.9] * 4, [0, 0, 1, 0, 1, 1] * 4
>>> hard = IsotonicCalibration.fit(x, y, smoothing=0)
>>> [round(float(p), 3) for p in hard.predict([0, 0.25, 0.85])]
[0.0, 0.5, 1.0]
>>> [round(float(p), 3) for p in IsotonicCalibration.fit(x, y).predict([0.0, 0.25, 0.85])]
[0.056, 0.5, 0.944]
>>> round(float(shift_prior(np.array([0.5]), 0.5, 0.02)[0]), 4)
0.02
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from streams.errors import EstimationError

__all__ = ["IsotonicCalibration", "em_prevalence", "shift_prior"]

FloatArray = npt.NDArray[np.float64]

_EPS = 1e-6


@dataclass(frozen=True)
class IsotonicCalibration:
    """A monotone step map from top confidence to ``P(defective)`` at ``prevalence``.

    ``knots`` are increasing scores, ``values`` the calibrated probability from each knot on
    (a non-decreasing step function); ``prevalence`` is the defect share of the fitting set and
    ``n`` its size. ``unshrunk`` holds the blocks' plain defect shares (the isotonic maximum
    likelihood fit, before the shrinkage :meth:`fit` describes; empty: same as ``values``):
    :func:`em_prevalence` works on them.
    """

    knots: tuple[float, ...]
    values: tuple[float, ...]
    prevalence: float
    n: int
    unshrunk: tuple[float, ...] = ()

    @classmethod
    def fit(
        cls,
        scores: Sequence[float] | FloatArray,
        defective: Sequence[int] | FloatArray,
        *,
        smoothing: float = 1.0,
        weights: Sequence[float] | FloatArray | None = None,
    ) -> IsotonicCalibration:
        """Pool-adjacent-violators fit of ``defective`` (0/1) on ``scores``.

        Each block's rate is shrunk towards the set's prevalence by ``smoothing`` pseudo-units
        (a Beta prior): 57 defective of 57 lab frames above a score is strong evidence, not
        certainty, and at a 2 % production prevalence the difference between 0.99 and 1.0 is
        the difference between 73 % and 100 % precision. The shrunk steps are made monotone
        again by a running maximum.

        ``weights`` (importance weights of the frames, see :mod:`streams.estimation.shift`)
        make it a weighted fit; they are scaled to sum to their effective sample size, so a
        block's weight counts like that many frames against the pseudo-units, and ``n`` is the
        effective sample size.
        """
        x, y, w = _checked(scores, defective, weights)
        if smoothing < 0:
            raise EstimationError(f"smoothing must be >= 0, got {smoothing}")
        prevalence = float((w * y).sum() / w.sum())
        if prevalence <= 0.0 or prevalence >= 1.0:
            raise EstimationError(
                "calibration needs both defective and good lab frames; the lab split has only "
                + ("defective" if prevalence == 1.0 else "good")
                + " frames"
            )
        blocks_x, blocks_s, blocks_n = _pava(x, y, w)
        rates = np.asarray(
            [
                (s + smoothing * prevalence) / (n + smoothing)
                for s, n in zip(blocks_s, blocks_n, strict=True)
            ]
        )
        values = tuple(float(v) for v in np.maximum.accumulate(rates))
        unshrunk = tuple(float(s / n) for s, n in zip(blocks_s, blocks_n, strict=True))
        return cls(tuple(blocks_x), values, prevalence, round(float(w.sum())), unshrunk)

    def predict(self, scores: Sequence[float] | FloatArray) -> FloatArray:
        """``P(defective | score)`` at the fitting set's prevalence (step function)."""
        x = np.asarray(scores, dtype=np.float64)
        knots = np.asarray(self.knots)
        idx = np.searchsorted(knots, x, side="right") - 1
        idx = np.clip(idx, 0, len(self.values) - 1)
        return np.asarray(self.values, dtype=np.float64)[idx]

    def predict_unshrunk(self, scores: Sequence[float] | FloatArray) -> FloatArray:
        """Like :meth:`predict`, from the unshrunk block shares (``values`` where none)."""
        x = np.asarray(scores, dtype=np.float64)
        steps = np.asarray(self.unshrunk or self.values, dtype=np.float64)
        idx = np.searchsorted(np.asarray(self.knots), x, side="right") - 1
        return steps[np.clip(idx, 0, len(steps) - 1)]

    def at_prevalence(self, scores: Sequence[float] | FloatArray, prevalence: float) -> FloatArray:
        """``P(defective | score)`` at another defect prevalence (Bayes' rule on the odds)."""
        return shift_prior(self.predict(scores), self.prevalence, prevalence)


def _checked(
    scores: Sequence[float] | FloatArray,
    defective: Sequence[int] | FloatArray,
    weights: Sequence[float] | FloatArray | None,
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Scores, 0/1 outcomes and weights as arrays, checked; weights scaled to sum to their
    Kish effective sample size (all 1 when ``None``)."""
    x = np.asarray(scores, dtype=np.float64)
    y = np.asarray(defective, dtype=np.float64)
    if x.shape != y.shape or x.ndim != 1:
        raise EstimationError(
            f"calibration needs two equal-length 1-d arrays, got {x.shape} and {y.shape}"
        )
    if weights is None:
        w = np.ones_like(x)
    else:
        w = np.asarray(weights, dtype=np.float64)
        if w.shape != x.shape or not np.all(np.isfinite(w)) or np.any(w < 0) or w.sum() <= 0:
            raise EstimationError(
                "calibration weights must be finite, >= 0, not all 0, one per frame"
            )
        w = w * (w.sum() / float(np.square(w).sum()))  # sum = Kish effective sample size
    if x.size < 20:
        raise EstimationError(
            f"calibration needs at least 20 labelled lab frames, got {x.size}: run "
            "`linewatch assess` (it evaluates the lab split) before estimating"
        )
    if not np.all(np.isfinite(x)) or np.any((y != 0) & (y != 1)):
        raise EstimationError("calibration scores must be finite and outcomes 0 or 1")
    return x, y, w


def _pava(
    x: FloatArray, y: FloatArray, w: FloatArray
) -> tuple[list[float], list[float], list[float]]:
    """Pool-adjacent-violators blocks: each block's first score, weighted defect sum, weight."""
    order = np.argsort(x, kind="stable")
    xs, ys, ws = x[order], y[order], w[order]
    # Group ties first: equal scores must map to one value.
    uniq, start = np.unique(xs, return_index=True)
    sums = np.add.reduceat(ws * ys, start)
    counts = np.add.reduceat(ws, start)
    blocks_x: list[float] = []
    blocks_s: list[float] = []
    blocks_n: list[float] = []
    for xi, si, ni in zip(uniq.tolist(), sums.tolist(), counts.tolist(), strict=True):
        blocks_x.append(xi)
        blocks_s.append(si)
        blocks_n.append(ni)
        while len(blocks_s) > 1 and (blocks_s[-2] * blocks_n[-1] >= blocks_s[-1] * blocks_n[-2]):
            s, n = blocks_s.pop(), blocks_n.pop()
            blocks_x.pop()
            blocks_s[-1] += s
            blocks_n[-1] += n
    return blocks_x, blocks_s, blocks_n


def shift_prior(posterior: FloatArray, from_prevalence: float, to_prevalence: float) -> FloatArray:
    """Move posteriors from one prior to another: odds scale by the ratio of prior odds.

    Posteriors of exactly 0 or 1 stay there (no evidence can move them).
    """
    for name, value in (("from_prevalence", from_prevalence), ("to_prevalence", to_prevalence)):
        if not 0.0 < value < 1.0:
            raise EstimationError(f"{name} must be strictly between 0 and 1, got {value}")
    p = np.asarray(posterior, dtype=np.float64)
    ratio = (to_prevalence / (1 - to_prevalence)) / (from_prevalence / (1 - from_prevalence))
    with np.errstate(divide="ignore", invalid="ignore"):
        odds = p / (1.0 - p) * ratio
        out = odds / (1.0 + odds)
    out = np.where(p >= 1.0, 1.0, out)
    return np.where(p <= 0.0, 0.0, out)


def em_prevalence(
    calibration: IsotonicCalibration,
    scores: Sequence[float] | FloatArray,
    *,
    start: float | None = None,
    iterations: int = 200,
    tol: float = 1e-7,
) -> float:
    """The defect prevalence of unlabelled ``scores`` by EM on the calibrated posteriors.

    Saerens, Latinne & Decaestecker (2002): alternate "posteriors at the current prior" and
    "prior = mean posterior" until it settles. Label-free, and it holds under the same
    label-shift assumption as :meth:`IsotonicCalibration.at_prevalence`.

    It iterates on the calibration's *unshrunk* block shares: EM's fixed point is the maximum
    likelihood prevalence only with the fit's own likelihood ratios. The shrinkage towards the
    lab's (about even) defect share caps the top block's ratio near its frame count (57
    defective of 57 becomes 0.99, a ratio of about 115, not infinity), so at a 2 % prevalence
    each clearly flagged defect counts as 0.7 of one and EM settles at half the true share
    (measured in docs/estimation.md).

    >>> x, y = [0.0] * 10 + [0.9] * 10, [0] * 9 + [1] + [1] * 9 + [0]
    >>> cal = IsotonicCalibration.fit(x, y, smoothing=0)
    >>> round(em_prevalence(cal, [0.0] * 82 + [0.9] * 18), 3)
    0.1
    """
    x = np.asarray(scores, dtype=np.float64)
    if x.size == 0:
        raise EstimationError("no frames to estimate a prevalence from")
    base = calibration.predict_unshrunk(x)
    prior = calibration.prevalence if start is None else start
    for _ in range(iterations):
        p = shift_prior(base, calibration.prevalence, min(max(prior, _EPS), 1 - _EPS))
        new = float(p.mean())
        if abs(new - prior) < tol:
            prior = new
            break
        prior = new
    return min(max(prior, 0.0), 1.0) if prior > _EPS else 0.0
