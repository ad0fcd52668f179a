"""Bytes of one partition snapshot (``monitor_snapshots.snapshot``), per part, and its CPU cost.

Run: ``.venv/bin/python bench/bench_snapshot.py [--events N] [--lines L]``. Runs a simulated
production stream (``L`` lines, one camera each) through the pipeline with the shipped detector,
then prints the bytes of the partition's snapshot — raw and zlib-compressed (level 3, a stand-in
for the column's ZSTD(3)) — for each part, beside the drift monitor alone stored as a version-1
row was (base64 of its JSON), and the CPU milliseconds per snapshot (median of 3). Never asserts.
"""

from __future__ import annotations

import argparse
import base64
import json
import statistics
import time
import zlib
from collections.abc import Callable

from streams.config import Settings
from streams.inference import Detector
from streams.ingest.sources import open_source
from streams.pipeline import MonitoringPipeline
from streams.runners.reference import load_reference

__all__ = ["main"]


def _sizes(data: bytes) -> str:
    return f"{len(data):>8,} B raw {len(zlib.compress(data, 3)):>8,} B zlib"


def _cpu_ms(fn: Callable[[], object], repeats: int = 20) -> float:
    runs = []
    for _ in range(3):
        t = time.process_time()
        for _ in range(repeats):
            fn()
        runs.append((time.process_time() - t) / repeats * 1e3)
    return statistics.median(runs)


def main(argv: list[str] | None = None) -> None:
    """Measure and print one partition snapshot's size and cost."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=900)
    parser.add_argument("--lines", type=int, default=3)
    args = parser.parse_args(argv)
    settings = Settings(store={"dsn": "chdb:///nonexistent-unused"})
    pipeline = MonitoringPipeline(settings, Detector.load(None), load_reference(settings))
    source = open_source(
        f"simulate:production?events={args.events}&seed=7&lines={args.lines}"
        "&scenario=camera-faults&start=2026-11-29T06:00:00Z&duration=2h"
    )
    batch = []
    for raw in source.events:
        batch.append(raw)
        if len(batch) == settings.inference.batch_frames:
            pipeline.process(batch)
            batch = []
    pipeline.process(batch)
    state = pipeline.state
    snapshot = state.snapshot()
    parts = json.loads(snapshot)
    monitor = json.loads(state.monitor.snapshot())
    version_1 = base64.b64encode(
        json.dumps(
            {"format": "linewatch.drift-monitor", "version": 1, **monitor}, separators=(",", ":")
        ).encode()
    )
    print(
        f"{args.events} events, {args.lines} lines, {len(parts['cameras'])} cameras, "
        f"{state.monitor.slice_count} slices"
    )
    print(f"version-1 row (monitor alone, base64):  {_sizes(version_1)}")
    print(f"version-2 row (partition state, JSON):  {_sizes(snapshot)}")
    for part in ("monitor", "cameras", "product_mix", "causes"):
        text = json.dumps(parts[part], separators=(",", ":")).encode()
        print(f"  {part:<12}                         {_sizes(text)}")
    before = _cpu_ms(lambda: base64.b64encode(state.monitor.snapshot()))
    after = _cpu_ms(state.snapshot)
    print(f"CPU per snapshot: version 1 {before:.2f} ms, version 2 {after:.2f} ms")


if __name__ == "__main__":
    main()
