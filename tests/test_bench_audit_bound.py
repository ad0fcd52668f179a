"""The bench's bound on what a score-chosen audit can gain (``bench/audit_score_checks.py``):
the pooled per-score-bin truth and Neyman's ratio over it, as plain functions."""

from __future__ import annotations

from types import ModuleType

import numpy as np

from tests.bench_modules import load_bench


def _checks() -> ModuleType:
    return load_bench("audit_score_checks")


def _world(
    miss_at_zero: int, miss_in_bulk: int
) -> tuple[list[tuple[tuple[str, ...], str, str]], np.ndarray]:
    """1,000 passed units (100 at score 0, then 900 by score over 0.05-0.4) and 50 flagged
    defects; ``miss_at_zero`` misses at score 0, ``miss_in_bulk`` one per 100 units."""
    rng = np.random.default_rng(0)
    scores = np.r_[np.zeros(100), np.sort(rng.uniform(0.05, 0.4, 900)), rng.uniform(0.5, 1.0, 50)]
    outcome = ["TN"] * 1000 + ["TP"] * 50
    for i in range(miss_at_zero):
        outcome[i] = "FN"
    for i in range(miss_in_bulk):  # one in 100 units along the score, the first at score 0
        outcome[50 + 100 * i] = "FN"
    bands = ["passed"] * 1000 + ["flagged"] * 50
    return [(("a",), b, o) for b, o in zip(bands, outcome, strict=True)], scores


def test_pooled_truth_is_each_score_bins_defect_rate() -> None:
    units, scores = _world(5, 0)
    rate = _checks().pooled_truth(units, scores)
    assert np.allclose(rate[:100], 0.05)  # score 0 is its own bin: 5 misses in 100
    assert np.allclose(rate[100:1000], 0.0)
    assert np.allclose(rate[1000:], 1.0)


def test_neyman_ratio_is_one_where_misses_are_spread_and_lower_where_score_finds_them() -> None:
    checks = _checks()
    p = np.r_[np.full(1000, 0.01), np.full(50, 0.9)]
    units, scores = _world(0, 10)  # misses spread evenly over the score bins
    spread = checks.design_arithmetic(units, scores, p, 0.05)
    units, scores = _world(10, 0)  # every miss has no candidate box
    found = checks.design_arithmetic(units, scores, p, 0.05)
    assert spread["misses_per_slice"] == found["misses_per_slice"] == 10
    assert found["misses_at_zero"] == 1.0
    assert 0.9 < spread["neyman_sd_ratio"] <= 1.0 + 1e-9
    assert found["neyman_sd_ratio"] < 0.5
    assert found["uniform_misses"] == 10 * np.ceil(0.05 * 1050) / 1050


def test_at_coverage_scales_the_arms_to_the_target_and_keeps_ends_at_the_edges() -> None:
    at_coverage = _checks().at_coverage
    # truths spread evenly over [0.1, 0.9] around 0.5, each interval [0.3, 0.7]: the arms
    # (0.2) cover 51 of 101; doubled (0.4) 95 % of the truths, 0.1 to 0.9 included
    truths = np.linspace(0.1, 0.9, 101)
    found = [(0.5, 0.3, 0.7, float(t)) for t in truths]
    k, width = at_coverage(found, 0.95)
    assert 1.85 <= k <= 2.0
    assert abs(width - 2 * 0.2 * k) < 1e-9
    # a lower end at 0 (clipped) stays at 0 however small the arms: a truth of 0 is covered
    k, width = at_coverage([(0.1, 0.0, 0.5, 0.0)] * 19 + [(0.1, 0.0, 0.5, 0.3)], 0.95)
    assert k == 0.0
    assert abs(width - 0.1) < 1e-12  # [0, value]
    # an interval without a value counts as [0, 1], covered
    k, width = at_coverage([(None, 0.0, 1.0, 0.4)] * 20, 0.95)
    assert (k, width) == (0.0, 1.0)


def test_the_plans_own_promise_is_uniform_where_its_calibration_is_flat() -> None:
    checks = _checks()
    units, scores = _world(10, 0)
    flat = np.r_[np.full(1000, 0.01), np.full(50, 0.9)]
    even = checks.design_arithmetic(units, scores, flat, 0.05)["calibration_sd_ratio"]
    # the same units, but the calibration says the misses sit at score 0
    found = np.r_[np.full(100, 0.1), np.full(900, 0.0005), np.full(50, 0.9)]
    sharp = checks.design_arithmetic(units, scores, found, 0.05)["calibration_sd_ratio"]
    assert 0.9 < even <= 1.02
    assert sharp < 0.8
