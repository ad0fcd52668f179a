"""Partition snapshots against frame rows: bytes per frame for an hour of a six-partition worker.

Run: ``.venv/bin/python bench/bench_snapshot.py [--every K] [--lines L] [--events N]``.

1. One partition: a simulated production stream (``L`` lines of one camera each, the
   ``camera-faults`` scenario) runs through the pipeline with the shipped detector into a
   temporary chDB store (``linewatch run``'s path). Printed: the partition snapshot's bytes per
   part, raw and zlib-compressed (level 3, a stand-in for the column's ``ZSTD(3)``, one row
   alone), its CPU cost (median of 3), and the bytes on disk per frame of the same events'
   ``frames``, ``event_keys`` and ``detections`` rows.
2. An hour of a worker at full speed, ``--partitions`` partitions each holding such a state:
   ``--rate`` frames/s (docs/scaling.md: ~270 for a one-core pod), flushes by the flush
   defaults (the rows trigger or the time trigger, whichever fires first), every partition in
   every flush, a snapshot of each every ``K`` flushes. Printed side by side: snapshot bytes
   written per frame against the frame rows' bytes per frame of the same events, as stored
   here (a small sample compresses worse than a big table) and at docs/storage.md's bytes per
   row at a million frames ("at scale"), and against docs/storage.md's 100 B per frame (one
   detection per three frames), for K and for other cadences; and the K that 10 % needs.
3. That hour's snapshot rows written into the store's ``monitor_snapshots``: the rows per
   partition left as the engine keeps them (``FINAL``) and as stored before merges.

Prints ratios measured side by side, never asserts. The machine may be shared: CPU time only.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from schemas.records import MonitorSnapshotRecord
from streams.config import Settings
from streams.drift.partition_state import PartitionState
from streams.inference import Detector
from streams.ingest.sources import open_source
from streams.pipeline import MonitoringPipeline
from streams.runners.embedded import run_embedded
from streams.runners.runtime import build_runtime
from streams.sinks import ClickHouseStore
from streams.sinks.reads.snapshots import rows_per_partition, table_bytes

__all__ = ["main"]

DOCS_ROW_BYTES = {"frames": 54.8, "event_keys": 37.0, "detections": 23.6}
"""docs/storage.md: bytes on disk per row at a million frames (``bench_store_scale.py``)."""
FRAME_TABLES = tuple(DOCS_ROW_BYTES)
DOCS_FRAME_BYTES = 100.0
"""docs/storage.md: bytes per frame with one detection per three frames (54 + 37 + 8)."""
CADENCES = (1, 5, 10, 30, 60)


@dataclass(frozen=True)
class Partition:
    """What one simulated partition leaves: its state and its frame rows' size."""

    state: PartitionState
    frames: int
    rows: dict[str, int]
    """Rows of each of :data:`FRAME_TABLES`."""
    size: dict[str, int]
    """Bytes on disk of each of :data:`FRAME_TABLES`."""

    @property
    def rows_per_frame(self) -> float:
        return sum(self.rows.values()) / self.frames

    @property
    def frame_row_bytes(self) -> float:
        """Bytes on disk per frame of these rows (a small sample: compressed worse)."""
        return sum(self.size.values()) / self.frames

    @property
    def at_scale_bytes(self) -> float:
        """Bytes per frame of these rows at docs/storage.md's bytes per row (a million)."""
        return sum(DOCS_ROW_BYTES[t] * n for t, n in self.rows.items()) / self.frames


def _zlib(data: bytes) -> int:
    return len(zlib.compress(data, 3))


def _cpu_ms(fn: Callable[[], object], repeats: int = 20) -> float:
    runs = []
    for _ in range(3):
        t = time.process_time()
        for _ in range(repeats):
            fn()
        runs.append((time.process_time() - t) / repeats * 1e3)
    return statistics.median(runs)


def _run_partition(
    pipeline: MonitoringPipeline, store: ClickHouseStore, events: int, lines: int
) -> Partition:
    source = open_source(
        f"simulate:production?events={events}&seed=7&lines={lines}"
        "&scenario=camera-faults&start=2026-11-29T06:00:00Z&duration=2h"
    )
    run_embedded(source.events, pipeline, store)
    sizes = table_bytes(store, FRAME_TABLES)
    return Partition(
        pipeline.state,
        sizes["frames"][0],
        {table: n for table, (n, _) in sizes.items()},
        {table: size for table, (_, size) in sizes.items()},
    )


def _print_parts(part: Partition) -> int:
    """Print the snapshot's parts; return its compressed bytes."""
    snapshot = part.state.snapshot()
    parts = json.loads(snapshot)
    print(
        f"one partition: {part.frames} frames, {len(parts['cameras'])} cameras, "
        f"{part.state.monitor.slice_count} slices; snapshot version {parts['version']}"
    )
    print(f"  snapshot          {len(snapshot):>8,} B raw {_zlib(snapshot):>8,} B zlib")
    for name in ("monitor", "cameras", "product_mix", "causes"):
        text = json.dumps(parts[name], separators=(",", ":")).encode()
        print(f"    {name:<15} {len(text):>8,} B raw {_zlib(text):>8,} B zlib")
    print(f"  CPU per snapshot: {_cpu_ms(part.state.snapshot):.2f} ms (median of 3)")
    tables = ", ".join(f"{t} {part.rows[t] / part.frames:.2f}" for t in part.rows)
    print(
        f"  frame rows per frame: {tables}; {part.frame_row_bytes:.0f} B on disk here, "
        f"{part.at_scale_bytes:.0f} B at docs/storage.md's bytes per row"
    )
    return _zlib(snapshot)


def _print_hour(
    snapshot_bytes: int, part: Partition, settings: Settings, args: argparse.Namespace
) -> int:
    """Print the hour's bytes per frame; return the snapshots written per partition."""
    worker = settings.checkpoint
    per_flush = min(args.rate * worker.flush_interval_s, worker.flush_rows / part.rows_per_frame)
    flushes = args.rate * 3600 / per_flush
    print(
        f"an hour at {args.rate:g} frames/s, {args.partitions} partitions: flush every "
        f"{per_flush:.0f} frames (flush_rows {worker.flush_rows}, flush_interval_s "
        f"{worker.flush_interval_s:g}), {flushes:,.0f} flushes"
    )
    print("  K  snapshots/h  snapshot B/frame   vs rows here  at scale  docs' 100 B")
    for k in sorted({*CADENCES, args.every}):
        per_frame = args.partitions * snapshot_bytes / (k * per_flush)
        ratios = (
            per_frame / part.frame_row_bytes,
            per_frame / part.at_scale_bytes,
            per_frame / DOCS_FRAME_BYTES,
        )
        print(
            f"{k:>3}  {args.partitions * flushes / k:>11,.0f}  {per_frame:>16.1f}   "
            + "  ".join(f"{r:>{w}.1%}" for r, w in zip(ratios, (12, 8, 11), strict=True))
            + ("  <- --every" if k == args.every else "")
        )
    for name, frame_bytes in (("at scale", part.at_scale_bytes), ("docs'", DOCS_FRAME_BYTES)):
        need = args.partitions * snapshot_bytes / (0.1 * frame_bytes * per_flush)
        print(f"  10% of the frame rows' bytes ({name}) needs K >= {need:.1f}")
    return int(flushes / args.every)


def _write_hour(store: ClickHouseStore, snapshot: str, partitions: int, count: int) -> None:
    """Write ``count`` snapshots of each partition (copies of one; the engine keeps by offset)."""
    now = datetime.now(UTC)
    rows = [
        MonitorSnapshotRecord(
            group_id="bench",
            topic="camera-events",
            partition=p,
            offset=0,
            snapshot=snapshot,
            saved_at=now,
        )
        for p in range(partitions)
    ]
    for first in range(0, count, 100):
        store.insert(
            [
                r.model_copy(update={"offset": o})
                for o in range(first, min(first + 100, count))
                for r in rows
            ],
            known_new=True,
        )
    kept = rows_per_partition(store, final=True)
    stored = rows_per_partition(store)
    print(
        f"  monitor_snapshots after {count:,} snapshots per partition: at most "
        f"{max(kept.values())} row(s) per partition kept (FINAL), {max(stored.values()):,} "
        "stored before merges"
    )


def main(argv: list[str] | None = None) -> None:
    """Measure and print snapshot bytes against frame-row bytes."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=900)
    parser.add_argument("--lines", type=int, default=5, help="lines (cameras) per partition")
    parser.add_argument("--partitions", type=int, default=6)
    parser.add_argument("--rate", type=float, default=270.0, help="worker frames/s")
    parser.add_argument(
        "--every",
        type=int,
        default=Settings().checkpoint.snapshot_every_flushes,
        help="K: flushes per snapshot (default: LINEWATCH_CHECKPOINT__SNAPSHOT_EVERY_FLUSHES)",
    )
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-snapshot-") as tmp:
        lines = {f"line-{i}": {"takt_units_per_minute": 60} for i in range(1, args.lines + 1)}
        settings = Settings(store={"dsn": f"chdb://{Path(tmp) / 'store'}"}, plant={"lines": lines})
        with build_runtime(settings, detector=Detector.load(None)) as rt:
            store = rt.store
            part = _run_partition(rt.pipeline, store, args.events, args.lines)
            snapshot_bytes = _print_parts(part)
            count = _print_hour(snapshot_bytes, part, settings, args)
            _write_hour(store, part.state.snapshot().decode(), args.partitions, count)


if __name__ == "__main__":
    main()
