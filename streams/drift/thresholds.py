"""Thresholds of the CUSUM detectors, calibrated to a target false-alarm rate (analytic).

The runtime builds its detectors with them (:mod:`streams.drift.line_detectors`); the Monte-Carlo
measurements of what they give are :mod:`streams.drift.calibration`'s.

A detector watches one slice-signal and tests both directions with two one-sided CUSUMs. For a
target rate ``alpha`` (false alarms per slice-signal per event,
``drift.false_alarms_per_event``) each side gets ``alpha / 2`` (Bonferroni over the two
sides), i.e. an in-control average run length ``ARL0 = 2 / alpha`` events per side.

Gaussian CUSUM (``S = max(0, S + z - k)`` on iid N(0, 1) scores ``z``): the threshold solves
Siegmund's approximation ``ARL0(h) = (exp(2 k b) - 2 k b - 1) / (2 k^2)`` with ``b = h + 1.166``
(the 1.166 corrects for the overshoot of the boundary). It is accurate to a few percent; the
tests check it against a Monte-Carlo simulation
(:func:`~streams.drift.calibration.montecarlo.simulate_arl`).

Bernoulli CUSUM (log-likelihood-ratio increments): ``h = ln(ARL0)``. Lorden's bound
``ARL0 >= exp(h)`` holds for any LLR CUSUM, so this errs on the side of fewer false alarms.

>>> h = gaussian_threshold(0.5, 2e6)
>>> round(h, 2), round(siegmund_arl(0.5, h))
(12.65, 2000000)
>>> gaussian_threshold(0.5, 2e4) < h
True

The false-alarm budget is set per line and week (``drift.false_alarms_per_line_week``):
each frame of a line updates ``detectors_per_frame`` slice-signal detectors (the signals of
its slice plus the lighting-mix detectors of its line-shift), so a per-update rate ``alpha``
gives ``frames_per_week x detectors_per_frame x alpha`` expected false alarms per line-week
however the frames spread over the line's live slices. :func:`budget_rate` solves that for
``alpha``; every slice-signal of the line gets the same share per update.

>>> rate = budget_rate(1.0, frames_per_second=1.0, detectors_per_frame=15)
>>> f"{rate:.3g}", round(gaussian_threshold(0.5, arl_per_side(rate)), 2)
('1.1e-07', 14.85)
"""

from __future__ import annotations

import math
from functools import lru_cache

__all__ = [
    "SECONDS_PER_WEEK",
    "arl_per_side",
    "bernoulli_threshold",
    "budget_rate",
    "expected_false_alarms",
    "gaussian_threshold",
    "siegmund_arl",
]


def arl_per_side(false_alarms_per_event: float) -> float:
    """In-control run length per one-sided CUSUM for a two-sided target rate."""
    if not 0 < false_alarms_per_event < 1:
        raise ValueError("the false-alarm rate must be in (0, 1)")
    return 2.0 / false_alarms_per_event


SECONDS_PER_WEEK = 7 * 24 * 3600


def budget_rate(
    false_alarms_per_line_week: float, *, frames_per_second: float, detectors_per_frame: int
) -> float:
    """Per-update false-alarm rate that spends a line's weekly budget (see the module doc)."""
    if false_alarms_per_line_week <= 0 or frames_per_second <= 0 or detectors_per_frame <= 0:
        raise ValueError("budget, frame rate and detectors per frame must be positive")
    updates = frames_per_second * SECONDS_PER_WEEK * detectors_per_frame
    return min(false_alarms_per_line_week / updates, 0.5)


def expected_false_alarms(rate: float, updates: int) -> float:
    """False alarms the calibration expects from ``updates`` stationary detector updates."""
    return rate * updates


def siegmund_arl(k: float, h: float) -> float:
    """Siegmund's approximation of the in-control ARL of a one-sided Gaussian CUSUM."""
    x = 2.0 * k * (h + 1.166)
    return (math.exp(x) - x - 1.0) / (2.0 * k * k)


@lru_cache(maxsize=256)
def gaussian_threshold(k: float, arl0: float) -> float:
    """The threshold ``h`` whose in-control ARL (Siegmund) is ``arl0``; cached."""
    if arl0 <= 1:
        raise ValueError("arl0 must exceed 1")
    lo, hi = 0.0, 1.0
    while siegmund_arl(k, hi) < arl0:
        hi *= 2.0
    for _ in range(100):
        mid = (lo + hi) / 2.0
        if siegmund_arl(k, mid) < arl0:
            lo = mid
        else:
            hi = mid
    return hi


def bernoulli_threshold(arl0: float) -> float:
    """Threshold of a log-likelihood-ratio CUSUM: ``ln(arl0)`` (Lorden's bound)."""
    if arl0 <= 1:
        raise ValueError("arl0 must exceed 1")
    return math.log(arl0)
