"""The simulator: determinism, wire validity, base rates, demo scenario effects."""

from __future__ import annotations

import base64
import io
import itertools
import json
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from PIL import Image

from schemas.events import CameraEvent, GroundTruth
from streams.errors import SimulationError
from streams.simulate import (
    FRAME_HEIGHT,
    FRAME_WIDTH,
    NOVEL_CLASSES,
    TRAINED_CLASSES,
    SimulatedEvent,
    SimulationRequest,
    generate,
    lab_conditions,
    parse_simulate_source,
    production_conditions,
    render_scene,
    sample_defects,
)
from streams.simulate.generate import CRACK_RATE


def _dump(events: list[SimulatedEvent]) -> bytes:
    return b"".join(
        json.dumps(e.event, separators=(",", ":")).encode()
        + json.dumps(e.label, separators=(",", ":")).encode()
        for e in events
    )


@pytest.fixture(scope="module")
def demo() -> list[SimulatedEvent]:
    req = parse_simulate_source("simulate:production?events=1500&seed=11&scenario=demo&lines=3")
    return list(generate(req))


@pytest.fixture(scope="module")
def stationary() -> list[SimulatedEvent]:
    return list(generate(parse_simulate_source("simulate:production?events=1000&seed=5")))


@pytest.fixture(scope="module")
def lab() -> list[SimulatedEvent]:
    return list(generate(parse_simulate_source("simulate:lab?events=400&seed=1")))


def test_same_seed_same_bytes_different_seed_differs() -> None:
    req = SimulationRequest.build(split="production", events=40, seed=3, scenario="demo")
    first, second = _dump(list(generate(req))), _dump(list(generate(req)))
    assert first == second
    other = _dump(list(generate(req.model_copy(update={"seed": 4}))))
    assert other != first


def test_event_ids_depend_on_the_request() -> None:
    a = list(generate(SimulationRequest.build(split="lab", events=5, seed=1)))
    b = list(generate(SimulationRequest.build(split="lab", events=6, seed=1)))
    c = list(generate(SimulationRequest.build(split="production", events=5, seed=1)))
    ids = [e.event["event_id"] for e in a + b + c]
    assert len(set(ids)) == len(ids)


def test_events_and_labels_validate(demo: list[SimulatedEvent]) -> None:
    previous = None
    for sim in demo[:300]:
        event = CameraEvent.model_validate(sim.event)
        label = GroundTruth.model_validate(sim.label)
        assert label.event_id == event.event_id
        assert event.captured_at < label.labelled_at <= event.captured_at + timedelta(hours=12.1)
        assert previous is None or event.captured_at > previous
        previous = event.captured_at
        assert event.lighting is not None and event.lighting.lux is not None
        decoded = np.asarray(Image.open(io.BytesIO(base64.b64decode(sim.event["image"]["data"]))))
        assert decoded.shape == sim.rgb.shape == (FRAME_HEIGHT, FRAME_WIDTH, 3)
        assert np.abs(decoded.astype(int) - sim.rgb.astype(int)).mean() < 12  # same frame, JPEG
        assert abs(float(decoded.mean()) - float(sim.rgb.mean())) < 2
    lines = [e.event["line_id"] for e in demo[:30]]
    assert len(set(lines)) == 3 and any(a != b for a, b in itertools.pairwise(lines))


def test_boxes_inside_frame_and_valid(
    demo: list[SimulatedEvent], lab: list[SimulatedEvent]
) -> None:
    boxes = [o.box for e in demo + lab for o in e.objects]
    assert len(boxes) > 150
    for x1, y1, x2, y2 in boxes:
        assert 0 <= x1 < x2 <= FRAME_WIDTH and 0 <= y1 < y2 <= FRAME_HEIGHT
        assert (x2 - x1) * (y2 - y1) >= 30


def test_base_rates_production_and_lab(
    stationary: list[SimulatedEvent], lab: list[SimulatedEvent]
) -> None:
    prod_rate = np.mean([bool(e.objects) for e in stationary])
    assert 0.008 <= prod_rate <= 0.035  # 2 % of 1000: 20 +- 4.4 (sd)
    lab_rate = np.mean([bool(e.objects) for e in lab])
    assert 0.42 <= lab_rate <= 0.58  # 50 % of 400: +- 2.5 % (sd)
    lab_classes = {o.class_name for e in lab for o in e.objects}
    assert lab_classes == set(TRAINED_CLASSES)
    # the sampler itself, over many draws (cheap, no rendering)
    rng = np.random.default_rng(0)
    draws = [sample_defects(rng, split="production") for _ in range(40_000)]
    assert 0.018 <= np.mean([bool(d) for d in draws]) <= 0.022
    assert not any(NOVEL_CLASSES[0] in d for d in draws)


def test_novel_class_never_in_lab(lab: list[SimulatedEvent]) -> None:
    assert not any(o.class_name in NOVEL_CLASSES for e in lab for o in e.objects)
    rng = np.random.default_rng(1)
    assert not any(
        c in NOVEL_CLASSES for _ in range(20_000) for c in sample_defects(rng, split="lab")
    )


def test_demo_cracks_only_on_line3_after_midday(demo: list[SimulatedEvent]) -> None:
    midday = datetime(2026, 11, 29, 12, tzinfo=UTC)
    cracked = [e for e in demo if any(o.class_name == "crack" for o in e.objects)]
    assert cracked
    for e in cracked:
        captured = datetime.fromisoformat(e.event["captured_at"].replace("Z", "+00:00"))
        assert e.event["line_id"] == "line-3" and captured >= midday


def test_cracks_are_a_meaningful_share_of_line3_defects() -> None:
    rng = np.random.default_rng(2)
    units = [sample_defects(rng, split="production", crack_rate=CRACK_RATE) for _ in range(40_000)]
    defective = [u for u in units if u]
    share = np.mean(["crack" in u for u in defective])
    assert 0.4 <= share <= 0.7
    assert 0.035 <= len(defective) / len(units) <= 0.06


def test_demo_line2_night_lamp_fails_from_the_midpoint(demo: list[SimulatedEvent]) -> None:
    midpoint = "2026-11-29T12:00:00"  # the fixture's day runs 00:00-24:00 UTC

    def night(line: str, after: bool) -> list[SimulatedEvent]:
        return [
            e
            for e in demo
            if e.event["line_id"] == line
            and e.conditions.shift == "night"
            and (e.event["captured_at"] >= midpoint) == after
        ]

    l2, l1, l2_before = night("line-2", True), night("line-1", True), night("line-2", False)
    assert len(l2) > 20 and len(l1) > 20 and len(l2_before) > 50
    brightness = {
        k: np.mean([e.rgb.mean() for e in v]) for k, v in (("l1", l1), ("l2", l2), ("b", l2_before))
    }
    assert brightness["l2"] < 0.6 * brightness["l1"]
    assert brightness["l2"] < 0.6 * brightness["b"]
    assert np.mean([e.event["lighting"]["lux"] for e in l2]) < 250
    assert np.mean([e.event["lighting"]["colour_temp_k"] for e in l2]) < 3400
    assert all(e.conditions.failing_lamp for e in l2)
    assert not any(e.conditions.failing_lamp for e in l2_before)
    day2 = [e for e in demo if e.event["line_id"] == "line-2" and e.conditions.shift == "day"]
    assert not any(e.conditions.failing_lamp for e in day2)


def test_sensor_lux_tracks_rendered_brightness(demo: list[SimulatedEvent]) -> None:
    lux = np.array([e.event["lighting"]["lux"] for e in demo])
    bright = np.array([e.rgb.mean() for e in demo])
    rank = np.corrcoef(np.argsort(np.argsort(lux)), np.argsort(np.argsort(bright)))[0, 1]
    assert rank > 0.8


def test_shifts_use_the_plant_timezone() -> None:
    at = datetime(2026, 11, 29, 21, 30, tzinfo=UTC)  # 22:30 in Berlin (CET)
    rng = np.random.default_rng(0)
    from zoneinfo import ZoneInfo

    berlin = production_conditions(
        rng, line_id="line-1", at=at, zone=ZoneInfo("Europe/Berlin"), elapsed_days=0
    )
    utc = production_conditions(rng, line_id="line-1", at=at, zone=UTC, elapsed_days=0)
    assert (berlin.shift, utc.shift) == ("night", "evening")


def test_same_scene_under_other_light_keeps_boxes() -> None:
    rng = np.random.default_rng(3)
    bright = lab_conditions(rng, line_id="line-1", shift="day")
    dark = production_conditions(
        rng,
        line_id="line-2",
        at=datetime(2026, 11, 29, 23, tzinfo=UTC),
        zone=UTC,
        elapsed_days=0,
        failing_lamp=True,
    )
    a_rgb, a_obj = render_scene(np.random.default_rng(9), bright, ["scratch", "stain"])
    b_rgb, b_obj = render_scene(np.random.default_rng(9), dark, ["scratch", "stain"])
    assert a_obj == b_obj and len(a_obj) == 2
    assert b_rgb.mean() < 0.5 * a_rgb.mean()


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("simulate:lab?evnts=5", "unknown simulate option"),
        ("simulate:production?duration=3x", "cannot read duration"),
        ("simulate:production?start=2026-11-29T00:00:00", "timezone"),
        ("simulate:lab?scenario=demo", "needs split 'production'"),
        ("simulate:production?scenario=demo&lines=2", "line-3"),
        ("simulate:production?events=0", "events"),
        ("simulate:moon?events=3", "split"),
        ("simulate:production?timezone=Mars/Base", "timezone"),
        ("kafka:production", "starts with 'simulate:'"),
    ],
)
def test_bad_sources_say_what_is_wrong(source: str, message: str) -> None:
    with pytest.raises(SimulationError, match=message):
        parse_simulate_source(source)


def test_source_options() -> None:
    req = parse_simulate_source(
        "simulate:production?events=30&seed=2&lines=a,b&start=2026-11-29T06:00:00%2B01:00"
        "&duration=90m&jpeg_quality=70&timezone=Europe/Berlin"
    )
    assert req.line_ids == ("a", "b") and req.duration == timedelta(minutes=90)
    assert req.start.utcoffset() == timedelta(hours=1)
    events = list(generate(req))
    assert {e.event["line_id"] for e in events} <= {"a", "b"}
    first = datetime.fromisoformat(events[0].event["captured_at"].replace("Z", "+00:00"))
    last = datetime.fromisoformat(events[-1].event["captured_at"].replace("Z", "+00:00"))
    assert req.start <= first < last < req.start + req.duration
