"""What one store flush costs, and how much of it the frames table's materialized views take.

Prints, never asserts. The pipeline's flush (``Checkpoint`` → ``streams.sinks.writer.write``)
is time-triggered (``LINEWATCH_CHECKPOINT__FLUSH_INTERVAL_S``, 1 s): its cost per frame is the
cost of one flush over the frames of one interval. This bench writes the rows of the shipped
model's pipeline, ``--frames-per-write`` frames at a time, into fresh embedded chDB stores:
one with the schema as it is, one without the two roll-up views (``frames_hourly_mv``,
``frames_daily_mv``), one without those and the key view (``event_keys_mv``, which the
writer's key lookup reads). CPU ms per write (``time.process_time``: chDB's threads count),
median over the writes (the first, which warms the store, left out), median of ``--repeats``
alternating rounds. The stores without views only measure: the writer needs ``event_keys``.

Run: ``python bench/bench_flush_views.py [--frames-per-write 16] [--writes 20] [--repeats 3]``.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Sequence

from bench_pipeline import _records

from schemas.records import StoreRecord
from streams.config import Settings
from streams.inference import Detector
from streams.ingest import RawRecord
from streams.ingest.sources import open_source
from streams.runners.reference import build_reference
from streams.runners.runtime import build_runtime
from streams.sinks.writer import write

VARIANTS: dict[str, tuple[str, ...]] = {
    "schema as it is (3 views on frames)": (),
    "without the 2 roll-up views": ("frames_hourly_mv", "frames_daily_mv"),
    "without any view on frames": ("frames_hourly_mv", "frames_daily_mv", "event_keys_mv"),
}


def _write_ms(
    settings: Settings,
    detector: Detector,
    groups: Sequence[list[StoreRecord]],
    drop: Sequence[str],
) -> float:
    """Median CPU ms of one write of each group into a fresh store without the views ``drop``."""
    reference = build_reference(
        open_source("simulate:lab?events=50&seed=3").events, detector, settings
    )
    with tempfile.TemporaryDirectory() as tmp:
        at = settings.replace(store={"dsn": f"chdb://{tmp}/s"})
        with build_runtime(at, detector=detector, reference=reference) as rt:
            for view in drop:
                rt.store.command(f"DROP VIEW linewatch.{view}")
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
    for _ in range(args.repeats):
        for name, drop in VARIANTS.items():
            runs[name].append(_write_ms(settings, detector, groups, drop))
    print(f"store writes of {args.frames_per_write} frames (shipped model's rows), CPU ms")
    for name, spent in runs.items():
        ms = statistics.median(spent)
        print(
            f"  {name:<38} {ms:7.1f} ms/write  {ms / args.frames_per_write:6.3f} ms/frame  "
            f"(rounds: {', '.join(f'{s:.1f}' for s in spent)})"
        )


def _chunks(records: list[RawRecord], size: int) -> list[list[RawRecord]]:
    return [records[i : i + size] for i in range(0, len(records), size)]


if __name__ == "__main__":
    main()
