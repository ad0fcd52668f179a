"""The difference estimator's frames counted in the store (issue 21): per slice x band x step of
the lab calibration, the counts SQL gives are the steps ``IsotonicCalibration.predict`` finds
frame by frame, and the figures equal those computed from every frame's score (on a real chDB
store; frames and lab written here)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest

from streams.estimation.windows import load_lab_set
from streams.readiness.design import score_band
from streams.readiness.design_difference import difference_estimates
from streams.readiness.samples import T0, event_uuid, sample_frame, sample_label_line
from streams.readiness.score_design import predicted_defect
from streams.readiness.score_estimate import ScoredSample, difference_rate, label_dispersion
from streams.sinks import ClickHouseStore
from streams.sinks.audits import AuditUnitRecord, frame_scores
from streams.sinks.reads.design_difference import score_step_counts
from tests.test_estimation import _write_lab
from tests.test_readiness_store import BOX, ingest_labels

SLICES = [("line-1", "day", "normal"), ("line-2", "night", "dim")]


@pytest.fixture
def store(tmp_path: Path) -> Iterator[ClickHouseStore]:
    with ClickHouseStore.open(f"chdb://{tmp_path / 'store'}") as s:
        s.apply_schema()
        yield s


def _world(store: ClickHouseStore) -> list[tuple[str, tuple[str, str, str], float]]:
    rng = np.random.default_rng(3)
    _write_lab(store, rng, n=300)
    knots = load_lab_set(store).calibration().knots
    scores = list(rng.beta(1.5, 6, 1500)) + list(knots) + [0.0, 1.0, knots[0] - 1e-9]
    units = [(event_uuid(7000 + i), SLICES[i % 2], float(s)) for i, s in enumerate(scores)]
    store.insert(
        [
            sample_frame(
                e,
                line_id=k[0],
                shift=k[1],
                lighting=k[2],
                max_confidence=s,
                captured_at=T0 + timedelta(seconds=i),
            )
            for i, (e, k, s) in enumerate(units)
        ]
    )
    return units


def test_step_counts_are_the_calibrations_steps(store: ClickHouseStore) -> None:
    units = _world(store)
    calibration = load_lab_set(store).calibration()
    knots = np.asarray(calibration.knots)
    expected: Counter[tuple[str, str, str, str, int]] = Counter()
    for _e, k, s in units:
        step = int(np.clip(np.searchsorted(knots, s, side="right") - 1, 0, len(knots) - 1))
        assert calibration.predict([s])[0] == calibration.values[step]
        expected[(*k, score_band(s, 0.5, 0.15), step)] += 1
    rows = score_step_counts(store, 0.5, 0.15, calibration.knots)
    assert {(r.line_id, r.shift, r.lighting, r.band, r.step): r.frames for r in rows} == expected
    assert len(rows) < len(units) / 20  # what crosses from the store: steps, not frames


def test_figures_equal_those_from_every_frames_score(store: ClickHouseStore) -> None:
    units = _world(store)
    chosen = units[::25]  # 1 in 25, every frame with the same probability
    store.insert(
        [
            AuditUnitRecord(
                plan_id="p1",
                event_id=e,
                line_id=k[0],
                shift=k[1],
                lighting=k[2],
                band=score_band(s, 0.5, 0.15),
                captured_at=T0,
                max_confidence=s,
                stratum_frames=0,
                stratum_sample=0,
                inclusion_probability=0.04,
                window_start=T0,
                window_end=T0,
                planned_at=T0,
            )
            for e, k, s in chosen
        ]
    )
    ingest_labels(
        store, [sample_label_line(e, [("dent", BOX)] if s > 0.4 else []) for e, _k, s in chosen]
    )
    from streams.config import Settings
    from streams.readiness.reconcile import reconcile

    reconcile(store, Settings(inference={"operating_threshold": 0.5}), threshold=0.5)
    found = difference_estimates(store, 0.5, 0.15, [(), (0, 1, 2)])
    assert found is not None
    overall, per_slice = found
    assert set(per_slice) == set(SLICES)
    # the oracle: every frame's score read and predicted one by one
    calibration = load_lab_set(store).calibration()
    rows = frame_scores(store, 0.5, 0.15)
    keys = [(r[0], r[1], r[2]) for r in rows]
    p = predicted_defect(calibration, keys, np.array([r[4] for r in rows]))
    from streams.sinks.audits import design_outcomes

    outcomes = design_outcomes(store, 0.5, 0.15)
    o_keys = [(o.line_id, o.shift, o.lighting) for o in outcomes]
    from streams.readiness.score_design import slice_prevalences

    prevalence = slice_prevalences(calibration, keys, np.array([r[4] for r in rows]))
    o_p = predicted_defect(
        calibration, o_keys, np.array([o.max_confidence for o in outcomes]), prevalence
    )
    # the calibration's misfit over every designed label of the store, whichever slice
    dispersion = label_dispersion(
        o_p,
        np.array([o.band == "flagged" for o in outcomes], dtype=bool),
        np.array([o.outcome in ("TP", "FN") for o in outcomes], dtype=bool),
        np.array([o.inclusion_probability for o in outcomes]),
    )
    for key in SLICES:
        mine = [i for i, k in enumerate(keys) if k == key]
        got = [i for i, k in enumerate(o_keys) if k == key]
        sample = ScoredSample(
            cells=[rows[i][3] for i in mine], p=p[mine],
            flagged=np.array([rows[i][3] == "flagged" for i in mine]),
            label_cells=[outcomes[i].band for i in got], label_p=o_p[got],
            label_flagged=np.array([outcomes[i].band == "flagged" for i in got], dtype=bool),
            pi=np.array([outcomes[i].inclusion_probability for i in got]),
            defective=np.array([outcomes[i].outcome in ("TP", "FN") for i in got], dtype=bool),
            dispersion=dispersion,
        )  # fmt: skip
        for metric in ("fnr", "fpr"):
            value, lo, hi, _sd = difference_rate(sample, metric)
            rate = getattr(per_slice[key], metric)
            assert rate.value == pytest.approx(value, abs=1e-12)
            assert (rate.lo, rate.hi) == (
                pytest.approx(lo, abs=1e-12),
                pytest.approx(hi, abs=1e-12),
            )
    assert overall[()].labels == len(chosen)
