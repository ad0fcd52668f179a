"""Small, pure statistics: Wilson score intervals, rates, means.

Average precision is :func:`streams.evaluation.ap.average_precision`.

>>> lo, hi = wilson_interval(8, 10)
>>> round(lo, 4), round(hi, 4)
(0.4902, 0.9433)
>>> wilson_interval(0, 0) is None
True
"""

from __future__ import annotations

import math
from collections.abc import Sequence

__all__ = ["Z95", "mean_or_none", "rate", "wilson_interval"]

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


def mean_or_none(values: Sequence[float | None]) -> float | None:
    """Mean of the values that are not ``None``; ``None`` if there are none."""
    present = [v for v in values if v is not None]
    return sum(present) / len(present) if present else None
