"""Estimates under covariate shift: matching weights, effective sample size, the unknown rule,
the weighted calibration, and a darkened window in a chDB store (docs/estimation.md)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest

from streams.config import EstimationSettings
from streams.errors import EstimationError
from streams.estimation import IsotonicCalibration, estimate_performance
from streams.estimation.job import run_estimates
from streams.estimation.reweighted import LabPool, estimate_under_shift
from streams.estimation.shift import (
    SHIFT_FEATURES,
    LabGeometry,
    ShiftRule,
    ShiftWeights,
    effective_sample_size,
    feature_matrix,
    matching_weights,
    shift_verdict,
)
from streams.readiness.records import AssessmentRunRecord, LabEvalRecord
from streams.readiness.samples import T0, event_uuid, sample_frame
from streams.sinks import ClickHouseStore

THRESHOLD = 0.5


def stats(rng: np.random.Generator, gain: np.ndarray) -> np.ndarray:
    """``(n, 5)`` image statistics (SHIFT_FEATURES order) of frames lit at ``gain``."""
    n = gain.size
    return np.column_stack(
        [
            0.5 * gain + rng.normal(0, 0.01, n),
            0.2 * gain + rng.normal(0, 0.005, n),
            0.05 * gain * np.exp(rng.normal(0, 0.1, n)),  # gain leaves sharpness / contrast
            np.zeros(n),
            np.zeros(n),
        ]
    )


def scores(rng: np.random.Generator, y: np.ndarray, gain: np.ndarray) -> np.ndarray:
    """Top scores: defects score high in good light, about half below the threshold in the dark."""
    defect = np.where(gain > 0.75, rng.beta(8, 2, y.size), rng.beta(8, 2, y.size) * 0.6)
    return np.where(y == 1, defect, rng.beta(1.5, 10, y.size))


def lab_pool(rng: np.random.Generator, n: int = 400) -> tuple[np.ndarray, ...]:
    """Lab frames: ``n`` clean and ``n`` under a darkening corruption (gain 0.5), half defective."""
    gain = np.r_[np.ones(n), np.full(n, 0.5)]
    y = rng.integers(0, 2, 2 * n)
    return scores(rng, y, gain), y, stats(rng, gain), gain == 1.0


# ---------------------------------------------------------------------------- pure functions
def test_effective_sample_size_counts_equal_weights_and_falls_as_they_concentrate() -> None:
    assert effective_sample_size(np.ones(50)) == pytest.approx(50)
    assert effective_sample_size(np.r_[np.ones(10), np.zeros(40)]) == pytest.approx(10)
    skewed = effective_sample_size(np.r_[np.full(5, 10.0), np.ones(45)])
    assert 10 < skewed < 50
    assert effective_sample_size(np.zeros(3)) == 0.0


def test_matching_weights_follow_the_window_and_mark_what_the_lab_never_showed() -> None:
    rng = np.random.default_rng(1)
    lab = np.r_[rng.normal(0, 1, (1000, 2)), rng.normal(5, 1, (1000, 2))]
    geometry = LabGeometry.of(lab)
    # A window like the second half of the lab: the weights move there.
    w = matching_weights(geometry, rng.normal(5, 1, (800, 2)))
    assert w.weights.mean() == pytest.approx(1.0)
    assert w.weights[1000:].sum() > 0.95 * w.weights.sum()
    assert 200 < w.ess < 1000
    assert w.unsupported < 0.02 and w.auc > 0.7
    # A window between the two: lab frames exist on both sides but none near it.
    gap = matching_weights(geometry, rng.normal(2.5, 0.1, (800, 2)))
    assert gap.unsupported > 0.5
    # The same window as the lab: no frame unsupported, weights spread, AUC near one half.
    same = matching_weights(geometry, lab[::4] + rng.normal(0, 0.01, (500, 2)))
    assert same.unsupported < 0.02 and same.auc < 0.6 and same.ess > 300


def test_shift_verdict_says_unknown_with_the_reason() -> None:
    y = np.r_[np.ones(100), np.zeros(100)]
    rule = ShiftRule(max_unsupported=0.1, min_ess_defective=30)
    fine = ShiftWeights(np.ones(200), 200.0, 0.6, 0.02, "brightness")
    assert shift_verdict(fine, y, rule) == ("ok", "")
    beyond = ShiftWeights(np.ones(200), 200.0, 1.0, 0.4, "contrast")
    status, reason = shift_verdict(beyond, y, rule)
    assert status == "unknown" and "40% of the window's frames" in reason
    assert "contrast" in reason and "linewatch assess" in reason
    few = np.r_[np.ones(20), np.zeros(80), np.ones(100)]  # 20 defective lab frames carry weight
    status, reason = shift_verdict(ShiftWeights(few, 120.0, 0.9, 0.0, "brightness"), y, rule)
    assert status == "unknown" and reason.startswith("only 20.0 effective defective lab frames")


def test_feature_matrix_takes_logs_and_refuses_what_it_cannot_compare() -> None:
    x = feature_matrix([[0.5], [0.0], [0.0], [0.0], [0.0]])
    assert x.shape == (1, len(SHIFT_FEATURES))
    assert x[0, 1] == pytest.approx(np.log(1e-3))  # a flat frame's contrast is floored
    with pytest.raises(EstimationError, match="feature columns"):
        feature_matrix([[0.5]])
    with pytest.raises(EstimationError, match="finite"):
        feature_matrix([[float("nan")], [0.2], [0.1], [0.0], [0.0]])


def test_weighted_calibration_equals_repeating_frames_without_smoothing() -> None:
    rng = np.random.default_rng(2)
    s = np.round(rng.random(60), 2)
    y = (rng.random(60) < s).astype(float)
    reps = rng.integers(1, 4, 60)
    weighted = IsotonicCalibration.fit(s, y, weights=reps.astype(float), smoothing=0)
    repeated = IsotonicCalibration.fit(np.repeat(s, reps), np.repeat(y, reps), smoothing=0)
    grid = np.linspace(0, 1, 101)
    assert np.allclose(weighted.predict(grid), repeated.predict(grid))
    with pytest.raises(EstimationError, match="weights"):
        IsotonicCalibration.fit(s, y, weights=-np.ones(60))


def test_a_darkened_window_pulls_the_estimate_down_with_the_realized_recall() -> None:
    rng = np.random.default_rng(3)
    lab_s, lab_y, lab_x, clean = lab_pool(rng)
    pool = LabPool(lab_s, lab_y, feature_matrix(list(lab_x.T)), clean)
    n = 3000
    y = rng.random(n) < 0.05
    gain = np.full(n, 0.5)
    s = scores(rng, y.astype(int), gain)
    realized = float((s[y] >= THRESHOLD).mean())
    window = feature_matrix(list(stats(rng, gain).T))
    # label-free (prevalence by EM), as on a line without audits
    today = estimate_performance(s, THRESHOLD, pool.clean_set(), draws=50)
    est = estimate_under_shift(s, window, THRESHOLD, pool, draws=50)
    assert 0.3 < realized < 0.7
    assert today.recall.value is not None and today.recall.value > 0.8  # follows the scores
    assert est.status == "ok" and est.recall.value is not None
    assert abs(est.recall.value - realized) < 0.1
    assert est.recall.lo is not None and est.recall.hi is not None
    assert est.recall.lo <= realized <= est.recall.hi
    assert est.lab_ess_defective is not None and est.lab_ess_defective > 30


def test_per_class_recall_is_the_labs_under_conditions_like_the_windows() -> None:
    rng = np.random.default_rng(7)
    lab_s, lab_y, lab_x, clean = lab_pool(rng)
    # dents vanish in the dark (as in scores()), scratches stay bright enough to be caught
    scratch = (lab_y == 1) & (rng.random(lab_y.size) < 0.5)
    lab_s = np.where(scratch, rng.beta(8, 2, lab_y.size), lab_s)
    classes = tuple(
        ("scratch",) if sc else ("dent",) if y else () for sc, y in zip(scratch, lab_y, strict=True)
    )
    pool = LabPool(lab_s, lab_y, feature_matrix(list(lab_x.T)), clean, classes=classes)
    gain = np.full(2000, 0.5)
    window = feature_matrix(list(stats(rng, gain).T))
    est = estimate_under_shift(rng.random(2000) * 0.3, window, THRESHOLD, pool, draws=50)
    assert est.per_class_recall is not None
    dent, scr = est.per_class_recall["dent"], est.per_class_recall["scratch"]
    dark_dents = lab_s[(~clean) & (lab_y == 1) & ~scratch]
    assert dent.value == pytest.approx(float((dark_dents >= THRESHOLD).mean()), abs=0.1)
    assert scr.value is not None and scr.value > 0.9
    assert dent.value is not None and dent.lo is not None and dent.hi is not None
    assert dent.lo <= dent.value <= dent.hi
    # The label-shift-only estimate speaks for the clean lab: dents look fine there.
    plain = LabPool(
        lab_s[clean],
        lab_y[clean],
        None,
        clean[clean],
        classes=tuple(c for c, k in zip(classes, clean, strict=True) if k),
    )
    unchecked = estimate_under_shift(rng.random(500), None, THRESHOLD, plain, draws=20)
    assert unchecked.per_class_recall is not None
    assert (unchecked.per_class_recall["dent"].value or 0) > 0.9
    assert "dent" in est.as_dict()["per_class_recall"]


def test_per_class_intervals_hold_the_windows_own_few_frames_of_a_class() -> None:
    # 400 lab frames of one class, 70 % caught: the lab's share is well known, a window's
    # ~15 frames of the class are not; the interval widens by their sampling.
    rng = np.random.default_rng(9)
    y = np.r_[np.ones(400, int), np.zeros(400, int)]
    s = np.where(y == 1, np.where(rng.random(800) < 0.7, 0.9, 0.1), 0.05)
    classes = tuple(("dent",) if v else () for v in y)
    pool = LabPool(s, y, None, np.ones(800, bool), classes=classes)
    lab_only = pool.class_recall(THRESHOLD, None, draws=200, seed=1)
    window = pool.class_recall(THRESHOLD, None, draws=200, seed=1, units=15.0)
    assert lab_only is not None and window is not None
    a, b = lab_only["dent"], window["dent"]
    assert a.value == b.value and a.lo is not None and a.hi is not None
    assert b.lo is not None and b.hi is not None
    assert (b.hi - b.lo) > 2 * (a.hi - a.lo)
    # 15 binomial frames at 0.7: the 95 % range is about 0.47-0.93
    assert b.lo < 0.55 and b.hi > 0.85


def test_inputs_the_lab_never_showed_make_the_estimate_unknown() -> None:
    rng = np.random.default_rng(4)
    lab_s, lab_y, lab_x, clean = lab_pool(rng)
    pool = LabPool(lab_s, lab_y, feature_matrix(list(lab_x.T)), clean)
    n = 1000
    y = rng.random(n) < 0.05
    gain = np.full(n, 0.15)  # far darker than any lab condition
    s = scores(rng, y.astype(int), gain)
    est = estimate_under_shift(
        s, feature_matrix(list(stats(rng, gain).T)), THRESHOLD, pool, prevalence=0.05, draws=10
    )
    assert est.status == "unknown"
    assert est.recall.value is None and est.precision.value is None
    assert "look like no lab frame" in est.reason
    assert est.as_dict()["status"] == "unknown"


def test_without_lab_statistics_the_estimate_is_the_clean_calibrations_unchecked() -> None:
    rng = np.random.default_rng(5)
    lab_s, lab_y, _, clean = lab_pool(rng)
    pool = LabPool(lab_s[clean], lab_y[clean], None, np.ones(int(clean.sum()), bool))
    s = rng.random(500)
    est = estimate_under_shift(s, None, THRESHOLD, pool, prevalence=0.05, draws=10)
    plain = estimate_performance(s, THRESHOLD, pool.clean_set(), prevalence=0.05, draws=10)
    assert est.status == "unchecked" and est.recall == plain.recall


# ---------------------------------------------------------------------------- the store
@pytest.fixture
def store(tmp_path: Path) -> Iterator[ClickHouseStore]:
    with ClickHouseStore.open(f"chdb://{tmp_path / 'store'}") as s:
        s.apply_schema()
        yield s


def _write_assessment(store: ClickHouseStore, rng: np.random.Generator) -> None:
    """A corruption-suite run: clean lab frames and the same frames darkened, with statistics."""
    lab_s, lab_y, lab_x, clean = lab_pool(rng)
    run = AssessmentRunRecord(
        run_id="run-1",
        suite="corruptions",
        seed=0,
        frames=int(clean.sum()),
        conditions=2,
        model_name="sample",
        model_version="1",
        threshold=THRESHOLD,
        review_low=0.15,
        review_high=0.5,
        started_at=T0,
        finished_at=T0 + timedelta(seconds=1),
        elapsed_s=1.0,
    )
    rows = []
    for i, (si, yi, xi, ci) in enumerate(zip(lab_s, lab_y, lab_x, clean, strict=True)):
        flagged = bool(si >= THRESHOLD)
        rows.append(
            LabEvalRecord(
                row_id=f"lab-{i}",
                run_id="run-1",
                corruption="clean" if ci else "brightness",
                severity=0 if ci else 3,
                frame_index=i,
                scene_id=f"scene-{i}",
                gt_classes=["dent"] if yi else [],
                gt_boxes=[[0.0, 0.0, 5.0, 5.0]] if yi else [],
                det_classes=[],
                det_confidences=[],
                det_boxes=[],
                max_confidence=float(si),
                threshold=THRESHOLD,
                gt_defective=bool(yi),
                pred_defective=flagged,
                outcome=("TP" if flagged else "FN") if yi else ("FP" if flagged else "TN"),
                failure_mode="",
                est_colour_temp_k=5000.0,
                colour_cast=0.0,
                **{name: float(v) for name, v in zip(SHIFT_FEATURES, xi, strict=True)},
            )
        )
    store.insert([run, *rows])


def _write_production(
    store: ClickHouseStore, rng: np.random.Generator, lighting: str, gain: float, offset: int
) -> float:
    """1,500 frames of one slice lit at ``gain`` (the lux sensor does not see it); returns the
    realized frame-level recall."""
    n = 1500
    y = (rng.random(n) < 0.05).astype(int)
    g = np.full(n, gain)
    s = scores(rng, y, g)
    x = stats(rng, g)
    store.insert(
        [
            sample_frame(
                event_uuid(offset + i),
                lighting=lighting,
                captured_at=T0 + timedelta(seconds=i),
                max_confidence=float(s[i]),
                threshold=THRESHOLD,
            ).model_copy(
                update={name: float(v) for name, v in zip(SHIFT_FEATURES, x[i], strict=True)}
            )
            for i in range(n)
        ]
    )
    return float((s[y == 1] >= THRESHOLD).mean())


def test_a_darkened_slices_stored_estimate_drops_where_the_label_shift_one_stays_high(
    store: ClickHouseStore,
) -> None:
    rng = np.random.default_rng(6)
    _write_assessment(store, rng)
    lit = _write_production(store, rng, "normal", 1.0, 0)
    dark = _write_production(store, rng, "dark", 0.5, 100_000)
    assert lit > 0.9 and 0.3 < dark < 0.7
    params = EstimationSettings(window_frames=1500, draws=50)  # no audits: EM prevalence
    run = run_estimates(store, THRESHOLD, params)
    by_slice = {w.lighting: w for w in run.windows}
    assert set(by_slice) == {"normal", "dark"}
    assert all(w.status == "ok" for w in run.windows)
    assert by_slice["normal"].recall is not None and by_slice["normal"].recall > 0.85
    est = by_slice["dark"]
    assert est.recall is not None and est.recall_lo is not None and est.recall_hi is not None
    assert abs(est.recall - dark) < 0.1 and est.recall_lo <= dark <= est.recall_hi
    assert est.lab_ess_defective is not None and est.lab_ess_defective > 30
    stored = store.query(
        "SELECT lighting, status, recall, lab_ess FROM linewatch.v_estimated_performance "
        "ORDER BY lighting"
    ).result_rows
    assert [(r[0], r[1]) for r in stored] == [("dark", "ok"), ("normal", "ok")]
    assert stored[0][2] == pytest.approx(est.recall) and stored[0][3] > 0


def test_the_assess_suite_stores_each_lab_frames_statistics_and_the_estimator_reads_them(
    store: ClickHouseStore,
) -> None:
    from streams.assess import evaluate_suite
    from streams.estimation.windows import load_lab_pool
    from tests.test_assess import DarkSpotDetector

    result = evaluate_suite(
        DarkSpotDetector(), threshold=0.5, review_band=(0.15, 0.5), frames=24, severities=(5,)
    )
    by_condition: dict[str, list[float]] = {}
    for row in result.frames:
        assert row.brightness is not None and row.contrast is not None
        by_condition.setdefault(f"{row.corruption}{row.severity}", []).append(row.brightness)
    # the statistics are those of the frame the model saw: severity-5 dimming is darker
    assert np.mean(by_condition["brightness5"]) < 0.5 * np.mean(by_condition["clean0"])
    store.insert(result.records())
    pool = load_lab_pool(store)
    assert pool.features is not None and pool.features.shape[1] == len(SHIFT_FEATURES)
    assert int(pool.clean.sum()) == 24
    # every corruption but occlusion, no novel input, and every level of the dense grid
    from streams.assess.grid import COMPOSED, COMPOSED_SHARE, GRID, grid_conditions

    grid_levels = sum(len(levels) for levels in GRID.values())
    cells = sum(c.corruption == COMPOSED for c in grid_conditions(0))
    suite = len({r.corruption for r in result.results}) - 4
    assert len(pool.scores) == 24 * (suite + grid_levels) + cells * -(-24 // COMPOSED_SHARE)
