"""Score-based audits as plain functions (:mod:`streams.readiness.score_design`), on a world
built here with numpy (not ``streams/simulate``): per slice, scores whose defect probability is
known, so the plan's inclusion probabilities and the difference estimator can be checked."""

from __future__ import annotations

import statistics
from collections import defaultdict

import numpy as np
import pytest

from streams.readiness.score_design import (
    LEAST_SHARE,
    metric_sizes,
    plan_probabilities,
    systematic_sample,
)
from streams.readiness.score_estimate import ScoredSample, difference_rate

Unit = tuple[str, str, bool, float]  # slice, band, defective, P(defective | score)


def scored_world(seed: int, slices: int = 8, per_slice: int = 2500) -> list[Unit]:
    """Defects score high but one in ten scores low; ``p`` is the true P(defective | score)."""
    rng = np.random.default_rng(seed)
    units: list[Unit] = []
    for s in range(slices):
        prevalence = 0.03 + 0.04 * s / max(slices - 1, 1)
        defective = rng.random(per_slice) < prevalence
        hard = rng.random(per_slice) < 0.1
        score = np.where(
            defective, np.where(hard, rng.beta(2, 6, per_slice), rng.beta(5, 1.5, per_slice)),
            rng.beta(1, 8, per_slice),
        )  # fmt: skip
        bins = np.minimum((score * 20).astype(int), 19)
        rate = np.array(
            [defective[bins == b].mean() if (bins == b).any() else 0 for b in range(20)]
        )
        for d, x, b in zip(defective, score, bins, strict=True):
            band = "flagged" if x >= 0.5 else ("uncertain" if x >= 0.15 else "passed")
            units.append((f"s{s}", band, bool(d), float(rate[b])))
    return units


def _sample(units: list[Unit], chosen: list[int], pi: np.ndarray) -> dict[str, ScoredSample]:
    by: dict[str, list[int]] = defaultdict(list)
    for i, u in enumerate(units):
        by[u[0]].append(i)
    picked: dict[str, list[int]] = defaultdict(list)
    for i in chosen:
        picked[units[i][0]].append(i)
    return {
        key: ScoredSample(
            cells=[units[i][1] for i in idx],
            p=np.array([units[i][3] for i in idx]),
            flagged=np.array([units[i][1] == "flagged" for i in idx]),
            label_cells=[units[i][1] for i in picked[key]],
            label_p=np.array([units[i][3] for i in picked[key]]),
            label_flagged=np.array([units[i][1] == "flagged" for i in picked[key]], dtype=bool),
            pi=pi[picked[key]],
            defective=np.array([units[i][2] for i in picked[key]], dtype=bool),
        )
        for key, idx in by.items()
    }


def _truth(units: list[Unit]) -> dict[str, float]:
    out = {}
    for key in {u[0] for u in units}:
        defects = [u for u in units if u[0] == key and u[2]]
        out[key] = sum(u[1] != "flagged" for u in defects) / len(defects)
    return out


def test_probabilities_sum_to_the_budget_and_every_cell_gets_a_unit() -> None:
    units = scored_world(0, slices=3, per_slice=1000)
    flagged = np.array([u[1] == "flagged" for u in units])
    p = np.array([u[3] for u in units])
    cells = [(u[0], u[1]) for u in units]
    pi = plan_probabilities([u[0] for u in units], flagged, p, 30, cells=cells)
    assert abs(pi.sum() - 30) < 1e-9 and pi.max() <= 1.0 and pi.min() > 0
    for cell in set(cells):
        assert sum(q for q, c in zip(pi, cells, strict=True) if c == cell) >= 1 - 1e-9
    order = sorted(range(len(units)), key=lambda i: (cells[i], p[i]))
    hits = np.zeros(len(units))
    for seed in range(400):
        chosen = systematic_sample(pi, order, np.random.default_rng(seed))
        assert len(chosen) == 30
        assert {cells[i] for i in chosen} == set(cells)
        hits[chosen] += 1
    likely = pi > 0.2
    assert np.allclose(hits[likely] / 400, pi[likely], atol=0.1)


def test_score_plan_narrows_fnr_intervals_and_covers_the_truth() -> None:
    units = scored_world(1)
    truth = _truth(units)
    n = len(units) // 100
    flagged = np.array([u[1] == "flagged" for u in units])
    p = np.array([u[3] for u in units])
    cells = [(u[0], u[1]) for u in units]
    plan_pi = plan_probabilities([u[0] for u in units], flagged, p, n, cells=cells)
    uniform_pi = np.full(len(units), n / len(units))
    order = sorted(range(len(units)), key=lambda i: (cells[i], p[i]))
    widths: dict[str, list[float]] = defaultdict(list)
    covered: dict[str, list[bool]] = defaultdict(list)
    for seed in range(12):
        rng = np.random.default_rng(seed)
        plan = systematic_sample(plan_pi, order, rng)
        uniform = sorted(int(i) for i in rng.choice(len(units), n, replace=False))
        for name, chosen, pi in (("plan", plan, plan_pi), ("uniform", uniform, uniform_pi)):
            for key, sample in _sample(units, chosen, pi).items():
                value, lo, hi, _sd = difference_rate(sample, "fnr")
                assert value is not None
                widths[name].append(hi - lo)
                covered[name].append(lo <= truth[key] <= hi)
    assert statistics.mean(covered["plan"]) >= 0.9
    assert statistics.median(widths["plan"]) < 0.85 * statistics.median(widths["uniform"])


def test_no_miss_seen_is_not_a_zero_width_interval_and_a_census_is_exact() -> None:
    cells = ["flagged"] * 20 + ["passed"] * 980
    p = np.array([0.9] * 20 + [0.004] * 980)
    flagged = np.array([c == "flagged" for c in cells])
    labelled = list(range(20)) + list(range(20, 1000, 49))  # no miss among 20 passed units
    sample = ScoredSample(
        cells=cells, p=p, flagged=flagged,
        label_cells=[cells[i] for i in labelled], label_p=p[labelled],
        label_flagged=flagged[labelled],
        pi=np.array([1.0] * 20 + [20 / 980] * 20),
        defective=np.array([True] * 18 + [False] * 2 + [False] * 20),
    )  # fmt: skip
    value, lo, hi, _sd = difference_rate(sample, "fnr")
    assert value is not None and lo <= value < hi and hi - lo > 0.05
    census = ScoredSample(
        cells=cells, p=p, flagged=flagged, label_cells=cells, label_p=p, label_flagged=flagged,
        pi=np.ones(1000), defective=np.array([True] * 18 + [False] * 2 + [True] + [False] * 979),
    )  # fmt: skip
    value, lo, hi, sd = difference_rate(census, "fnr")
    assert value == pytest.approx(1 / 19) and lo == value == hi and sd == 0.0


def test_unlabelled_unflagged_units_are_not_taken_for_flagged_ones() -> None:
    """A camera that flags nearly everything: 300 flagged units, all labelled (false flags), and
    2 unflagged ones, unlabelled. They are good units or misses, never false flags, so the FPR
    is 300/302 to 1 and its interval must reach down to 300/302 (every flagged unit is good, so
    a defect there is a miss: FNR is 1 where it is defined). Joined to the flagged cell they had
    no variance: the interval was zero-width (FPR 0.9997 [0.9997-0.9997] on a frozen-camera
    slice whose truth was 3269/3270)."""
    cells = ["flagged"] * 300 + ["uncertain"] * 2
    p = np.array([0.6] * 300 + [0.05] * 2)
    flagged = np.array([c == "flagged" for c in cells])
    labelled = list(range(300))
    sample = ScoredSample(
        cells=cells, p=p, flagged=flagged,
        label_cells=[cells[i] for i in labelled], label_p=p[labelled],
        label_flagged=flagged[labelled], pi=np.ones(300), defective=np.zeros(300, dtype=bool),
    )  # fmt: skip
    value, lo, hi, _sd = difference_rate(sample, "fpr")
    assert value is not None and lo <= 300 / 302 and hi == 1.0
    value, lo, hi, _sd = difference_rate(sample, "fnr")
    assert value == lo == hi == 1.0


def _summed_sd(units: list[Unit], pi: np.ndarray) -> float:
    """Sum over slices of the anticipated FNR and FPR standard errors of a design ``pi``."""
    flagged = np.array([u[1] == "flagged" for u in units])
    p = np.array([u[3] for u in units])
    a_fnr, a_fpr, group = metric_sizes([u[0] for u in units], flagged, p)
    var_fnr = np.bincount(group, a_fnr**2 * (1 / pi - 1))
    var_fpr = np.bincount(group, a_fpr**2 * (1 / pi - 1))
    return float(np.sqrt(var_fnr).sum() + np.sqrt(var_fpr).sum())


def test_plan_minimises_the_summed_standard_errors_within_its_bounds() -> None:
    units = scored_world(2, slices=4, per_slice=1500)
    flagged = np.array([u[1] == "flagged" for u in units])
    p = np.array([u[3] for u in units])
    slices = [u[0] for u in units]
    n = 120
    pi = plan_probabilities(slices, flagged, p, n)
    least = LEAST_SHARE * n / len(units)
    assert abs(pi.sum() - n) < 1e-6 and pi.max() <= 1.0 and pi.min() >= least - 1e-12
    best = _summed_sd(units, pi)
    # the summed variances (one round), uniform audits, and budget moved between two units
    # chosen at random all give a larger sum of standard errors
    assert best < _summed_sd(units, plan_probabilities(slices, flagged, p, n, rounds=1))
    assert best < _summed_sd(units, np.full(len(units), n / len(units)))
    rng = np.random.default_rng(0)
    free = np.flatnonzero((pi > least + 1e-3) & (pi < 0.9))
    for _ in range(20):
        i, j = rng.choice(free, 2, replace=False)
        moved = pi.copy()
        moved[i] += 1e-3
        moved[j] -= 1e-3
        assert best <= _summed_sd(units, moved) + 1e-12


def test_uniform_sample_interval_does_not_swing_with_the_units_drawn() -> None:
    """With a constant inclusion probability in a cell, the model floor of the variance is the
    cell's own anticipated variance ``sum(v) (1 / pi - 1)``, whichever units were drawn."""
    rng = np.random.default_rng(3)
    cells = ["flagged"] * 50 + ["passed"] * 2000
    p = np.concatenate([np.full(50, 0.9), rng.choice([0.0005, 0.002, 0.02], 2000)])
    flagged = np.array([c == "flagged" for c in cells])
    v = p[50:] * (1 - p[50:])
    scaled = []
    for low_p_draw in (True, False):  # 40 passed units, all good: the likely ones or not
        pool = np.flatnonzero((p[50:] < 0.01) == low_p_draw) + 50
        labelled = list(range(50)) + sorted(rng.choice(pool, 40, replace=False).tolist())
        sample = ScoredSample(
            cells=cells, p=p, flagged=flagged,
            label_cells=[cells[i] for i in labelled], label_p=p[labelled],
            label_flagged=flagged[labelled],
            pi=np.array([1.0] * 50 + [40 / 2000] * 40),
            defective=np.array([True] * 45 + [False] * 5 + [False] * 40),
        )  # fmt: skip
        value, _lo, _hi, sd = difference_rate(sample, "fnr")
        assert value is not None
        t_den = 45 + (2000 / 40) * float(-p[labelled[50:]].sum()) + float(p[50:].sum())
        scaled.append(sd * t_den / (1 - value))
    expected = float(np.sqrt(v.sum() * (2000 / 40 - 1)))
    assert scaled == pytest.approx([expected, expected], rel=1e-6)
