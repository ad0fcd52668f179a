"""Label-driven drift: per-class fnr and fpr streams of reconciled units."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

from streams.config import Settings
from streams.readiness.label_drift import LabelledUnit, label_drift_events, label_rate

DEMO = Path(__file__).parent / "data" / "demo_defect_outcomes.json"
"""Reconciled outcomes of the labelled defective (and flagged) units of ``linewatch run --source
'simulate:production?events=3600&seed=2026&scenario=demo&lines=3&start=2026-11-28T12:00:00Z
&duration=24h'`` (the demo's production day) at the operating threshold 0.441."""


def _demo_defects() -> list[LabelledUnit]:
    rows = json.loads(DEMO.read_text())
    return [
        LabelledUnit(
            r["event_id"],
            r["line_id"],
            r["shift"],
            r["lighting"],
            datetime.fromisoformat(r["captured_at"]),
            r["gt_defective"],
            r["pred_defective"],
            tuple(r["gt_matched"]),
            tuple(r["gt_classes"]),
        )
        for r in rows
        if r["gt_defective"]
    ]


def test_demo_cracks_raise_one_fnr_event_on_line_3() -> None:
    events = label_drift_events(_demo_defects(), Settings())
    got = [(e.line_id, e.lighting, e.shift, e.signal, e.detector) for e in events]
    assert got == [("line-3", "*", "*", "fnr", "rate-cusum[crack]:up")]
    (event,) = events
    # the cracks start at midnight; the 12th missed crack raises it (512 audits later)
    assert event.detected_at == datetime(2026, 11, 29, 10, 40, 4, 406000, tzinfo=UTC)
    assert event.events_in_slice == 12 and event.after_mean == 1.0
    assert event.before_mean == 0.05 and event.statistic > event.threshold
    assert event.detector_params == "streams.drift.RateCusum(h=14.6989, odds_ratio=4, p0=0.05)"


def test_fpr_rises_and_stationary_streams_stay_quiet() -> None:
    rng = np.random.default_rng(5)
    t0 = datetime(2026, 3, 1, tzinfo=UTC)

    def units(rate_after: float) -> list[LabelledUnit]:
        return [
            LabelledUnit(
                f"u{i}",
                "line-1",
                "day",
                "normal",
                t0 + timedelta(seconds=i),
                False,
                bool(rng.random() < (0.01 if i < 3000 else rate_after)),
            )
            for i in range(4000)
        ]

    assert label_drift_events(units(0.01), Settings()) == []
    events = label_drift_events(units(0.2), Settings())
    assert {(e.signal, e.lighting) for e in events} == {("fpr", "normal"), ("fpr", "*")}
    first = min(events, key=lambda e: e.detected_at)
    assert 3000 <= first.events_in_slice < 3100


def test_label_budget_arithmetic() -> None:
    # 1 false alarm per line-week over 4 label detectors per frame at 10 frames/s
    settings = Settings(plant={"lines": {"l": {"frames_per_second": 10}}})
    assert label_rate(settings, "l") == 1 / (4 * 10 * 604_800)
    assert label_rate(Settings(drift={"false_alarms_per_event": 1e-5}), "l") == 1e-5
