"""What a CUSUM says when it alarms: statistic, direction, and the baseline before and after.

The CUSUMs keep the baseline summary at their change-point estimate (the last time the alarming
side was at zero); on an alarm they report the mean and std before it and after it.

>>> [round(v, 3) for v in split_baseline((4, 2.5, 5.0), (2, 1.5, 0.5))]
[1.5, 0.707, 3.5, 0.707]
"""

from __future__ import annotations

import math
from typing import NamedTuple

__all__ = ["AlarmReport", "Baseline", "Counts", "Welford", "split_baseline"]

Welford = tuple[int, float, float]
"""``(n, mean, m2)``: Welford's summary of a Gaussian baseline (a state field: a tuple)."""
Counts = tuple[int, int]
"""``(n, ones)``: the summary of a Bernoulli baseline."""


class Baseline(NamedTuple):
    """Mean and std of a baseline before and after a change point."""

    before_mean: float
    before_std: float
    after_mean: float
    after_std: float


def split_baseline(total: Welford, head: Welford) -> Baseline:
    """Mean and std of the head and of the tail (total minus head) of a Welford summary."""
    n, mean, m2 = total
    na, ma, m2a = head
    nb = n - na
    std_a = math.sqrt(m2a / (na - 1)) if na > 1 else 0.0
    if nb <= 0:
        return Baseline(ma, std_a, ma, 0.0)
    mb = (n * mean - na * ma) / nb
    m2b = max(m2 - m2a - (mb - ma) ** 2 * na * nb / n, 0.0)
    std_b = math.sqrt(m2b / (nb - 1)) if nb > 1 else 0.0
    return Baseline(ma, std_a, mb, std_b)


class AlarmReport:
    """What the last alarm said (a mixin of the CUSUM detectors; read after ``drift_detected``)."""

    statistic: float
    direction: str
    before_mean: float
    before_std: float
    after_mean: float
    after_std: float

    def _clear_report(self) -> None:
        self.statistic = 0.0
        self.direction = ""
        self.before_mean = self.before_std = self.after_mean = self.after_std = 0.0
