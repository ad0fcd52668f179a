"""linewatch's calibrated self-starting CUSUMs, as River detectors.

:class:`GaussianCusum` is a :class:`river.base.DriftDetector` and :class:`BernoulliCusum` a
:class:`river.base.BinaryDriftDetector`: ``update(x)``, then read the read-only
``drift_detected``; ``_reset()`` restarts them; ``clone()`` (from :class:`river.base.Base`)
builds a fresh detector with the same constructor parameters. They can be used in any River
pipeline, and any River detector can replace them in linewatch (``LINEWATCH_DRIFT__DETECTOR``;
why not PageHinkley by default: ``docs/drift.md``).

:class:`GaussianCusum` is a two-sided *self-starting* CUSUM (Hawkins 1987): each value is
scored against the mean and standard deviation of all values since the last reset, *before*
it (a recursive residual, t-distributed with ``n - 1`` degrees of freedom for Gaussian data),
and mapped to a N(0, 1) score with Wallace's approximation. The scores of an unchanged stream
are then iid N(0, 1) whatever the slice's own mean and noise, so the threshold from
:mod:`streams.drift.thresholds` holds for every slice. Scores are winsorised at
``+-winsor`` so that a single outlier frame cannot raise an alarm alone. The arithmetic is
:mod:`streams.drift.cusum`'s, shared with the vectorised copies ``paths(count)``.
:class:`BernoulliCusum` tests 0/1 signals for a change of the odds by a factor ``odds_ratio``
(up or down) from the rate estimated since the last reset (Jeffreys-smoothed).

Both reset after an alarm: the next update starts a new baseline (and a new warm-up), so a
persistent shift alarms once; they report the baseline before and after the change point
(:mod:`streams.drift.alarm`).

>>> import random
>>> rng = random.Random(1)
>>> det = GaussianCusum(k=0.5, h=gaussian_threshold(0.5, 2e6), warmup=30)
>>> for i in range(2000):
...     det.update(rng.gauss(1.0 if i >= 1000 else 0.0, 1.0))
...     if det.drift_detected:
...         print(i, det.direction)
1019 up
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict
from river import base

from streams.drift.alarm import AlarmReport, Counts, Welford, split_baseline
from streams.drift.cusum import SCALAR, BernoulliCusumPaths, GaussianCusumPaths
from streams.drift.thresholds import bernoulli_threshold, gaussian_threshold

__all__ = ["BernoulliCusum", "BernoulliCusumState", "GaussianCusum", "GaussianCusumState"]

_DEFAULT_ARL0 = 2e6  # in-control run length per side of the default h: 1e-6 alarms per update

# The shared arithmetic (:mod:`streams.drift.cusum`), bound once for the one-detector path.
_gaussian_update = SCALAR.gaussian_update
_testing = SCALAR.bernoulli_testing
_bernoulli_steps = SCALAR.bernoulli_steps


class GaussianCusumState(BaseModel):
    """The complete mutable state of a :class:`GaussianCusum` (typed, JSON-serialisable)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: Literal["gaussian-cusum"] = "gaussian-cusum"
    n: int
    mean: float
    m2: float
    s_up: float
    s_dn: float
    mark_up: tuple[int, float, float]
    mark_dn: tuple[int, float, float]
    drift_detected: bool
    statistic: float
    direction: str
    before: tuple[float, float]
    after: tuple[float, float]


class BernoulliCusumState(BaseModel):
    """The complete mutable state of a :class:`BernoulliCusum` (typed, JSON-serialisable)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: Literal["bernoulli-cusum"] = "bernoulli-cusum"
    n: int
    ones: int
    s_up: float
    s_dn: float
    mark_up: tuple[int, int]
    mark_dn: tuple[int, int]
    drift_detected: bool
    statistic: float
    direction: str
    before: tuple[float, float]
    after: tuple[float, float]


class GaussianCusum(AlarmReport, base.DriftDetector):
    """Two-sided self-starting CUSUM for a continuous signal (see the module docstring).

    Parameters
    ----------
    k
        Reference value: half the shift to detect, in noise standard deviations.
    h
        Threshold; ``None``: calibrated for 1e-6 false alarms per update (h = 12.65 at k=0.5).
    warmup
        Values collected after a reset before testing (at least 5 are used).
    winsor
        Scores are clipped at +-winsor (a single outlier cannot alarm).
    std_floor
        Smallest noise std assumed, in the units of ``x``.

    Examples
    --------
    >>> det = GaussianCusum(h=5.0, warmup=10)
    >>> for i, x in enumerate([0.0, 1.0] * 20 + [6.0] * 5):
    ...     det.update(x)
    ...     if det.drift_detected:
    ...         print(i, det.direction)
    42 up
    """

    name = "cusum-selfstart"

    def __init__(
        self,
        k: float = 0.5,
        h: float | None = None,
        warmup: int = 30,
        winsor: float = 2.5,
        std_floor: float = 1e-2,
    ) -> None:
        super().__init__()
        self.k = k
        self.h = gaussian_threshold(k, _DEFAULT_ARL0) if h is None else h
        self.warmup = warmup
        self._warmup = max(warmup, 5)
        self.winsor = winsor
        self.std_floor = std_floor
        self._reset()

    def _reset(self) -> None:
        super()._reset()
        self._n = 0
        self._mean = 0.0
        self._m2 = 0.0
        self._s_up = 0.0
        self._s_dn = 0.0
        self._mark_up: Welford = (0, 0.0, 0.0)
        self._mark_dn: Welford = (0, 0.0, 0.0)
        self._clear_report()

    @property
    def n(self) -> int:
        """Values since the last reset."""
        return self._n

    def update(self, x: float) -> None:
        """Add one value; sets ``drift_detected`` (and the alarm's details) when it alarms."""
        if self._drift_detected:
            self._reset()
        n = self._n
        s_up, s_dn, n_after, mean, m2 = _gaussian_update(
            self._s_up,
            self._s_dn,
            x,
            n,
            self._mean,
            self._m2,
            self.k,
            self.std_floor,
            self.winsor,
            n if n > 1 else 2,  # the warm-up's sides are discarded below
        )
        if n >= self._warmup:
            self._s_up = s_up = s_up if s_up > 0.0 else 0.0
            self._s_dn = s_dn = s_dn if s_dn > 0.0 else 0.0
        else:
            s_up = s_dn = 0.0
        # the baseline's Welford summary after x; also the change-point mark of a side at zero
        self._n, self._mean, self._m2 = total = (n_after, mean, m2)
        if s_up == 0.0:
            self._mark_up = total
        if s_dn == 0.0:
            self._mark_dn = total
        h = self.h
        if s_up > h or s_dn > h:
            up = s_up >= s_dn
            self._drift_detected = True
            self.direction = "up" if up else "down"
            self.statistic = s_up if up else s_dn
            mark = self._mark_up if up else self._mark_dn
            (self.before_mean, self.before_std, self.after_mean, self.after_std) = split_baseline(
                total, mark
            )

    def paths(self, count: int) -> GaussianCusumPaths:
        """``count`` fresh, independent copies of this detector, stepped together with numpy
        (the same arithmetic as :meth:`update`; for the Monte-Carlo calibration)."""
        return GaussianCusumPaths(
            count,
            k=self.k,
            h=self.h,
            warmup=self._warmup,
            winsor=self.winsor,
            std_floor=self.std_floor,
        )

    def get_state(self) -> GaussianCusumState:
        """The detector's state as typed data (see :meth:`set_state`)."""
        return GaussianCusumState.model_validate(self.state_dict())

    def state_dict(self) -> dict[str, object]:
        """:meth:`get_state` as a plain dict (the fields of :class:`GaussianCusumState`)."""
        return dict(
            kind="gaussian-cusum",
            n=self._n,
            mean=self._mean,
            m2=self._m2,
            s_up=self._s_up,
            s_dn=self._s_dn,
            mark_up=self._mark_up,
            mark_dn=self._mark_dn,
            drift_detected=self._drift_detected,
            statistic=self.statistic,
            direction=self.direction,
            before=(self.before_mean, self.before_std),
            after=(self.after_mean, self.after_std),
        )

    def set_state(self, state: GaussianCusumState) -> None:
        """Continue exactly where the detector that produced ``state`` stopped."""
        self._n, self._mean, self._m2 = state.n, state.mean, state.m2
        self._s_up, self._s_dn = state.s_up, state.s_dn
        self._mark_up, self._mark_dn = state.mark_up, state.mark_dn
        self._drift_detected = state.drift_detected
        self.statistic, self.direction = state.statistic, state.direction
        self.before_mean, self.before_std = state.before
        self.after_mean, self.after_std = state.after

    @classmethod
    def _unit_test_params(cls) -> Iterator[dict[str, Any]]:
        yield {}
        yield {"k": 1.0, "h": 5.0, "warmup": 10}


class BernoulliCusum(AlarmReport, base.BinaryDriftDetector):
    """Two-sided CUSUM of log-likelihood ratios for a 0/1 signal.

    The in-control rate ``p0`` is estimated from the values since the last reset (Jeffreys
    prior, ``(ones + 0.5) / (n + 1)``); the alternatives multiply the odds by ``odds_ratio`` (up)
    or divide them (down). Testing starts once ``n >= warmup`` and either at least
    ``min_count`` zeros and ones were seen or ``n >= max_warmup`` (a rare event needs more
    values for a usable rate).

    Parameters
    ----------
    h
        Threshold; ``None``: ``ln(2e6)`` (Lorden's bound for 1e-6 false alarms per update).
    odds_ratio
        Factor of the odds to detect, up or down (> 1).
    warmup, min_count, max_warmup
        When testing starts (see above).

    Examples
    --------
    >>> det = BernoulliCusum(h=4.0, warmup=10, min_count=2)
    >>> for i, x in enumerate([False] * 3 + [True] + [False] * 36 + [True] * 10):
    ...     det.update(x)
    ...     if det.drift_detected:
    ...         print(i, det.direction)
    47 up
    """

    name = "bernoulli-cusum"

    def __init__(
        self,
        h: float | None = None,
        odds_ratio: float = 2.0,
        warmup: int = 30,
        min_count: int = 5,
        max_warmup: int = 1000,
    ) -> None:
        if odds_ratio <= 1:
            raise ValueError("odds_ratio must exceed 1")
        super().__init__()
        self.h = bernoulli_threshold(_DEFAULT_ARL0) if h is None else h
        self.odds_ratio = odds_ratio
        self._ln_r = math.log(odds_ratio)
        self.warmup = warmup
        self.min_count = min_count
        self.max_warmup = max_warmup
        self._max_warmup = max(max_warmup, warmup)
        self._reset()

    def _reset(self) -> None:
        super()._reset()
        self._n = 0
        self._ones = 0
        self._s_up = 0.0
        self._s_dn = 0.0
        self._mark_up: Counts = (0, 0)
        self._mark_dn: Counts = (0, 0)
        self._testing = False
        self._clear_report()

    @property
    def n(self) -> int:
        """Values since the last reset."""
        return self._n

    def update(self, x: bool | float) -> None:
        """Add one value (True, or >= 0.5, counts as 1); sets ``drift_detected`` on an alarm."""
        if self._drift_detected:
            self._reset()
        n = self._n
        ones = self._ones
        one = x >= 0.5
        s_up = s_dn = 0.0
        # Once testing, a detector tests until its reset (n, ones and zeros only grow), so the
        # condition is evaluated only until it first holds.
        testing = self._testing
        if not testing and _testing(n, ones, self.warmup, self._max_warmup, self.min_count):
            self._testing = testing = True
        if testing:
            s_up, s_dn = _bernoulli_steps(
                self._s_up, self._s_dn, 1.0 if one else 0.0, n, ones, self.odds_ratio, self._ln_r
            )
            self._s_up = s_up = s_up if s_up > 0.0 else 0.0
            self._s_dn = s_dn = s_dn if s_dn > 0.0 else 0.0
        n += 1
        if one:
            ones += 1
        self._n = n
        self._ones = ones
        if s_up == 0.0:
            self._mark_up = (n, ones)
        if s_dn == 0.0:
            self._mark_dn = (n, ones)
        h = self.h
        if s_up > h or s_dn > h:
            up = s_up >= s_dn
            self._drift_detected = True
            self.direction = "up" if up else "down"
            self.statistic = s_up if up else s_dn
            na, oa = self._mark_up if up else self._mark_dn
            pa = oa / na if na else 0.0
            pb = (ones - oa) / (n - na) if n > na else pa
            self.before_mean, self.before_std = pa, math.sqrt(pa * (1.0 - pa))
            self.after_mean, self.after_std = pb, math.sqrt(pb * (1.0 - pb))

    def paths(self, count: int) -> BernoulliCusumPaths:
        """``count`` fresh, independent copies of this detector, stepped together with numpy
        (the same arithmetic as :meth:`update`; for the Monte-Carlo calibration)."""
        return BernoulliCusumPaths(
            count,
            h=self.h,
            odds_ratio=self.odds_ratio,
            warmup=self.warmup,
            min_count=self.min_count,
            max_warmup=self._max_warmup,
        )

    def get_state(self) -> BernoulliCusumState:
        """The detector's state as typed data (see :meth:`set_state`)."""
        return BernoulliCusumState.model_validate(self.state_dict())

    def state_dict(self) -> dict[str, object]:
        """:meth:`get_state` as a plain dict (the fields of :class:`BernoulliCusumState`)."""
        return dict(
            kind="bernoulli-cusum",
            n=self._n,
            ones=self._ones,
            s_up=self._s_up,
            s_dn=self._s_dn,
            mark_up=self._mark_up,
            mark_dn=self._mark_dn,
            drift_detected=self._drift_detected,
            statistic=self.statistic,
            direction=self.direction,
            before=(self.before_mean, self.before_std),
            after=(self.after_mean, self.after_std),
        )

    def set_state(self, state: BernoulliCusumState) -> None:
        """Continue exactly where the detector that produced ``state`` stopped."""
        self._n, self._ones = state.n, state.ones
        self._testing = False  # re-evaluated by the next update
        self._s_up, self._s_dn = state.s_up, state.s_dn
        self._mark_up, self._mark_dn = state.mark_up, state.mark_dn
        self._drift_detected = state.drift_detected
        self.statistic, self.direction = state.statistic, state.direction
        self.before_mean, self.before_std = state.before
        self.after_mean, self.after_std = state.after

    @classmethod
    def _unit_test_params(cls) -> Iterator[dict[str, Any]]:
        yield {}
        yield {"h": 5.0, "odds_ratio": 3.0, "warmup": 10}
