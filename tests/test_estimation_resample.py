"""The whole-chain bootstrap of re-weighted estimates (streams/estimation/resample.py): numpy
worlds only (a lab under two lighting conditions, windows at a 2 % defect rate)."""

from __future__ import annotations

import numpy as np
import pytest

from streams.errors import EstimationError
from streams.estimation import estimate_performance
from streams.estimation.resample import Chain, chain_draws
from streams.estimation.reweighted import LabPool, estimate_under_shift
from streams.estimation.shift import feature_matrix, matching_weights
from tests.test_estimation_shift import THRESHOLD, lab_pool, scores, stats


def _pool(seed: int) -> LabPool:
    lab_s, lab_y, lab_x, clean = lab_pool(np.random.default_rng(seed))
    return LabPool(lab_s, lab_y, feature_matrix(list(lab_x.T)), clean)


def _width(d: np.ndarray) -> float:
    lo, hi = np.quantile(d, [0.025, 0.975])
    return float(hi - lo)


def test_the_spread_grows_as_the_window_matches_fewer_lab_frames() -> None:
    rng = np.random.default_rng(0)
    n, m = 800, 5000
    lab_y = rng.integers(0, 2, n)
    lab_s = np.where(lab_y == 1, rng.uniform(0.3, 1.0, n), rng.uniform(0.0, 0.5, n))
    s = rng.uniform(0.0, 0.6, m)
    # a prevalence of 0.3: the window's own 1,500 defects scatter little, the lab's share shows
    many = Chain(s, rng.integers(0, n, (m, 30)), lab_s, lab_y, THRESHOLD, 0.3)
    few = Chain(s, rng.integers(0, 60, (m, 30)), lab_s, lab_y, THRESHOLD, 0.3)
    wide = chain_draws(few, draws=150, seed=1)["lab_recall"]
    narrow = chain_draws(many, draws=150, seed=1)["lab_recall"]
    assert _width(wide) > 1.5 * _width(narrow)
    with pytest.raises(EstimationError, match="neighbour rows"):
        Chain(s, rng.integers(0, n, (m - 1, 30)), lab_s, lab_y, THRESHOLD, None)


def test_intervals_cover_the_realized_recall_of_darkened_windows_at_two_percent() -> None:
    pool = _pool(11)
    rng = np.random.default_rng(12)
    covered, errors = 0, []
    for i in range(12):
        n = 2500  # about 50 defects at 2 %
        y = rng.random(n) < 0.02
        gain = np.full(n, 0.5)
        s = scores(rng, y.astype(int), gain)
        realized = float((s[y] >= THRESHOLD).mean())
        window = feature_matrix(list(stats(rng, gain).T))
        est = estimate_under_shift(s, window, THRESHOLD, pool, draws=100, seed=i)
        r = est.recall
        assert est.status == "ok" and r.value is not None and r.lo is not None
        assert r.hi is not None
        covered += r.lo <= realized <= r.hi
        errors.append(abs(r.value - realized))
    assert covered >= 11
    assert float(np.median(errors)) < 0.08


def test_where_the_scores_moved_and_the_inputs_did_not_the_interval_spans_both_readings() -> None:
    # A focus loss the statistics do not see: the frames look clean, the defects score dark.
    pool = _pool(21)
    rng = np.random.default_rng(22)
    n = 4000
    y = rng.random(n) < 0.02
    s = scores(rng, y.astype(int), np.full(n, 0.5))
    window = feature_matrix(list(stats(rng, np.ones(n)).T))
    est = estimate_under_shift(s, window, THRESHOLD, pool, draws=100)
    calibrated = estimate_performance(
        s, THRESHOLD, pool.clean_set(), draws=0
    ).recall.value  # the clean lab is what the window matches
    direct = float((pool.scores[pool.clean & (pool.defective == 1)] >= THRESHOLD).mean())
    r = est.recall
    assert calibrated is not None and r.lo is not None and r.hi is not None
    assert direct - calibrated > 0.05  # the two readings disagree
    assert r.lo <= calibrated - 0.01 and r.hi >= direct


def test_recall_is_read_off_the_weighted_lab_where_the_window_is_explained() -> None:
    # A lab with a dense grid of darkening levels and a recall cliff between them: the window
    # sits between two levels; its recall is the weighted lab's, not the calibrated reading's.
    rng = np.random.default_rng(41)
    levels = np.repeat(0.9 ** np.arange(12), 200)
    lab_y = rng.integers(0, 2, levels.size)
    caught = rng.random(levels.size) < np.clip((levels - 0.35) / 0.3, 0, 1)
    lab_s = np.where(lab_y == 1, np.where(caught, 0.8, 0.3), rng.uniform(0, 0.2, levels.size))
    pool = LabPool(lab_s, lab_y, feature_matrix(list(stats(rng, levels).T)), levels == 1.0)
    n = 3000
    y = rng.random(n) < 0.02
    gain = np.full(n, 0.5)
    hit = rng.random(n) < (0.5 - 0.35) / 0.3
    s = np.where(y, np.where(hit, 0.8, 0.3), rng.uniform(0, 0.2, n))
    window = feature_matrix(list(stats(rng, gain).T))
    est = estimate_under_shift(s, window, THRESHOLD, pool, draws=60)
    weights = matching_weights(pool.geometry, window).weights  # type: ignore[arg-type]
    direct = pool.lab_recall(THRESHOLD, weights)
    r = est.recall
    assert est.status == "ok" and direct is not None and r.value is not None
    assert r.value == pytest.approx(direct)
    assert abs(r.value - float((s[y] >= THRESHOLD).mean())) < 0.1
    assert r.lo is not None and r.hi is not None and r.lo <= r.value <= r.hi


def test_more_flags_than_the_lab_explains_keep_recall_and_drop_precision() -> None:
    # A new false-positive source the statistics do not see: 20 % of good frames score high.
    pool = _pool(31)
    rng = np.random.default_rng(32)
    n = 3000
    y = rng.random(n) < 0.02
    s = scores(rng, y.astype(int), np.ones(n))
    window = feature_matrix(list(stats(rng, np.ones(n)).T))
    assert estimate_under_shift(s, window, THRESHOLD, pool, draws=20).status == "ok"
    glare = ~y & (rng.random(n) < 0.2)
    s = np.where(glare, rng.uniform(0.6, 0.9, n), s)
    flagged = s >= THRESHOLD
    realized = float(flagged[y].mean()), float(y[flagged].mean()), float(flagged[~y].mean())
    # label-free: the excess flags are a precision problem; recall still rests on the lab's
    # defective frames like the window's, its interval widened upwards by the unexplained share
    free = estimate_under_shift(s, window, THRESHOLD, pool, draws=40)
    assert free.status == "partial" and "do not explain" in free.reason
    assert free.precision.value is None and free.fpr.value is None
    assert "precision and FPR unknown" in free.reason
    r = free.recall
    assert r.value is not None and r.lo is not None and r.hi is not None
    assert r.lo <= realized[0] <= r.hi and abs(r.value - realized[0]) < 0.05
    # widened upwards by the ~20 % unexplained frames; not downwards: they are all flagged,
    # so a defect among them is caught
    assert r.hi >= r.value + 0.15 * (1 - r.value) and r.lo > 0.9
    # audits say 2 % of units are defective: precision and FPR follow from the flag count
    est = estimate_under_shift(s, window, THRESHOLD, pool, prevalence=0.02, draws=40)
    assert est.status == "partial" and "flag count" in est.reason
    for figure, truth in zip((est.recall, est.precision, est.fpr), realized, strict=True):
        assert figure.lo is not None and figure.hi is not None
        assert figure.lo <= truth <= figure.hi, (figure, truth)
    # a claimed surge of defects does not explain flags that score unlike defects ...
    claimed = estimate_under_shift(s, window, THRESHOLD, pool, prevalence=0.25, draws=20)
    assert claimed.status == "partial"
    # ... a genuine surge does, known or estimated by EM
    many = rng.random(n) < 0.25
    surge = scores(rng, many.astype(int), np.ones(n))
    for known in (0.25, None):
        est = estimate_under_shift(surge, window, THRESHOLD, pool, prevalence=known, draws=20)
        assert est.status == "ok", est.reason
    # 70 % of the good frames flagged (a defocus in dim light flags half of them): the
    # defects among the excess flags are caught, so the lab's reading still bounds recall
    # from below; it is widened upwards only, and the window gives a number
    many_flags = np.where(~y & (rng.random(n) < 0.7), rng.uniform(0.6, 0.9, n), s)
    truth = float((many_flags[y] >= THRESHOLD).mean())
    for known in (0.02, None):
        est = estimate_under_shift(many_flags, window, THRESHOLD, pool, prevalence=known, draws=100)
        r = est.recall
        assert est.status == "partial", est.reason
        assert r.value is not None and r.lo is not None and r.hi is not None
        assert r.lo <= truth <= r.hi and abs(r.value - truth) < 0.05 and r.lo > 0.5
    # most frames unexplained below the threshold, where missed defects hide: recall cannot
    # be bounded
    s = np.where(rng.random(n) < 0.7, rng.uniform(THRESHOLD - 0.12, THRESHOLD - 0.02, n), s)
    lost = estimate_under_shift(s, window, THRESHOLD, pool, prevalence=0.02, draws=20)
    assert lost.status == "unknown" and lost.recall.value is None and "bounded" in lost.reason
