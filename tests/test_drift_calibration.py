"""Threshold calibration of the CUSUM detectors."""

from __future__ import annotations

import itertools
import math

import pytest

from streams.drift.calibration.montecarlo import simulate_arl
from streams.drift.thresholds import (
    arl_per_side,
    bernoulli_threshold,
    gaussian_threshold,
    siegmund_arl,
)


@pytest.mark.parametrize("arl0", [300.0, 2000.0])
def test_siegmund_threshold_matches_simulation(arl0: float) -> None:
    h = gaussian_threshold(0.5, arl0)
    simulated = simulate_arl(0.5, h, paths=3000, seed=1)
    assert simulated == pytest.approx(arl0, rel=0.08)


def test_threshold_solves_the_approximation() -> None:
    for arl0 in (1e3, 2e6, 1e9):
        h = gaussian_threshold(0.5, arl0)
        assert siegmund_arl(0.5, h) == pytest.approx(arl0, rel=1e-9)


def test_thresholds_are_monotonic_in_the_rate() -> None:
    rates = [1e-2, 1e-3, 1e-4, 1e-5, 1e-6, 1e-7, 1e-8]
    hs = [gaussian_threshold(0.5, arl_per_side(r)) for r in rates]
    hb = [bernoulli_threshold(arl_per_side(r)) for r in rates]
    assert all(a < b for a, b in itertools.pairwise(hs))
    assert all(a < b for a, b in itertools.pairwise(hb))
    # the default per slice-signal rate of 1e-6 -> ARL 2e6 per side
    assert arl_per_side(1e-6) == pytest.approx(2e6)
    assert bernoulli_threshold(2e6) == pytest.approx(math.log(2e6))


def test_invalid_rates() -> None:
    with pytest.raises(ValueError):
        arl_per_side(0.0)
    with pytest.raises(ValueError):
        gaussian_threshold(0.5, 1.0)
    with pytest.raises(ValueError):
        bernoulli_threshold(0.5)
