"""Camera health: the signals per fault, the camera-faults scenario, detection and attribution."""

from __future__ import annotations

import base64
from collections import defaultdict
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from streams.config import Settings
from streams.drift.signals import OUTPUT_SIGNALS
from streams.features.camera_health import CameraHealth
from streams.inference import Detector
from streams.ingest.sources import open_source
from streams.pipeline import MonitoringPipeline
from streams.runners.reference import load_reference
from streams.simulate import generate, parse_simulate_source
from streams.simulate.camera_faults import apply_fault


def _frames(n: int, seed: int = 0) -> list[np.ndarray]:
    req = parse_simulate_source(f"simulate:production?events={n}&seed={seed}&lines=1")
    return [e.rgb for e in generate(req)]


def test_signals_per_fault_move_the_way_the_fault_says() -> None:
    frames = _frames(12)
    health = CameraHealth()

    def observe(camera: str, rgb: np.ndarray) -> dict[str, float | None]:
        from streams.features import compute_image_stats

        s = compute_image_stats(rgb)
        return health.observe(camera, rgb, sharpness=s.sharpness, contrast=s.contrast)

    live = [observe("live", f) for f in frames]
    assert live[0]["frame_change"] is None and live[0]["repeated_frame"] is None
    assert all(s["repeated_frame"] == 0.0 and (s["frame_change"] or 0) > 0.01 for s in live[1:])

    frozen = [observe("frozen", frames[0]) for _ in frames]
    assert all(s["repeated_frame"] == 1.0 and s["frame_change"] == 0.0 for s in frozen[1:])

    blurred = [observe("defocus", apply_fault("defocus", f)) for f in frames]
    live_detail = np.mean([s["detail_ratio"] for s in live])
    assert np.mean([s["detail_ratio"] for s in blurred]) < 0.5 * live_detail

    # occlusion: the top-left quarter of the view stops changing
    covered = []
    for f in frames:
        g = f.copy()
        g[:120, :160] = 40
        covered.append(observe("occluded", g))
    assert all((s["static_share"] or 0) >= 0.25 for s in covered[1:])
    assert all(s["static_share"] == 0.0 for s in live[1:])


def test_camera_health_state_is_bounded_and_survives_a_snapshot() -> None:
    frames = _frames(3)
    health = CameraHealth(max_cameras=2)
    for cam in ("a", "b", "c"):
        health.observe(cam, frames[0], sharpness=0.1, contrast=0.2)
    assert health.cameras == 2
    restored = CameraHealth.restore(health.snapshot())
    again = restored.observe("c", frames[0], sharpness=0.1, contrast=0.2)
    assert again["repeated_frame"] == 1.0


def test_camera_faults_scenario_freezes_line_1_from_the_midpoint() -> None:
    req = parse_simulate_source(
        "simulate:production?events=60&seed=2&scenario=camera-faults&lines=3&duration=1h"
    )
    mid = req.start + req.duration / 2
    data = defaultdict(list)
    for e in generate(req):
        at = datetime.fromisoformat(e.event["captured_at"])
        data[(e.event["line_id"], at >= mid)].append(e.event["image"]["data"])
    assert len(set(data[("line-1", True)])) == 1  # one picture, sent again and again
    assert len(set(data[("line-1", False)])) == len(data[("line-1", False)])
    assert len(set(data[("line-2", True)])) == len(data[("line-2", True)])
    assert base64.b64decode(data[("line-1", True)][0])[:2] == b"\xff\xd8"


@pytest.mark.slow
def test_each_camera_fault_is_caught_within_30_frames_on_its_own_camera_as_camera() -> None:
    settings = Settings(store={"dsn": "chdb:///nonexistent-unused"})
    pipeline = MonitoringPipeline(settings, Detector.load(None), load_reference(settings))
    start = datetime(2026, 11, 29, 6, 0, tzinfo=UTC)
    duration = timedelta(hours=8)
    source = open_source(
        "simulate:production?events=900&seed=5&scenario=camera-faults&lines=3"
        "&start=2026-11-29T06:00:00Z&duration=8h"
    )
    fault_at = start + duration / 2
    frames_since: dict[str, int] = defaultdict(int)
    first: dict[str, tuple[int, str, str]] = {}
    for raw in source.events:
        out = pipeline.process([raw])
        frame = out.frames[0]
        if frame.captured_at >= fault_at:
            frames_since[frame.line_id] += 1
        for d in out.drift_events:
            assert d.detected_at >= fault_at, f"alarm before any fault: {d.line_id} {d.signal}"
            if d.signal not in OUTPUT_SIGNALS:
                # every image-side alarm of a faulty camera points at the camera; output alarms
                # hours later, after the detectors re-learned the faulty picture, may not
                assert d.cause == "camera", (d.line_id, d.signal, d.cause, d.evidence)
            if d.line_id not in first:
                assert d.cause == "camera", (d.line_id, d.signal, d.cause, d.evidence)
                first[d.line_id] = (frames_since[d.line_id], d.signal, d.evidence)
    assert set(first) == {"line-1", "line-2", "line-3"}
    for line, (delay, _signal, _evidence) in first.items():
        assert 0 < delay <= 30, (line, first[line])
    # each fault is named by the signals that say what it is
    assert first["line-1"][1] in {"frame_change", "repeated_frame"}
    assert first["line-2"][1] in {"detail_ratio", "sharpness"}
    assert first["line-3"][1] in {"sharpness", "contrast", "detail_ratio"}
