"""``drift calibrate``: ``det.paths(n)`` alarms like n runtime detectors; small runs (counts)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from streams.cli import app
from streams.config import Settings
from streams.drift import BernoulliCusum, GaussianCusum
from streams.drift.calibration.calibrate import budget_check, calibrate
from streams.drift.calibration.montecarlo import (
    false_alarms_vectorised,
    poisson_interval,
)
from streams.runners.reference import load_reference


def _scalar_alarms(det: GaussianCusum | BernoulliCusum, xs: np.ndarray) -> list[tuple[int, int]]:
    out = []
    for j in range(xs.shape[1]):
        d = det.clone()
        for i, x in enumerate(xs[:, j].tolist()):
            d.update(x)
            if d.drift_detected:
                out.append((i, j))
    return sorted(out)


def _vector_alarms(det: GaussianCusum | BernoulliCusum, xs: np.ndarray) -> list[tuple[int, int]]:
    paths = det.paths(xs.shape[1])
    return sorted((i, int(j)) for i, row in enumerate(xs) for j in np.flatnonzero(paths.step(row)))


@pytest.mark.parametrize(
    "det",
    [GaussianCusum(h=6.0), GaussianCusum(k=0.25, h=4.0, warmup=3, winsor=1.5, std_floor=0.5)],
    ids=["default", "short-warmup-floor"],
)
def test_vectorised_gaussian_alarms_where_the_scalar_ones_do(det: GaussianCusum) -> None:
    # N scalar runtime detectors and det.paths(N) fed the same streams alarm at the same steps
    rng = np.random.default_rng(3)
    xs = rng.standard_normal((8000, 4))
    xs[4000:, 1] += 1.0
    xs[2000:, 3] *= 3.0
    got = _vector_alarms(det, xs)
    assert got == _scalar_alarms(det, xs) and len(got) > 5


@pytest.mark.parametrize(
    ("det", "rate"),
    [
        (BernoulliCusum(h=5.0), 0.05),
        # a rare event, many alarms: testing often starts at max_warmup, not at min_count ones
        # (a max_warmup one higher in the paths changes where they alarm)
        (BernoulliCusum(h=2.0, odds_ratio=3.0, warmup=10, min_count=5, max_warmup=100), 0.01),
    ],
    ids=["default", "rare-max-warmup"],
)
def test_vectorised_bernoulli_alarms_where_the_scalar_ones_do(
    det: BernoulliCusum, rate: float
) -> None:
    rng = np.random.default_rng(4)
    p = np.where(np.arange(8000) < 4000, rate, 3 * rate)[:, None]
    bits = (rng.random((8000, 3)) < p) * 1.0
    got = _vector_alarms(det, bits)
    assert got == _scalar_alarms(det, bits) and len(got) >= 3


def test_false_alarm_count_matches_a_measurable_rate() -> None:
    # a per-update target of 1e-3 (h from Siegmund) -> ~1000 alarms in 1M updates; warm-ups
    # after alarms are not tested, so a little fewer
    from streams.drift.thresholds import arl_per_side, gaussian_threshold

    h = gaussian_threshold(0.5, arl_per_side(1e-3))
    alarms, updates = false_alarms_vectorised(
        GaussianCusum(h=h).paths,
        lambda rng, shape: rng.standard_normal(shape),
        updates=1_000_000,
        paths=1000,
    )
    assert updates == 1_000_000 and 600 <= alarms <= 1100
    assert poisson_interval(0)[1] == pytest.approx(3.689, abs=1e-3)


def test_calibrate_small_run_counts() -> None:
    settings = Settings()
    ref = load_reference(settings)
    rows = calibrate(ref, settings, line="line-1", updates=20_000, jobs=1, signals=["brightness"])
    (row,) = rows
    assert row.signal == "brightness" and row.updates == 20_000
    # 1 false alarm per line-week at 1 frame/s over 19 detectors per frame (15 signals + 4 mix)
    assert row.detector.startswith("streams.drift.GaussianCusum(h=15.09")
    assert row.false_alarms == 0  # target 0.11 per 1M
    median, p95, missed = row.delays["1"]
    assert 15 <= median <= 45 and p95 < 80 and missed == 0.0
    assert row.delays["2"][0] < row.delays["1"][0] < row.delays["0.5"][0]


def test_budget_arithmetic_and_small_simulation() -> None:
    settings = Settings(
        plant={"lines": {"line-9": {"takt_units_per_minute": 60, "frames_per_second": 10}}}
    )
    ref = load_reference(settings)
    result = budget_check(ref, settings, line="line-9", line_weeks=0.005, slice_hours=0.05)
    # 10 frames/s x 604,800 s x 19 detectors per frame = 114.912M updates per line-week
    assert result.detectors_per_frame == len(ref.signals) + 4 == 19
    assert result.rate_per_update == pytest.approx(1 / 114_912_000)
    assert result.updates >= 0.005 * 114_912_000
    assert result.gaussian_threshold > 16 and result.false_alarms <= 2
    assert result.within_budget and result.delay_1sd_median <= 60


def test_cli_calibrate_json(tmp_path: Path) -> None:
    out = tmp_path / "cal.json"
    result = CliRunner().invoke(
        app,
        [
            *("drift", "calibrate", "--updates", "4000", "--jobs", "1", "--format", "json"),
            *("--signal", "brightness", "--signal", "review_band"),
            *("--budget", "--line-weeks", "0.002", "--out", str(out)),
        ],
    )
    assert result.exit_code == 0, result.output
    data = json.loads(out.read_text())
    assert [r["signal"] for r in data["rows"]] == ["brightness", "review_band"]
    assert {r["updates"] for r in data["rows"]} == {4000}
    assert data["rows"][1]["detector"].startswith("streams.drift.BernoulliCusum(h=16.95")
    assert data["budget"]["budget_per_line_week"] == 1.0
