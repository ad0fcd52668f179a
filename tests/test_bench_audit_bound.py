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
