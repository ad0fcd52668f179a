"""Issue 21, as the CLI shows estimates: windows never straddle a change of a slice's inputs,
and every estimate is shown beside the realized figure of the same frames.

- :func:`streams.estimation.windows.slice_windows` cuts a slice where its image statistics
  step (a lamp dimmed mid-run), not only every ``window_frames`` from its first frame;
- :func:`streams.estimation.combine.combine`: a group's estimate is its windows' estimates
  weighted by expected defective (recall), good (FPR) and flagged (precision) frames, unknown
  windows counted as ``[0, 1]``;
- ``linewatch estimate --format json``: each window beside the labels of its own frames, each
  slice's windows combined beside the slice's realized figure (frames, bounds), and the same
  whole-slice estimate in ``metrics`` and in the ``audit_figures`` row Grafana reads.

Pure functions on synthetic arrays, and a chDB store written here (no ``streams/simulate``).
"""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime, timedelta
from itertools import pairwise

import numpy as np
import pytest
from typer.testing import CliRunner

from streams.cli import app
from streams.config import Settings
from streams.estimation import Estimate, PerformanceEstimate
from streams.estimation.combine import combine
from streams.estimation.shift import SHIFT_FEATURES
from streams.estimation.windows import SliceFrames, slice_windows
from streams.readiness.metrics import compute_metrics, parse_by
from streams.sinks import ClickHouseStore
from tests.test_slice_audits import ENV, audited_store, dsn, store

__all__ = ["dsn", "store"]  # the fixtures, re-used

T0 = datetime(2026, 11, 29, tzinfo=UTC)


def _slice(n: int, step_at: int | None, seed: int = 0) -> SliceFrames:
    """``n`` frames whose brightness (and contrast) drop to 45 % from frame ``step_at``."""
    rng = np.random.default_rng(seed)
    bright = rng.normal(0.5, 0.03, n)
    contrast = rng.normal(0.2, 0.01, n)
    if step_at is not None:
        bright[step_at:] *= 0.45
        contrast[step_at:] *= 0.45
    sharp = contrast * np.exp(rng.normal(-0.7, 0.05, n))
    stats = [list(bright), list(contrast), list(sharp), [0.0] * n, list(rng.uniform(0, 0.01, n))]
    assert len(stats) == len(SHIFT_FEATURES)
    return SliceFrames(
        captured_at=[T0 + timedelta(seconds=i) for i in range(n)],
        event_ids=[f"e{i}" for i in range(n)],
        scores=list(rng.uniform(0, 1, n)),
        model_version="m",
        stats=stats,
    )


def test_a_window_never_straddles_a_step_of_the_inputs() -> None:
    windows = slice_windows(_slice(1300, step_at=730), 500)
    assert windows[0][0] == 0 and windows[-1][1] == 1300
    assert all(b == c for (_, b), (c, _) in pairwise(windows))
    assert not any(a < 730 < b for a, b in windows), windows
    assert 730 in [a for a, _ in windows]


def test_a_stationary_slice_is_cut_every_window_from_its_first_frame() -> None:
    assert slice_windows(_slice(1300, step_at=None), 500) == [(0, 500), (500, 1300)]
    assert slice_windows(_slice(200, step_at=None), 500) == []
    assert slice_windows(_slice(200, step_at=None), 500, whole=True) == [(0, 200)]


def _part(frames: int, defective: float, recall: tuple[float, float, float]) -> PerformanceEstimate:
    r = Estimate(*recall)
    return PerformanceEstimate(
        frames, 0.5, defective / frames, "em", defective, "calibration",
        r, r, Estimate(0.01, 0.0, 0.02), status="ok",
    )  # fmt: skip


def test_combined_recall_weights_windows_by_their_defects_and_unknown_as_0_to_1() -> None:
    before, after = _part(500, 10, (0.98, 0.95, 1.0)), _part(500, 30, (0.6, 0.5, 0.7))
    whole = combine([before, after], max_unknown=0.1)
    assert whole.frames == 1000 and whole.expected_defective == 40
    assert whole.recall.as_dict() == pytest.approx({"value": 0.695, "lo": 0.6125, "hi": 0.775})
    assert combine([before], 0.1) is before
    unknown = PerformanceEstimate(
        50, 0.5, 0.0, "unknown", 0.0, "unknown", *(Estimate(None, None, None),) * 3,
        status="unknown", reason="the lab never showed frames like these",
    )  # fmt: skip
    with_gap = combine([before, after, unknown], max_unknown=0.1)
    assert with_gap.status == "ok" and "1 of 3 windows unknown" in with_gap.reason
    assert with_gap.recall.value == pytest.approx(0.695)  # from the known windows
    assert with_gap.recall.hi is not None and with_gap.recall.hi > 0.775  # [0, 1] for the gap
    mostly = combine([before, unknown, unknown, unknown], max_unknown=0.1)
    assert mostly.status == "unknown" and mostly.recall.value is None
    assert "the lab never showed" in mostly.reason


def test_estimate_shows_each_estimate_beside_the_realized_figure_of_the_same_frames(
    store: ClickHouseStore, dsn: str
) -> None:
    audited_store(store, dsn)
    settings = Settings(
        store={"dsn": dsn},
        inference={"operating_threshold": 0.5},
        estimation={"draws": 10, "window_frames": 40},
    )
    m = compute_metrics(store, settings, by=parse_by("line,shift,lighting"))
    store.close()
    args = ["estimate", "--store", dsn, "--window-frames", "40", "--format", "json"]
    res = CliRunner().invoke(app, args, env=ENV)
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    windows = data["windows"]
    assert len(windows) > 1
    # each window beside the labels of its own frames
    assert sum(w["frames"] for w in windows) == 166
    assert all(w["realized"]["labels"] + w["realized"]["undesigned_labels"] >= 0 for w in windows)
    (row,) = data["slices"]
    assert sum(w["realized"]["labels"] for w in windows) == row["labels"]
    # the slice: its windows combined, over all its frames, beside the slice's realized figure
    est = row["estimated"]
    assert est["frames"] == 166 and est["windows"] == len(windows)
    assert est["window_start"] == windows[0]["window_start"].replace("Z", "+00:00")
    assert est["window_end"] == windows[-1]["window_end"].replace("Z", "+00:00")
    # metrics shows the same whole-slice estimate (the same windows, combined)
    (s,) = m.slices
    assert s.estimated is not None and s.estimated.frames == 166
    assert est["recall"]["value"] == pytest.approx(s.estimated.recall.value)
    # Grafana's row says which frames it describes
    with ClickHouseStore.open(dsn) as st:
        rows = st.query(
            "SELECT est_frames, est_windows, window_start IS NOT NULL FROM linewatch.audit_figures"
        ).result_rows
    assert rows == [(166, len(windows), True)]


def test_a_partial_window_without_precision_widens_the_combined_precision() -> None:
    before, after = _part(500, 10, (0.98, 0.95, 1.0)), _part(500, 30, (0.6, 0.5, 0.7))
    alone = combine([before, after], max_unknown=0.1)
    glare = dataclasses.replace(
        after, status="partial", precision=Estimate(None, None, None), reason="excess flags"
    )
    whole = combine([before, glare], max_unknown=0.1)
    assert whole.status == "partial"
    assert whole.precision.value == pytest.approx(before.precision.value)
    assert alone.precision.hi is not None and whole.precision.hi is not None
    assert whole.precision.lo is not None and alone.precision.lo is not None
    assert whole.precision.lo < alone.precision.lo  # the missing window enters as [0, 1]
