"""The worker's per-unit audit decisions as plain functions (:mod:`streams.readiness.audit_stream`):
the probability of each unit is the score plan's over the same population, the probabilities
sum to the budget, decisions are fixed by the event id, and a request carries what a reviewer
needs. Frames and scores are built here with numpy."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from schemas.records import FrameRecord, StoreRecord
from streams.estimation.calibration import IsotonicCalibration
from streams.readiness.audit_plan import Budget
from streams.readiness.audit_stream import (
    StreamAuditor,
    audit_requests,
    stream_policy,
    unit_draw,
)
from streams.readiness.design import score_band
from streams.readiness.samples import sample_frame
from streams.readiness.score_design import (
    plan_probabilities,
    predicted_defect,
)
from streams.sinks.audits import AuditUnitRecord, PlanFrame

T0 = datetime(2026, 11, 29, tzinfo=UTC)
SLICES = [("line-1", "day", "normal"), ("line-2", "night", "dim"), ("line-3", "day", "bright")]


def _population(seed: int, n: int = 3000) -> tuple[list[PlanFrame], IsotonicCalibration]:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, 400)
    lab = np.where(y == 1, rng.beta(6, 2, 400), rng.beta(1.5, 8, 400))
    calibration = IsotonicCalibration.fit(lab, y.astype(np.float64))
    frames = []
    for i in range(n):
        key = SLICES[i % 3]
        defective = rng.random() < 0.02 + 0.03 * (i % 3)
        score = float(rng.beta(6, 2) if defective else rng.beta(1.5, 8))
        frames.append(
            PlanFrame(
                f"e-{i}", *key, score_band(score, 0.5, 0.15), T0 + timedelta(seconds=i), score
            )
        )
    return frames, calibration


def test_each_unit_gets_the_score_plans_probability_and_they_sum_to_the_budget() -> None:
    frames, calibration = _population(0)
    days = 2.0
    budget = Budget(per_day=15)  # 30 units over the reference's two days
    auditor = StreamAuditor.of_reference(
        0.5,
        0.15,
        budget,
        "stream:15/day",
        reference=frames,
        days=days,
        calibration=calibration,
        fallback_frames_day=1.0,
    )
    slices = [(f.line_id, f.shift, f.lighting) for f in frames]
    scores = np.array([f.max_confidence for f in frames])
    p = predicted_defect(calibration, slices, scores)
    flagged = np.array([f.band == "flagged" for f in frames])
    plan = plan_probabilities(slices, flagged, p, 30)  # what audit plan gives (no cells)
    mine = np.array([auditor.probability(k, s) for k, s in zip(slices, scores, strict=True)])
    assert plan.max() < 1  # no unit taken for sure: the plan's shares are not redistributed
    np.testing.assert_allclose(mine, plan, rtol=1e-9)
    assert mine.sum() == pytest.approx(30)
    assert len({round(x, 9) for x in mine}) > 10  # per unit, not per band
    # a slice the reference never held takes the uniform share
    assert auditor.probability(("line-9", "day", "normal"), 0.3) == pytest.approx(15 / 1500)


def test_without_a_calibration_band_strata_share_the_budget() -> None:
    frames, _ = _population(1)
    auditor = StreamAuditor.of_reference(
        0.5,
        0.15,
        Budget(fraction=0.05),
        "stream:5%",
        reference=frames,
        days=1.0,
        calibration=None,
        fallback_frames_day=1.0,
    )
    pis = [auditor.probability((f.line_id, f.shift, f.lighting), f.max_confidence) for f in frames]
    assert sum(pis) == pytest.approx(0.05 * len(frames), rel=0.01)
    flagged = [q for q, f in zip(pis, frames, strict=True) if f.band == "flagged"]
    passed = [q for q, f in zip(pis, frames, strict=True) if f.band == "passed"]
    assert min(flagged) > max(passed)  # Neyman: the flagged band's defect rate is uncertain


def test_decisions_are_fixed_by_the_event_and_requests_carry_the_audit_block() -> None:
    frames, calibration = _population(2, n=600)
    auditor = StreamAuditor.of_reference(
        0.5,
        0.15,
        Budget(fraction=0.2),
        stream_policy("20%"),
        reference=frames,
        days=1.0,
        calibration=calibration,
        fallback_frames_day=1.0,
    )
    rows = [
        sample_frame(
            f.event_id,
            line_id=f.line_id,
            shift=f.shift,
            lighting=f.lighting,
            max_confidence=f.max_confidence,
            captured_at=f.captured_at,
        )
        for f in frames
    ]
    records: list[list[FrameRecord | AuditUnitRecord]] = [[r] for r in rows]
    units = [auditor.decide(r) for r in rows]
    again = [auditor.decide(r) for r in rows]  # a replay decides the same
    assert [u is None for u in units] == [u is None for u in again]
    chosen = [u for u in units if u is not None]
    expected = sum(auditor.probability((f.line_id, f.shift, f.lighting), f.max_confidence)
                   for f in frames)  # fmt: skip
    assert expected == pytest.approx(120, rel=1e-6)
    assert abs(len(chosen) - expected) < 4 * np.sqrt(expected)
    # Horvitz-Thompson: the chosen units' 1 / probability add up to the population
    assert sum(1 / u.inclusion_probability for u in chosen) == pytest.approx(600, rel=0.25)
    for r, u in zip(records, units, strict=True):
        if u is not None:
            r.append(u)
    requests = audit_requests(records)
    assert [q.event_id for q in requests] == [u.event_id for u in chosen]
    message = json.loads(requests[0].to_json())
    assert message["audit"]["policy"] == "stream:20%" == chosen[0].plan_id
    assert message["audit"]["inclusion_probability"] == chosen[0].inclusion_probability
    assert message["camera_id"] and message["score"] == chosen[0].max_confidence
    assert unit_draw("e-1", "stream:20%") != unit_draw("e-1", "stream:10%")


def test_uniform_before_the_store_holds_frames() -> None:
    auditor = StreamAuditor.of_reference(
        0.5,
        0.15,
        Budget(per_day=864),
        "stream:864/day",
        reference=[],
        days=1.0,
        calibration=None,
        fallback_frames_day=86400.0,  # one line at one frame per second
    )
    assert auditor.probability(SLICES[0], 0.9) == pytest.approx(0.01)


def test_the_worker_counts_its_reference_in_the_store(tmp_path: Path) -> None:
    """On a real chDB store: the auditor the worker builds (frames counted per slice, band and
    calibration step in SQL) gives every unit the probability of the one built frame by frame,
    over the last ``audit_history_h`` hours only."""
    from streams.config import Settings
    from streams.estimation.windows import load_lab_set
    from streams.readiness.stream_audits import StreamAudits
    from streams.sinks import ClickHouseStore
    from streams.sinks.audits import plan_frames
    from tests.test_estimation import _write_lab

    dsn = f"chdb://{tmp_path / 'store'}"
    frames, _ = _population(4, n=1200)
    old = [
        replace(f, event_id=f"{f.event_id}-old", captured_at=f.captured_at - timedelta(days=3))
        for f in frames[:200]
    ]
    with ClickHouseStore.open(dsn) as store:
        store.apply_schema()
        _write_lab(store, np.random.default_rng(4), n=300)
        store.insert(
            [
                sample_frame(f.event_id, line_id=f.line_id,
                             shift=f.shift, lighting=f.lighting, max_confidence=f.max_confidence,
                             captured_at=f.captured_at)
                for f in [*old, *frames]
            ]
        )  # fmt: skip
        settings = Settings(
            store={"dsn": dsn},
            inference={"operating_threshold": 0.5},
            worker={"audit_budget": "40/day", "audit_history_h": 24},
        )
        mine = StreamAudits(store, settings).current()
        reference = plan_frames(store, 0.5, 0.15, T0, None)
        calibration = load_lab_set(store).calibration()
    assert len(reference) == len(frames)  # the frames 3 days older are left out
    span = (frames[-1].captured_at - frames[0].captured_at).total_seconds() / 86400
    by_frame = StreamAuditor.of_reference(
        0.5, 0.15, Budget(per_day=40), "stream:40/day", reference=reference, days=span,
        calibration=calibration, fallback_frames_day=1.0,
    )  # fmt: skip
    for f in frames[:300]:
        key = (f.line_id, f.shift, f.lighting)
        assert mine.probability(key, f.max_confidence) == pytest.approx(
            by_frame.probability(key, f.max_confidence), rel=1e-9
        )


def test_a_store_that_cannot_answer_never_fails_the_events(tmp_path: Path) -> None:
    from streams.config import Settings
    from streams.readiness.stream_audits import StreamAudits
    from streams.sinks import ClickHouseStore

    dsn = f"chdb://{tmp_path / 'store'}"
    settings = Settings(
        store={"dsn": dsn},
        inference={"operating_threshold": 0.5},
        plant={"lines": {"line-1": {"frame_rate": 1.0}}},
        worker={"audit_budget": "10%"},
    )
    ticks = iter(range(0, 10_000, 30))
    store = ClickHouseStore.open(dsn)
    store.apply_schema()
    audits = StreamAudits(store, settings, clock=lambda: float(next(ticks)))
    store.close()  # every call now raises StoreUnavailable
    frames, _ = _population(1, n=50)
    rows: list[list[StoreRecord]] = [
        [sample_frame(f.event_id, line_id=f.line_id, max_confidence=f.max_confidence)]
        for f in frames
    ]
    audits.add_units(rows)  # no exception: every unit at the budget's share
    assert audits.current().probability(("line-1", "day", "normal"), 0.3) == pytest.approx(0.1)
