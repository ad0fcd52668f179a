"""Drift-event causes: each rule, the episode memory, and the causes table in the docs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from streams.drift.cause import CAUSES, WHOM_TO_CALL, CauseAttributor, attribute_signals

T = datetime(2026, 11, 29, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("signal", "moved", "cause"),
    [
        ("brightness", {"est_colour_temp_k", "sensor_lux"}, "lighting"),
        ("lighting_mix", set(), "lighting"),
        ("max_confidence", {"brightness"}, "lighting"),
        ("sharpness", set(), "camera"),
        ("contrast", {"sharpness"}, "camera"),
        ("sharpness", {"brightness"}, "lighting"),
        ("frame_change", {"brightness"}, "camera"),
        ("product_mix", {"max_confidence"}, "product"),
        ("max_confidence", {"detections_per_frame"}, "model"),
        ("estimated_recall", set(), "model"),
        ("fnr", {"brightness"}, "labels"),
        ("fpr", set(), "labels"),
        ("something_new", set(), "unknown"),
    ],
)
def test_rules(signal: str, moved: set[str], cause: str) -> None:
    got, evidence = attribute_signals(signal, moved)
    assert got == cause
    assert evidence
    assert got in CAUSES and got in WHOM_TO_CALL


def test_attributor_remembers_alarms_of_the_same_line_and_shift_only() -> None:
    a = CauseAttributor(window=timedelta(minutes=30))
    assert a.attribute("line-1", "night", "sharpness", T)[0] == "camera"
    # the same line, another shift: not the same episode
    assert a.attribute("line-1", "day", "max_confidence", T)[0] == "model"
    # the same line and shift within the window: lighting explains the output change
    a.attribute("line-2", "night", "brightness", T)
    cause, evidence = a.attribute("line-2", "night", "max_confidence", T + timedelta(minutes=10))
    assert cause == "lighting" and "brightness" in evidence
    # past the window the lighting alarm is forgotten
    late = a.attribute("line-2", "night", "review_band", T + timedelta(hours=2))
    assert late[0] == "model"
