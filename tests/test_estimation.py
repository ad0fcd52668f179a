"""Label-free estimates: calibration, the estimator on slices with known truth, the store job."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from schemas.records import DriftEventRecord, EstimatedPerformanceRecord
from streams.config import EstimationSettings, Settings
from streams.errors import EstimationError
from streams.estimation import (
    IsotonicCalibration,
    LabSet,
    em_prevalence,
    estimate_performance,
    shift_prior,
)
from streams.estimation.drops import ESTIMATED_RECALL_SIGNAL
from streams.estimation.job import run_estimates
from streams.readiness.metrics import compute_metrics
from streams.readiness.records import AssessmentRunRecord, LabEvalRecord
from streams.readiness.samples import T0, event_uuid, sample_frame
from streams.sinks import ClickHouseStore

THRESHOLD = 0.5


def lab_scores(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    """A lab split: half defective; defects score high, good units low, some overlap."""
    y = rng.integers(0, 2, n)
    s = np.where(y == 1, rng.beta(6, 2, n), rng.beta(1.5, 8, n))
    return s, y


def production(
    rng: np.random.Generator, n: int, prevalence: float, defect_scale: float = 1.0
) -> tuple[np.ndarray, np.ndarray]:
    """Production frames; ``defect_scale`` < 1 pushes defect scores down (a failing lamp)."""
    y = rng.random(n) < prevalence
    s = np.where(y, rng.beta(6, 2, n) * defect_scale, rng.beta(1.5, 8, n))
    return s, y


def realized_recall(s: np.ndarray, y: np.ndarray) -> float:
    return float((s[y] >= THRESHOLD).mean())


# ---------------------------------------------------------------------------- calibration
def test_isotonic_calibration_is_monotone_and_ties_share_a_value() -> None:
    rng = np.random.default_rng(1)
    s, y = lab_scores(rng, 500)
    s = np.round(s, 2)  # many ties
    cal = IsotonicCalibration.fit(s, y)
    grid = np.linspace(0, 1, 201)
    p = cal.predict(grid)
    assert np.all(np.diff(p) >= 0)
    assert 0 < p[0] < 0.1 and 0.9 < p[-1] < 1
    tied = cal.predict(np.full(3, s[0]))
    assert len(set(tied.tolist())) == 1


def test_calibration_refuses_what_it_cannot_fit() -> None:
    with pytest.raises(EstimationError, match="at least 20"):
        IsotonicCalibration.fit([0.1, 0.9], [0, 1])
    with pytest.raises(EstimationError, match="only good"):
        IsotonicCalibration.fit([0.1] * 30, [0] * 30)
    with pytest.raises(EstimationError, match="finite"):
        IsotonicCalibration.fit([float("nan")] * 30, [0, 1] * 15)


def test_prior_shift_round_trips_and_keeps_certainties() -> None:
    p = np.array([0.0, 0.2, 0.5, 0.9, 1.0])
    there = shift_prior(p, 0.5, 0.02)
    back = shift_prior(there, 0.02, 0.5)
    assert np.allclose(back, p)
    assert there[0] == 0.0 and there[-1] == 1.0
    assert there[2] == pytest.approx(0.02)


def test_em_recovers_a_known_prevalence() -> None:
    rng = np.random.default_rng(2)
    lab_s, lab_y = lab_scores(rng, 2000)
    cal = IsotonicCalibration.fit(lab_s, lab_y)
    s, y = production(rng, 20_000, 0.05)
    assert em_prevalence(cal, s) == pytest.approx(y.mean(), abs=0.01)


def test_em_is_not_pulled_down_by_the_calibrations_shrinkage_at_a_low_prevalence() -> None:
    # A small, well separated lab set: its top block is all defective and shrinks to about
    # 0.99. EM on the shrunk posteriors settled near half of a 2 % prevalence.
    rng = np.random.default_rng(7)
    lab_y = np.r_[np.ones(50), np.zeros(50)]
    lab_s = np.where(lab_y == 1, rng.uniform(0.6, 1.0, 100), rng.uniform(0.0, 0.4, 100))
    cal = IsotonicCalibration.fit(lab_s, lab_y)
    assert max(cal.values) < 0.995
    y = rng.random(20_000) < 0.02
    s = np.where(y, rng.uniform(0.6, 1.0, y.size), rng.uniform(0.0, 0.4, y.size))
    assert em_prevalence(cal, s) == pytest.approx(y.mean(), abs=0.002)


# ---------------------------------------------------------------------------- estimator
@pytest.mark.parametrize("seed", [3, 4, 5])
def test_recall_estimate_within_ten_points_on_stationary_slices(seed: int) -> None:
    rng = np.random.default_rng(seed)
    lab = LabSet(*lab_scores(rng, 400))
    s, y = production(rng, 3000, 0.025)  # ~75 defects: realized recall on >= 50
    assert y.sum() >= 50
    est = estimate_performance(s, THRESHOLD, lab, prevalence=float(y.mean()), draws=100)
    assert est.recall.value is not None and est.recall.lo is not None
    assert abs(est.recall.value - realized_recall(s, y)) <= 0.10
    assert est.recall_denominator == "calibration"
    realized_fpr = float((s[~y] >= THRESHOLD).mean())
    assert est.fpr.value == pytest.approx(realized_fpr, abs=0.02)


def test_a_failing_lamp_drops_the_estimate_by_at_least_half_the_realized_fall() -> None:
    rng = np.random.default_rng(6)
    lab = LabSet(*lab_scores(rng, 400))
    s0, y0 = production(rng, 3000, 0.025)
    s1, y1 = production(rng, 3000, 0.025, defect_scale=0.35)  # defects now score like good
    base = estimate_performance(s0, THRESHOLD, lab, prevalence=0.025, draws=50)
    dark = estimate_performance(s1, THRESHOLD, lab, prevalence=0.025, draws=50)
    realized_fall = realized_recall(s0, y0) - realized_recall(s1, y1)
    assert realized_fall > 0.5
    assert base.recall.value is not None and dark.recall.value is not None
    assert base.recall.value - dark.recall.value >= realized_fall / 2
    assert dark.recall_denominator == "base_rate"


def test_without_audits_the_lamp_failure_is_the_known_blind_spot() -> None:
    """EM follows the scores: defects that score like good units vanish from the estimate."""
    rng = np.random.default_rng(7)
    lab = LabSet(*lab_scores(rng, 400))
    s1, y1 = production(rng, 3000, 0.025, defect_scale=0.35)
    est = estimate_performance(s1, THRESHOLD, lab, prevalence=None, draws=20)
    assert est.prevalence_source == "em"
    assert est.prevalence < 0.5 * y1.mean()


def test_estimate_is_reproducible_and_refuses_empty_input() -> None:
    rng = np.random.default_rng(8)
    lab = LabSet(*lab_scores(rng, 200))
    s, _ = production(rng, 500, 0.05)
    a = estimate_performance(s, THRESHOLD, lab, prevalence=0.05, draws=30, seed=1)
    b = estimate_performance(s, THRESHOLD, lab, prevalence=0.05, draws=30, seed=1)
    assert a == b
    with pytest.raises(EstimationError):
        estimate_performance([], THRESHOLD, lab, prevalence=0.05)


# ---------------------------------------------------------------------------- the store
@pytest.fixture
def store(tmp_path: Path) -> Iterator[ClickHouseStore]:
    with ClickHouseStore.open(f"chdb://{tmp_path / 'store'}") as s:
        s.apply_schema()
        yield s


def _write_lab(store: ClickHouseStore, rng: np.random.Generator, n: int = 300) -> None:
    s, y = lab_scores(rng, n)
    run = AssessmentRunRecord(
        run_id="run-1",
        suite="corruptions",
        seed=0,
        frames=n,
        conditions=1,
        model_name="sample",
        model_version="1",
        threshold=THRESHOLD,
        review_low=0.15,
        review_high=0.5,
        started_at=T0,
        finished_at=T0 + timedelta(seconds=1),
        elapsed_s=1.0,
    )
    rows = [
        LabEvalRecord(
            row_id=f"lab-{i}",
            run_id="run-1",
            corruption="clean",
            severity=0,
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
            pred_defective=bool(si >= THRESHOLD),
            outcome=("TP" if si >= THRESHOLD else "FN")
            if yi
            else ("FP" if si >= THRESHOLD else "TN"),
            failure_mode="",
        )
        for i, (si, yi) in enumerate(zip(s, y, strict=True))
    ]
    store.insert([run, *rows])


def _write_slice(
    store: ClickHouseStore, scores: np.ndarray, lighting: str, offset: int, start: datetime
) -> None:
    store.insert(
        [
            sample_frame(
                event_uuid(offset + i),
                lighting=lighting,
                captured_at=start + timedelta(seconds=i),
                max_confidence=float(v),
                threshold=THRESHOLD,
            )
            for i, v in enumerate(scores)
        ]
    )


def _lab_and_slice(
    store: ClickHouseStore, tmp_path: Path, *, seed: int, frames: int, draws: int
) -> Settings:
    """A lab assessment, one production slice of ``frames`` frames, and settings for them."""
    rng = np.random.default_rng(seed)
    _write_lab(store, rng)
    normal, _ = production(rng, frames, 0.03)
    _write_slice(store, normal, "normal", 0, T0)
    return Settings(
        estimation=EstimationSettings(prevalence=0.03, draws=draws),
        store={"dsn": f"chdb://{tmp_path / 'store'}"},
        inference={"operating_threshold": THRESHOLD},
    )


def test_estimate_job_writes_windows_once_and_raises_a_recall_drop(store: ClickHouseStore) -> None:
    rng = np.random.default_rng(9)
    _write_lab(store, rng)
    normal, _ = production(rng, 2000, 0.03)
    dark, _ = production(rng, 2000, 0.03, defect_scale=0.3)
    _write_slice(store, normal, "normal", 0, T0)
    _write_slice(store, dark, "dark", 10_000, T0)
    params = EstimationSettings(window_frames=500, prevalence=0.03, draws=20)
    now = datetime(2026, 12, 1, tzinfo=UTC)
    run = run_estimates(store, THRESHOLD, params, now=now)
    assert len(run.windows) == 8
    assert all(isinstance(w, EstimatedPerformanceRecord) for w in run.windows)
    assert run.rows_written == 8 + len(run.drift_events)
    assert [(e.lighting, e.signal) for e in run.drift_events] == [("dark", ESTIMATED_RECALL_SIGNAL)]
    event: DriftEventRecord = run.drift_events[0]
    assert event.after_mean < event.threshold
    again = run_estimates(store, THRESHOLD, params, now=now)
    assert again.rows_written == 0
    rows = store.query(
        "SELECT lighting, count(), avg(recall) FROM linewatch.v_estimated_performance "
        "GROUP BY lighting ORDER BY lighting"
    ).result_rows
    assert [(r[0], r[1]) for r in rows] == [("dark", 4), ("normal", 4)]
    assert rows[0][2] < rows[1][2] - 0.3


def test_metrics_give_each_slice_an_estimate_beside_the_realized_figures(
    store: ClickHouseStore, tmp_path: Path
) -> None:
    settings = _lab_and_slice(store, tmp_path, seed=10, frames=600, draws=20)
    m = compute_metrics(store, settings, by=("line_id", "lighting"))
    data = json.loads(json.dumps(m.as_dict(), default=str))
    assert data["estimated"][0]["line_id"] == "line-1"
    assert set(data["estimated"][0]) >= {"precision", "recall", "fpr", "prevalence"}
    assert data["overall"]["estimated"]["frames"] == 600
    assert set(data["overall"]["estimate_error"]) == {"precision", "recall", "fpr"}


def test_metrics_without_a_lab_assessment_say_what_to_run(
    store: ClickHouseStore, tmp_path: Path
) -> None:
    _write_slice(store, np.array([0.1, 0.9]), "normal", 0, T0)
    settings = Settings(
        store={"dsn": f"chdb://{tmp_path / 'store'}"}, inference={"operating_threshold": THRESHOLD}
    )
    m = compute_metrics(store, settings)
    assert any("linewatch assess" in note for note in m.notes)
    assert m.overall.estimated is None


def test_estimate_cli_prints_and_dry_run_writes_nothing(
    store: ClickHouseStore, tmp_path: Path
) -> None:
    from streams.cli import app

    rng = np.random.default_rng(11)
    _write_lab(store, rng)
    normal, _ = production(rng, 300, 0.03)
    _write_slice(store, normal, "normal", 0, T0)
    store.close()
    dsn = f"chdb://{tmp_path / 'store'}"
    env = {
        "LINEWATCH_INFERENCE__OPERATING_THRESHOLD": "0.5",
        "LINEWATCH_ESTIMATION": '{"draws": 10}',
    }
    result = CliRunner().invoke(
        app, ["estimate", "--store", dsn, "--dry-run", "--format", "json"], env=env
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["rows_written"] == 0 and len(data["windows"]) == 1
    result = CliRunner().invoke(app, ["estimate", "--store", dsn], env=env)
    assert result.exit_code == 0, result.output
    assert "1 rows written" in result.output
    # a slice of 300 frames has no 1000-frame window: the output says why, and the fix
    result = CliRunner().invoke(
        app, ["estimate", "--store", dsn, "--dry-run", "--window-frames", "1000"], env=env
    )
    assert result.exit_code == 0, result.output
    said = " ".join(result.output.split())
    assert "0 windows" in said and "no slice (line x shift x lighting) has 500 frames" in said
    assert "--window-frames" in said


def test_a_recall_drop_with_lighting_alarms_is_attributed_to_lighting(
    store: ClickHouseStore,
) -> None:
    rng = np.random.default_rng(12)
    _write_lab(store, rng)
    dark, _ = production(rng, 1000, 0.03, defect_scale=0.3)
    _write_slice(store, dark, "dark", 0, T0)
    store.insert(
        [
            DriftEventRecord(
                drift_id="d1",
                line_id="line-1",
                shift="day",
                lighting="*",
                signal="lighting_mix",
                detector="cusum",
                detected_at=T0 + timedelta(seconds=30),
                trigger_event_id=event_uuid(30),
                statistic=9.0,
                threshold=5.0,
                events_in_slice=30,
                before_mean=0.0,
                before_std=0.0,
                after_mean=1.0,
                after_std=0.0,
            )
        ]
    )
    params = EstimationSettings(window_frames=500, prevalence=0.03, draws=20)
    run = run_estimates(store, THRESHOLD, params)
    assert [(e.signal, e.cause) for e in run.drift_events] == [
        (ESTIMATED_RECALL_SIGNAL, "lighting")
    ]
    assert "lighting_mix" in run.drift_events[0].evidence
    stored = store.query(
        "SELECT cause FROM linewatch.drift_events WHERE signal = 'estimated_recall'"
    ).result_rows
    assert stored == [("lighting",)]


def test_report_shows_estimates_beside_realized_figures(
    store: ClickHouseStore, tmp_path: Path
) -> None:
    from streams.report import render_report

    settings = _lab_and_slice(store, tmp_path, seed=13, frames=400, draws=10)
    html = render_report(store, settings)
    section = html.split('id="estimates"', 1)[1].split("</section>", 1)[0]
    assert "est. recall" in section and "No data" not in section
    assert "3.00% (configured)" in section and "no labels" in section
