"""Small, pure statistics: Wilson score intervals and VOC-style average precision.

>>> lo, hi = wilson_interval(8, 10)
>>> round(lo, 4), round(hi, 4)
(0.4902, 0.9433)
>>> wilson_interval(0, 0) is None
True
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike

__all__ = ["Z95", "average_precision", "rate", "wilson_interval"]

Z95 = 1.959963984540054
"""Two-sided 95% normal quantile."""


def rate(successes: int, n: int) -> float | None:
    """``successes / n``, or ``None`` when there is no data (never 0 or NaN).

    >>> rate(1, 4), rate(0, 0)
    (0.25, None)
    """
    return None if n <= 0 else successes / n


def wilson_interval(successes: int, n: int, z: float = Z95) -> tuple[float, float] | None:
    """The Wilson score interval of a proportion ``successes / n``; ``None`` for ``n == 0``.

    Unlike the normal approximation it stays inside [0, 1] and is sensible at 0 and n successes.

    >>> lo, hi = wilson_interval(0, 50)
    >>> lo, round(hi, 4)
    (0.0, 0.0713)
    """
    if n <= 0:
        return None
    if not 0 <= successes <= n:
        raise ValueError(f"need 0 <= successes <= n, got {successes} of {n}")
    p = successes / n
    z2 = z * z
    denom = 1.0 + z2 / n
    centre = (p + z2 / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / denom
    lo = 0.0 if successes == 0 else max(0.0, centre - half)
    hi = 1.0 if successes == n else min(1.0, centre + half)
    return lo, hi


def average_precision(scores: ArrayLike, is_tp: ArrayLike, n_ground_truth: int) -> float | None:
    """All-point interpolated average precision (VOC 2010+ / COCO-style envelope).

    ``scores`` and ``is_tp`` describe every prediction of one class (matched greedily by
    confidence beforehand); ``n_ground_truth`` is the number of true objects of that class.
    Returns ``None`` when the class has no ground truth.

    >>> average_precision([0.9, 0.8, 0.7], [1, 0, 1], 2)  # P=1 at R=.5, P=2/3 at R=1
    0.8333333333333333
    >>> average_precision([], [], 3)
    0.0
    """
    if n_ground_truth <= 0:
        return None
    s = np.asarray(scores, dtype=np.float64).reshape(-1)
    tp = np.asarray(is_tp, dtype=np.float64).reshape(-1)
    if s.shape != tp.shape:
        raise ValueError("scores and is_tp must have the same length")
    if s.size == 0:
        return 0.0
    order = np.argsort(-s, kind="stable")
    tp_cum = np.cumsum(tp[order])
    fp_cum = np.cumsum(1.0 - tp[order])
    recall = tp_cum / n_ground_truth
    precision = tp_cum / np.maximum(tp_cum + fp_cum, np.finfo(np.float64).eps)
    mrec = np.concatenate(([0.0], recall, [1.0]))
    mpre = np.concatenate(([0.0], precision, [0.0]))
    mpre = np.maximum.accumulate(mpre[::-1])[::-1]
    steps = np.nonzero(mrec[1:] != mrec[:-1])[0]
    return float(np.sum((mrec[steps + 1] - mrec[steps]) * mpre[steps + 1]))


def mean_or_none(values: Sequence[float | None]) -> float | None:
    """Mean of the values that are not ``None``; ``None`` if there are none."""
    present = [v for v in values if v is not None]
    return sum(present) / len(present) if present else None
