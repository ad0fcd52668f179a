"""The arithmetic of linewatch's CUSUMs, written once for one detector and for many.

Each function here works on Python floats (one detector, :data:`SCALAR`: ``math``'s functions)
and on numpy arrays (many independent detectors, :data:`ARRAY`: numpy's) alike:
:func:`cusum_math` writes them once, with arithmetic operators and the few elementwise
functions it is given.
:class:`~streams.drift.detectors.GaussianCusum` and
:class:`~streams.drift.detectors.BernoulliCusum` call them in ``update``; their ``paths(count)``
(:class:`GaussianCusumPaths`, :class:`BernoulliCusumPaths`) steps ``count`` independent copies
with one numpy operation per step for all of them (the Monte-Carlo calibration,
:mod:`streams.drift.calibration.montecarlo`), so a change here changes both.

A value ``t = 2.5706`` (Student's 97.5% point at 5 degrees of freedom) above a baseline of 6
values with mean 0 and std 1 scores close to the normal 97.5% point, 1.96; with ``k = 0`` and
both sides at 0 the sides are ``+z`` and ``-z``:

>>> t = 2.5706 * math.sqrt(1.0 + 1.0 / 6.0)
>>> up, dn, *_ = SCALAR.gaussian_update(0.0, 0.0, t, 6, 0.0, 5.0, 0.0, 0.01, 9.0, 6)
>>> round(up, 3), round(dn, 3)
(1.957, -1.957)
>>> up, *_ = ARRAY.gaussian_update(0.0, 0.0, np.array([t, -t]), 6, 0.0, 5.0, 0.0, 0.01, 9.0, 6)
>>> [round(float(z), 3) for z in up]
[1.957, -1.957]
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = [
    "ARRAY",
    "SCALAR",
    "BernoulliCusumPaths",
    "CusumMath",
    "GaussianCusumPaths",
    "cusum_math",
]

_Fn1 = Callable[[Any], Any]
_Fn2 = Callable[[Any, Any], Any]


@dataclass(frozen=True, slots=True)
class CusumMath:
    """The CUSUM arithmetic for floats or for arrays (build one with :func:`cusum_math`).

    ``gaussian_update(s_up, s_dn, x, n, mean, m2, k, std_floor, winsor, n_scored)``,
    ``bernoulli_testing(n, ones, warmup, max_warmup, min_count)``
    and ``bernoulli_steps(s_up, s_dn, one, n, ones, odds_ratio, ln_r)``: see :func:`cusum_math`.
    """

    gaussian_update: Callable[..., tuple[Any, Any, Any, Any, Any]]
    bernoulli_testing: Callable[..., Any]
    bernoulli_steps: Callable[..., tuple[Any, Any]]


def cusum_math(
    *, sqrt: _Fn1, log1p: _Fn1, log: _Fn1, maximum: _Fn2, minimum: _Fn2, copysign: _Fn2
) -> CusumMath:
    """The CUSUM arithmetic written with these elementwise functions (``math``'s or numpy's).

    The functions are bound once, as closure variables, so the one-detector path pays no
    attribute look-ups per update.
    """

    def gaussian_update(  # noqa: PLR0917 (positional: called on every update)
        s_up: Any,
        s_dn: Any,
        x: Any,
        n: Any,
        mean: Any,
        m2: Any,
        k: float,
        std_floor: float,
        winsor: float,
        n_scored: Any,
    ) -> tuple[Any, Any, Any, Any, Any]:
        """One value ``x``: ``(s_up + z - k, s_dn - z - k, n', mean', m2')``, the two sides
        before clipping at 0 and Welford's summary ``(n, mean, m2)`` of the baseline after
        ``x``. ``z`` is the self-starting score of ``x`` against the baseline (the std at
        least ``std_floor``): the recursive residual ``t``, Student-t with ``df = n - 1``
        degrees of freedom, mapped to the normal score with the same tail probability by
        Wallace's approximation (1959) and winsorised at ``+-winsor``. ``n_scored`` is the
        ``n`` the score uses, ``max(n, 2)``: during the warm-up the caller discards the sides.
        One function, as it runs on every update of every detector."""
        std = maximum(sqrt(m2 / (n_scored - 1.0)), std_floor)
        t = (x - mean) / (std * sqrt(1.0 + 1.0 / n_scored))
        df = n_scored - 1.0
        z = copysign(
            minimum(sqrt(df * log1p(t * t / df)) * (8.0 * df + 1.0) / (8.0 * df + 3.0), winsor), t
        )
        n_after = n + 1
        delta = x - mean
        mean_after = mean + delta / n_after
        return s_up + z - k, s_dn - z - k, n_after, mean_after, m2 + delta * (x - mean_after)

    def bernoulli_testing(n: Any, ones: Any, warmup: int, max_warmup: int, min_count: int) -> Any:
        """Whether a Bernoulli CUSUM tests: ``n >= warmup`` and at least ``min_count`` zeros
        and ones (or ``n >= max_warmup``)."""
        return (n >= warmup) & ((n >= max_warmup) | ((ones >= min_count) & (n - ones >= min_count)))

    def bernoulli_steps(  # noqa: PLR0917 (positional: called on every update)
        s_up: Any, s_dn: Any, one: Any, n: Any, ones: Any, odds_ratio: float, ln_r: float
    ) -> tuple[Any, Any]:
        """The two sides after one value, before clipping at 0: each moves by the
        log-likelihood ratio of "odds x ``odds_ratio``" (up) or "odds / ``odds_ratio``" (down)
        against the rate ``(ones + 0.5) / (n + 1)`` (Jeffreys) of the value ``one`` (1 or True,
        0 or False; ``ln_r = ln(odds_ratio)``)."""
        p0 = (ones + 0.5) / (n + 1.0)
        r1 = odds_ratio - 1.0
        return (
            s_up + ln_r * one - log1p(p0 * r1),
            s_dn + ln_r * (1 - one) - log(odds_ratio - p0 * r1),
        )

    return CusumMath(gaussian_update, bernoulli_testing, bernoulli_steps)


def _larger(a: float, b: float) -> float:
    """``max(a, b)`` for two floats (a conditional is ~3x cheaper than the builtin's call)."""
    return b if b > a else a


def _smaller(a: float, b: float) -> float:
    """``min(a, b)`` for two floats."""
    return b if b < a else a


SCALAR = cusum_math(
    sqrt=math.sqrt,
    log1p=math.log1p,
    log=math.log,
    maximum=_larger,
    minimum=_smaller,
    copysign=math.copysign,
)
"""One detector: Python floats."""
ARRAY = cusum_math(
    sqrt=np.sqrt,
    log1p=np.log1p,
    log=np.log,
    maximum=np.maximum,
    minimum=np.minimum,
    copysign=np.copysign,
)
"""Many detectors: numpy arrays, one element per detector."""


class GaussianCusumPaths:
    """``count`` independent :class:`~streams.drift.detectors.GaussianCusum` detectors, stepped
    together (build them with ``GaussianCusum(...).paths(count)``)."""

    def __init__(
        self, count: int, *, k: float, h: float, warmup: int, winsor: float, std_floor: float
    ) -> None:
        self.k, self.h, self.warmup = k, h, warmup
        self.winsor, self.std_floor = winsor, std_floor
        self.n = np.zeros(count)
        self.mean = np.zeros(count)
        self.m2 = np.zeros(count)
        self.s_up = np.zeros(count)
        self.s_dn = np.zeros(count)

    def step(self, x: np.ndarray) -> np.ndarray:
        """One update of every path; returns which paths alarmed (they reset)."""
        n = self.n
        testing = n >= self.warmup
        s_up, s_dn, self.n, self.mean, self.m2 = ARRAY.gaussian_update(
            self.s_up,
            self.s_dn,
            x,
            n,
            self.mean,
            self.m2,
            self.k,
            self.std_floor,
            self.winsor,
            np.maximum(n, 2.0),
        )
        self.s_up = np.where(testing, np.maximum(s_up, 0.0), 0.0)
        self.s_dn = np.where(testing, np.maximum(s_dn, 0.0), 0.0)
        alarm: np.ndarray = (self.s_up > self.h) | (self.s_dn > self.h)
        if alarm.any():
            for arr in (self.n, self.mean, self.m2, self.s_up, self.s_dn):
                arr[alarm] = 0.0
        return alarm


class BernoulliCusumPaths:
    """``count`` independent :class:`~streams.drift.detectors.BernoulliCusum` detectors, stepped
    together (build them with ``BernoulliCusum(...).paths(count)``)."""

    def __init__(
        self,
        count: int,
        *,
        h: float,
        odds_ratio: float,
        warmup: int,
        min_count: int,
        max_warmup: int,
    ) -> None:
        self.h, self.odds_ratio, self.ln_r = h, odds_ratio, math.log(odds_ratio)
        self.warmup, self.min_count, self.max_warmup = warmup, min_count, max_warmup
        self.n = np.zeros(count)
        self.ones = np.zeros(count)
        self.s_up = np.zeros(count)
        self.s_dn = np.zeros(count)

    def step(self, x: np.ndarray) -> np.ndarray:
        """One update (``x >= 0.5`` is a one) of every path; returns the alarms."""
        n, ones = self.n, self.ones
        one = (x >= 0.5) * 1.0
        testing = ARRAY.bernoulli_testing(n, ones, self.warmup, self.max_warmup, self.min_count)
        s_up, s_dn = ARRAY.bernoulli_steps(
            self.s_up, self.s_dn, one, n, ones, self.odds_ratio, self.ln_r
        )
        self.s_up = np.where(testing, np.maximum(s_up, 0.0), 0.0)
        self.s_dn = np.where(testing, np.maximum(s_dn, 0.0), 0.0)
        self.n, self.ones = n + 1.0, ones + one
        alarm: np.ndarray = (self.s_up > self.h) | (self.s_dn > self.h)
        if alarm.any():
            for arr in (self.n, self.ones, self.s_up, self.s_dn):
                arr[alarm] = 0.0
        return alarm
