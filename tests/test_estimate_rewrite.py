"""``linewatch estimate`` rewrites a window whose figures changed (found end to end by
``bench/e2e_estimate_shift.py``): the stored estimate is never a stale one."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from streams.config import EstimationSettings
from streams.estimation.job import run_estimates
from streams.readiness.samples import T0
from streams.sinks import ClickHouseStore
from tests.test_estimation import THRESHOLD, _write_lab, _write_slice, production


@pytest.fixture
def store(tmp_path: Path) -> Iterator[ClickHouseStore]:
    with ClickHouseStore.open(f"chdb://{tmp_path / 'store'}") as s:
        s.apply_schema()
        yield s


def _stored(store: ClickHouseStore) -> list[tuple[float, float]]:
    rows = store.query(
        "SELECT prevalence, recall FROM linewatch.v_estimated_performance ORDER BY window_start"
    ).result_rows
    return [(float(r[0]), float(r[1])) for r in rows]


def test_a_window_whose_figures_changed_is_written_again(store: ClickHouseStore) -> None:
    rng = np.random.default_rng(21)
    _write_lab(store, rng)
    scores, _ = production(rng, 1000, 0.03)
    _write_slice(store, scores, "normal", 0, T0)
    now = datetime(2026, 12, 1, tzinfo=UTC)
    first = EstimationSettings(window_frames=500, prevalence=0.03, draws=10)
    assert run_estimates(store, THRESHOLD, first, now=now).rows_written >= 2
    # the same frames with another input (here the prevalence; a new `assess` alike)
    later = EstimationSettings(window_frames=500, prevalence=0.3, draws=10)
    run = run_estimates(store, THRESHOLD, later, now=datetime(2026, 12, 2, tzinfo=UTC))
    assert run.rows_written >= 2
    stored = _stored(store)
    assert [p for p, _ in stored] == [0.3, 0.3]
    assert [r for _, r in stored] == [w.recall for w in run.windows]
    again = run_estimates(store, THRESHOLD, later, now=datetime(2026, 12, 3, tzinfo=UTC))
    assert again.rows_written == 0
