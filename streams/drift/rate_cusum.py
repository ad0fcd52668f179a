"""A one-sided CUSUM against a *known* rate, for label-driven drift (:class:`RateCusum`).

The self-starting CUSUMs (:mod:`streams.drift.detectors`) learn each slice's own baseline first;
a stream of labelled outcomes is too short for that (a few dozen per slice and day), so
:mod:`streams.readiness.label_drift` tests it against the rate the model showed in the lab.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

from river import base

from streams.drift.alarm import AlarmReport, Counts
from streams.drift.thresholds import bernoulli_threshold

__all__ = ["RateCusum"]


class RateCusum(AlarmReport, base.BinaryDriftDetector):
    """One-sided CUSUM: has the rate of ones risen above a *known* acceptable rate ``p0``?

    For streams too short to learn their own baseline, e.g. "was this labelled defective unit
    missed?" (a few dozen per slice and day): log-likelihood ratios of ``p1`` (the odds of
    ``p0`` times ``odds_ratio``) against ``p0``, accumulated from the first update.

    Parameters
    ----------
    p0
        The in-control rate (e.g. the highest miss rate readiness accepts).
    odds_ratio
        Factor of the odds to detect (> 1).
    h
        Threshold; ``None``: ``ln(1e6)`` (Lorden's bound for 1e-6 false alarms per update).

    Examples
    --------
    >>> det = RateCusum(p0=0.1, odds_ratio=4.0, h=4.0)
    >>> for i, x in enumerate([False] * 20 + [True, False] * 10):
    ...     det.update(x)
    ...     if det.drift_detected:
    ...         print(i, det.direction, round(det.after_mean, 2))
    28 up 0.56
    38 up 0.56
    """

    name = "rate-cusum"

    def __init__(self, p0: float = 0.1, odds_ratio: float = 3.0, h: float | None = None) -> None:
        if not 0.0 < p0 < 1.0:
            raise ValueError("p0 must be in (0, 1)")
        if odds_ratio <= 1:
            raise ValueError("odds_ratio must exceed 1")
        super().__init__()
        self.p0 = p0
        self.odds_ratio = odds_ratio
        self.h = bernoulli_threshold(1e6) if h is None else h
        odds = p0 / (1.0 - p0) * odds_ratio
        p1 = odds / (1.0 + odds)
        self._inc_one = math.log(p1 / p0)
        self._inc_zero = math.log((1.0 - p1) / (1.0 - p0))
        self._reset()

    def _reset(self) -> None:
        super()._reset()
        self._n = 0
        self._ones = 0
        self._s = 0.0
        self._mark: Counts = (0, 0)
        self._clear_report()

    @property
    def n(self) -> int:
        """Values since the last reset."""
        return self._n

    def update(self, x: bool | float) -> None:
        """Add one outcome (True, or >= 0.5, is a one); sets ``drift_detected`` on an alarm."""
        if self._drift_detected:
            self._reset()
        one = x >= 0.5
        s = self._s + (self._inc_one if one else self._inc_zero)
        self._s = s = s if s > 0.0 else 0.0
        self._n += 1
        self._ones += one
        if s == 0.0:
            self._mark = (self._n, self._ones)
        if s > self.h:
            self._drift_detected = True
            self.direction = "up"
            self.statistic = s
            na, oa = self._mark
            pb = (self._ones - oa) / (self._n - na)
            self.before_mean, self.before_std = self.p0, math.sqrt(self.p0 * (1.0 - self.p0))
            self.after_mean, self.after_std = pb, math.sqrt(pb * (1.0 - pb))

    @classmethod
    def _unit_test_params(cls) -> Iterator[dict[str, Any]]:
        yield {}
        yield {"p0": 0.02, "odds_ratio": 5.0, "h": 6.0}
