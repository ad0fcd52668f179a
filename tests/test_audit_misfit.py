"""The difference estimator when the calibration is wrong (:func:`label_dispersion`): a world
built here with numpy (not ``streams/simulate``) whose calibration gives every passed unit
P(defective) 1e-4, while on three slices (a failed camera) half of the defects pass unseen.
Audited by the plants' policy (every flagged unit, 2 % of the passed ones), a slice's own
labels rarely see those misses; the store's labels see them more often, and then every
slice's interval must admit them instead of trusting the calibration."""

from __future__ import annotations

import statistics
from dataclasses import replace

import numpy as np
import pytest

from streams.readiness.score_estimate import ScoredSample, difference_rate, label_dispersion

SLICES, PER_SLICE, FAILED = 6, 3000, (0, 1, 2)


def _world(seed: int, failed: tuple[int, ...]) -> list[tuple[int, bool, bool]]:
    """(slice, flagged, defective) per unit: 2 % defective, every defect flagged except half
    of them on the ``failed`` slices."""
    rng = np.random.default_rng(seed)
    units = []
    for s in range(SLICES):
        defective = rng.random(PER_SLICE) < 0.02
        missed = defective & (rng.random(PER_SLICE) < (0.5 if s in failed else 0.0))
        false_flag = ~defective & (rng.random(PER_SLICE) < 0.005)
        units += [(s, bool(d and not m) or bool(f), bool(d))
                  for d, m, f in zip(defective, missed, false_flag, strict=True)]  # fmt: skip
    return units


def _audit(units: list[tuple[int, bool, bool]], seed: int) -> dict[int, ScoredSample]:
    """Every flagged unit and 2 % of the passed ones; the calibration: 0.9 flagged, 1e-4 passed;
    the misfit over every label of the store."""
    flag = np.array([u[1] for u in units])
    defect = np.array([u[2] for u in units])
    slice_of = np.array([u[0] for u in units])
    p = np.where(flag, 0.9, 1e-4)
    pi = np.where(flag, 1.0, 0.02)
    chosen = flag | (np.random.default_rng(seed).random(len(units)) < 0.02)
    dispersion = label_dispersion(p[chosen], flag[chosen], defect[chosen], pi[chosen])
    out = {}
    for s in range(SLICES):
        mine, lab = slice_of == s, (slice_of == s) & chosen
        out[s] = ScoredSample(
            cells=["flagged" if f else "passed" for f in flag[mine]], p=p[mine],
            flagged=flag[mine], label_cells=["flagged" if f else "passed" for f in flag[lab]],
            label_p=p[lab], label_flagged=flag[lab], pi=pi[lab], defective=defect[lab],
            dispersion=dispersion,
        )  # fmt: skip
    return out


def _fnr(units: list[tuple[int, bool, bool]], s: int) -> float:
    defects = [u for u in units if u[0] == s and u[2]]
    return sum(not u[1] for u in defects) / len(defects)


def test_a_miss_the_calibration_calls_impossible_widens_every_slice() -> None:
    units = _world(0, FAILED)
    covered: dict[str, list[bool]] = {"misfit": [], "calibration": []}
    misfit_seen = 0
    for seed in range(60):
        samples = _audit(units, seed)
        misfit_seen += samples[0].dispersion[1] > 1
        for s in FAILED:
            truth = _fnr(units, s)
            for name, sample in (
                ("misfit", samples[s]),
                ("calibration", replace(samples[s], dispersion=(1.0, 1.0))),
            ):
                _value, lo, hi, _sd = difference_rate(sample, "fnr")
                covered[name].append(lo - 1e-12 <= truth <= hi + 1e-12)
    # the store's labels find a miss in most audits, the failed slice's own in few
    assert misfit_seen >= 0.75 * 60  # 51 of 60
    assert statistics.mean(covered["misfit"]) >= 0.8  # 84 %
    assert statistics.mean(covered["calibration"]) <= 0.6  # 49 %: confident and wrong


def test_labels_that_agree_with_the_calibration_change_nothing() -> None:
    units = _world(1, ())
    samples = _audit(units, 3)
    flagged_side, unflagged_side = samples[0].dispersion
    assert unflagged_side == 1.0  # no miss among the passed labels, none expected
    for sample in samples.values():
        kept = replace(sample, dispersion=(1.0, 1.0))
        for metric in ("fnr", "fpr"):
            assert difference_rate(sample, metric) == difference_rate(kept, metric)
    assert flagged_side >= 1.0


def test_dispersion_is_found_over_expected_defects_for_rare_outcomes() -> None:
    # 300 passed units the calibration gives 1e-4 each (uniform pi), one of them defective
    p = np.full(300, 1e-4)
    found = label_dispersion(p, np.zeros(300, dtype=bool), np.arange(300) == 7, np.full(300, 0.02))
    assert found[0] == 1.0
    seen, expected = (1 - 1e-4) ** 2 + 299 * 1e-4**2, 300 * 1e-4 * (1 - 1e-4)
    assert found[1] == pytest.approx(seen / expected, rel=1e-12)  # ~33
