"""Where a slice's inputs changed: the frames at which its image statistics step, so that no
estimation window straddles a change (a lamp dimmed at 12:07, a lens that lost focus).

A slice's frames are cut by binary segmentation of their shift features
(:func:`streams.estimation.shift.feature_matrix`, the inputs the lab calibration is re-weighted
on): in a run of frames, the split that best separates the means of the features (the
standardised CUSUM statistic, each feature scaled by its frame-to-frame noise) is kept where
the means on either side differ by at least ``min_effect`` of that noise in some feature (and
by more than the two means' own noise allows over the segment's ~n candidate splits) and
both sides hold at least ``min_size`` frames; each side is then searched again. The noise is
taken from successive differences (``MAD / sqrt(2)``), which a step between the sides barely
moves, so a large step is not hidden by the spread it adds.

What it does not see: a change that leaves every image statistic as it was (a new defect type
that only moves the scores). Labels and drift alarms catch those; the estimate cannot.

>>> rng = np.random.default_rng(0)
>>> x = rng.normal(0.0, 0.05, (400, 2))
>>> x[250:, 0] -= 0.2  # the first feature steps down at frame 250
>>> change_points(x, min_size=50)
[250]
>>> change_points(rng.normal(0.0, 0.05, (400, 2)), min_size=50)
[]
"""

from __future__ import annotations

from itertools import pairwise

import numpy as np

from streams.estimation.shift import FloatArray

__all__ = ["MIN_EFFECT", "change_points", "segments"]

MIN_EFFECT = 0.5
"""The smallest step (in units of a feature's frame-to-frame noise) that cuts a slice. Between
sides of at least a few hundred frames, noise alone moves a mean by well under a tenth of that."""


def _noise(x: FloatArray) -> FloatArray:
    """Per-feature frame-to-frame noise: the MAD of successive differences over sqrt(2)
    (0 where a feature never moves)."""
    if len(x) < 3:
        return np.zeros(x.shape[1])
    diffs = np.diff(x, axis=0)
    mad = np.median(np.abs(diffs - np.median(diffs, axis=0)), axis=0)
    sd: FloatArray = 1.4826 * mad / np.sqrt(2.0)
    # a feature that is mostly constant (clipping shares) has MAD 0: fall back to its plain SD
    plain = diffs.std(axis=0) / np.sqrt(2.0)
    out: FloatArray = np.where(sd > 0, sd, plain)
    return out


def _best_split(x: FloatArray, min_size: int) -> tuple[int, float]:
    """The split ``k`` (``min_size <= k <= n - min_size``) of the largest standardised CUSUM
    statistic, and the largest per-feature step there in noise units (``0`` where none)."""
    n = len(x)
    noise = _noise(x)
    moving = noise > 0
    if n < 2 * min_size or not moving.any():
        return 0, 0.0
    z = (x[:, moving] - x[:, moving].mean(axis=0)) / noise[moving]
    left = np.cumsum(z, axis=0)[:-1]  # sums of frames 0..k-1, k = 1..n-1
    k = np.arange(1, n, dtype=np.float64)
    # mean difference between the sides: S_k / k - (-S_k) / (n - k) = S_k * n / (k (n - k))
    step = left * (n / (k * (n - k)))[:, None]
    stat = (k * (n - k) / n)[:, None] * step**2
    allowed = np.zeros(n - 1, dtype=bool)
    allowed[min_size - 1 : n - min_size] = True
    total = np.where(allowed, stat.sum(axis=1), -np.inf)
    best = int(np.argmax(total))
    return best + 1, float(np.abs(step[best]).max())


def change_points(
    features: FloatArray, *, min_size: int, min_effect: float = MIN_EFFECT, max_cuts: int = 15
) -> list[int]:
    """Sorted frame indices where the features step (each cut is the first frame of a new
    segment; every segment holds at least ``min_size`` frames)."""
    x = np.asarray(features, dtype=np.float64)
    if x.ndim != 2 or len(x) < 2 * min_size or min_size < 1:
        return []
    finite = np.isfinite(x)
    if not finite.all():  # a frame without a statistic takes the feature's median (or 0)
        median = [
            float(np.median(x[finite[:, j], j])) if finite[:, j].any() else 0.0
            for j in range(x.shape[1])
        ]
        x = np.where(finite, x, np.asarray(median))
    cuts: list[int] = []
    todo = [(0, len(x))]
    while todo and len(cuts) < max_cuts:
        start, end = todo.pop()
        n = end - start
        k, effect = _best_split(x[start:end], min_size)
        # the step must also stand out of the noise of two means of k and n - k frames, the
        # best of ~n splits (so small segments are not cut at random)
        noise = np.sqrt(1.0 / max(k, 1) + 1.0 / max(n - k, 1)) * (4.0 + np.sqrt(2 * np.log(n)))
        if k == 0 or effect < max(min_effect, noise):
            continue
        cuts.append(start + k)
        todo += [(start, start + k), (start + k, end)]
    return sorted(cuts)


def segments(n: int, cuts: list[int]) -> list[tuple[int, int]]:
    """``[start, end)`` of the runs of ``n`` frames between ``cuts``.

    >>> segments(10, [4, 7])
    [(0, 4), (4, 7), (7, 10)]
    """
    bounds = [0, *cuts, n]
    return [(a, b) for a, b in pairwise(bounds) if b > a]
