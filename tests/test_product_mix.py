"""Product-variant mix: a new variant on a line is a drift event with cause ``product``."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from streams.config import Settings
from streams.drift.detectors import BernoulliCusum
from streams.drift.product_mix import PRODUCT_MIX_SIGNAL, ProductMixWatch
from streams.inference import Detector
from streams.ingest import RawRecord
from streams.pipeline import MonitoringPipeline
from streams.runners.reference import load_reference
from streams.simulate import generate, parse_simulate_source

T0 = datetime(2026, 11, 29, 6, 0, tzinfo=UTC)


def _watch() -> ProductMixWatch:
    return ProductMixWatch(lambda line: BernoulliCusum(h=12.0, warmup=30), max_variants=3)


def test_a_stable_mix_raises_nothing_and_frames_without_a_variant_are_not_counted() -> None:
    watch = _watch()
    alarms = []
    for i in range(3000):
        variant = ("a", "b", "c")[(i * 7) % 3]
        alarms += watch.observe("line-1", "day", variant, f"e{i}", T0 + timedelta(seconds=i))
        assert watch.observe("line-1", "day", None, f"n{i}", T0) == []
    assert alarms == []


def test_a_new_variant_is_caught_on_its_line_and_shift_only() -> None:
    watch = _watch()
    for i in range(600):
        for line in ("line-1", "line-2"):
            watch.observe(line, "day", "ab"[i % 2], f"{line}-{i}", T0 + timedelta(seconds=i))
    first: int | None = None
    for i in range(600, 800):
        at = T0 + timedelta(seconds=i)
        assert watch.observe("line-2", "day", "ab"[i % 2], f"l2-{i}", at) == []
        alarms = watch.observe("line-1", "day", "new-housing", f"l1-{i}", at)
        if alarms and first is None:
            first = i - 600
            assert {a.signal for a in alarms} == {PRODUCT_MIX_SIGNAL}
            assert {(a.line_id, a.lighting, a.cause) for a in alarms} == {
                ("line-1", "*", "product")
            }
    # a share of 1/2 falling to 0: the odds-ratio-2 CUSUM needs some tens of frames
    assert first is not None and first <= 100, first


def test_variants_are_bounded_per_line_and_shift() -> None:
    watch = _watch()
    for i in range(50):
        watch.observe("line-1", "day", f"v{i}", f"e{i}", T0)
    assert len(watch._groups[("line-1", "day")].detectors) == 3


def test_the_pipeline_attributes_a_product_change_to_product() -> None:
    settings = Settings(store={"dsn": "chdb:///nonexistent-unused"})
    pipeline = MonitoringPipeline(settings, Detector.load(None), load_reference(settings))
    request = parse_simulate_source(
        "simulate:production?events=500&seed=3&lines=1&start=2026-11-29T06:00:00Z&duration=6h"
    )
    causes = []
    for i, sim in enumerate(generate(request)):
        event = dict(sim.event)
        if i >= 400:
            event["product_variant"] = "housing-x9"  # a variant the line never made before
        raw = RawRecord(json.dumps(event).encode(), f"test:{i}", T0 + timedelta(hours=12))
        out = pipeline.process([raw])
        causes += [(i, d.signal, d.cause) for d in out.drift_events]
    mix = [c for c in causes if c[1] == PRODUCT_MIX_SIGNAL]
    assert mix and all(i >= 400 for i, _, _ in mix), causes
    assert {cause for _, _, cause in mix} == {"product"}
    # each of the simulator's variants held ~1/3 of the frames; caught well before the end
    assert mix[0][0] - 400 <= 100
