"""What one store flush costs, and how much of it the frames table's materialized views take.

Prints, never asserts. The pipeline's flush (``Checkpoint`` → ``streams.sinks.writer.write``)
is time-triggered (``LINEWATCH_CHECKPOINT__FLUSH_INTERVAL_S``, 1 s): its cost per frame is the
cost of one flush over the frames of one interval. This bench writes the rows of the shipped
model's pipeline, ``--frames-per-write`` frames at a time, into fresh embedded chDB stores,
side by side:

- the schema before ``410_daily_rollup_from_hourly.sql`` (three views on ``frames``: the
  ``frames_daily`` table and its view ``frames_daily_mv`` put back from ``002_baseline.sql``);
- the schema as it is (two: ``event_keys_mv`` and ``frames_hourly_mv``; ``frames_daily`` is a
  view over ``frames_hourly``);
- without the hourly roll-up view too, and without any view on ``frames`` (these only measure:
  the writer needs ``event_keys``, the dashboards ``frames_hourly``).

CPU ms per write (``time.process_time``: chDB's threads count, its background merges too),
median over the writes (the first, which warms the store, left out), median of ``--repeats``
alternating rounds.

Run: ``python bench/bench_flush_views.py [--frames-per-write 16] [--writes 20] [--repeats 3]``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from bench_pipeline import _records

from schemas.records import StoreRecord
from streams.config import Settings
from streams.inference import Detector
from streams.ingest import RawRecord
from streams.ingest.sources import open_source
from streams.runners.reference import build_reference
from streams.runners.runtime import build_runtime
from streams.sinks import ClickHouseStore
from streams.sinks.dsn import DATABASE
from streams.sinks.migrations import split_sql
from streams.sinks.writer import write

BASELINE = Path(__file__).parents[1] / "schemas" / "clickhouse" / "002_baseline.sql"

BEFORE_410 = "schema before 410 (3 views on frames)"
VARIANTS: dict[str, tuple[str, ...]] = {
    BEFORE_410: (),
    "schema as it is (2 views on frames)": (),
    "without the hourly roll-up view too": ("frames_hourly_mv",),
    "without any view on frames": ("frames_hourly_mv", "event_keys_mv"),
}
"""Each variant and the materialized views it drops."""


def _put_back_daily_view(store: ClickHouseStore) -> None:
    """The ``frames_daily`` table and its materialized view as ``002_baseline.sql`` made them."""
    store.command(f"DROP VIEW {DATABASE}.frames_daily")
    for statement in split_sql(BASELINE.read_text()):
        if "frames_daily" in statement:
            store.command(statement)


def _write_ms(
    settings: Settings,
    detector: Detector,
    groups: Sequence[list[StoreRecord]],
    name: str,
) -> float:
    """Median CPU ms of one write of each group into a fresh store of variant ``name``."""
    reference = build_reference(
        open_source("simulate:lab?events=50&seed=3").events, detector, settings
    )
    with tempfile.TemporaryDirectory() as tmp:
        at = settings.replace(store={"dsn": f"chdb://{tmp}/s"})
        with build_runtime(at, detector=detector, reference=reference) as rt:
            if name == BEFORE_410:
                _put_back_daily_view(rt.store)
            for view in VARIANTS[name]:
                rt.store.command(f"DROP VIEW {DATABASE}.{view}")
            spent = []
            for records in groups:
                start = time.process_time()
                write(rt.store, records)
                spent.append((time.process_time() - start) * 1000.0)
    return statistics.median(spent[1:])


def main(argv: list[str] | None = None) -> None:
    """Print CPU ms per write and per frame, with and without the views."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--frames-per-write", type=int, default=16)
    parser.add_argument("--writes", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    n = args.frames_per_write * args.writes
    settings = Settings(drift={"reference": None})
    detector = Detector.load(None, settings=settings)
    reference = build_reference(
        open_source("simulate:lab?events=50&seed=3").events, detector, settings
    )
    with tempfile.TemporaryDirectory() as tmp:
        at = settings.replace(store={"dsn": f"chdb://{tmp}/rows"})
        with build_runtime(at, detector=detector, reference=reference) as rt:
            outs = [rt.pipeline.process(chunk) for chunk in _chunks(_records(n), 8)]
    rows = [r for out in outs for r in out.records()]
    per = len(rows) // args.writes
    groups = [rows[i * per : (i + 1) * per] for i in range(args.writes)]
    runs: dict[str, list[float]] = {name: [] for name in VARIANTS}
    load_before = os.getloadavg()[0]
    for _ in range(args.repeats):
        for name in VARIANTS:
            runs[name].append(_write_ms(settings, detector, groups, name))
    print(
        f"store writes of {args.frames_per_write} frames (shipped model's rows), CPU ms "
        f"(load average {load_before:.1f} -> {os.getloadavg()[0]:.1f})"
    )
    for name, spent in runs.items():
        ms = statistics.median(spent)
        print(
            f"  {name:<40} {ms:7.1f} ms/write  {ms / args.frames_per_write:6.3f} ms/frame  "
            f"(rounds: {', '.join(f'{s:.1f}' for s in spent)})"
        )


def _chunks(records: list[RawRecord], size: int) -> list[list[RawRecord]]:
    return [records[i : i + size] for i in range(0, len(records), size)]


if __name__ == "__main__":
    main()
