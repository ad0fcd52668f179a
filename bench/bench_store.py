"""Store write cost: frames + detections through ``ClickHouseStore.insert`` into embedded chDB.

Prints, never asserts. Rows are written in batches of ``--batch`` rows (default 256), each
frame with ``--dets`` detections, the way the runners' ``Checkpoint`` hands them over. Three
passes on one fresh store:

- insert:  new rows; each batch first looks up which keys exist (always none here), then writes;
- replay:  the same batches again: the lookup finds every key, nothing is written;
- raw:     the same volume written with ``client.insert`` directly into a second copy of the
           tables (no key lookup, no dedup token): the floor the idempotent path is compared to.

Also reports how the insert cost changes as the table grows (first vs last tenth of batches).

Run: ``python bench/bench_store.py [--frames 20000] [--batch 256] [--dets 2]``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

from schemas.records import DetectionRecord, FrameRecord, StoreRecord
from streams.readiness.samples import sample_detection, sample_frame
from streams.sinks.clickhouse import ClickHouseStore

T0 = dt.datetime(2026, 11, 29, 5, 0, tzinfo=dt.UTC)


def records(frames: int, dets: int) -> Iterator[StoreRecord]:
    """A frame followed by its detections, ``frames`` times, over three lines."""
    for i in range(frames):
        line = f"line-{i % 3 + 1}"
        at = T0 + dt.timedelta(milliseconds=333 * i)
        event_id = f"evt-{i:09d}"
        yield sample_frame(
            event_id,
            line_id=line,
            lighting=("dim", "normal", "bright")[i % 3],
            captured_at=at,
            max_confidence=0.8,
            detection_count=dets,
        )
        for k in range(dets):
            yield sample_detection(
                event_id,
                k,
                "scratch",
                0.8 - 0.1 * k,
                (1.0, 2.0, 30.0, 40.0),
                line_id=line,
                captured_at=at,
            )


def batches(rows: list[StoreRecord], size: int) -> list[list[StoreRecord]]:
    return [rows[i : i + size] for i in range(0, len(rows), size)]


def timed_pass(
    store: ClickHouseStore, parts: list[list[StoreRecord]]
) -> tuple[float, list[float], int]:
    per_batch: list[float] = []
    written = 0
    start = time.perf_counter()
    for part in parts:
        t = time.perf_counter()
        written += store.insert(part)
        per_batch.append(time.perf_counter() - t)
    return time.perf_counter() - start, per_batch, written


def raw_pass(store: ClickHouseStore, parts: list[list[StoreRecord]]) -> float:
    """Plain ``client.insert`` per table per batch into copies of the tables."""
    store.command("CREATE TABLE linewatch.frames_raw AS linewatch.frames")
    store.command("CREATE TABLE linewatch.detections_raw AS linewatch.detections")
    client = store._client  # the floor: the bare driver, nothing linewatch adds
    start = time.perf_counter()
    for part in parts:
        for model, table in ((FrameRecord, "frames_raw"), (DetectionRecord, "detections_raw")):
            rows = [r for r in part if type(r) is model]
            if rows:
                columns = list(model.model_fields)
                client.insert(
                    f"linewatch.{table}",
                    [[getattr(r, c) for c in columns] for r in rows],
                    column_names=columns,
                )
    return time.perf_counter() - start


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--frames", type=int, default=20_000)
    parser.add_argument("--batch", type=int, default=256, help="rows per insert call")
    parser.add_argument("--dets", type=int, default=2, help="detections per frame")
    args = parser.parse_args(argv)

    rows = list(records(args.frames, args.dets))
    parts = batches(rows, args.batch)
    n_rows, n_frames = len(rows), args.frames
    print(
        f"store bench: {n_frames} frames + {n_rows - n_frames} detections = {n_rows} rows, "
        f"{len(parts)} batches of {args.batch} rows, chDB"
    )
    with (
        tempfile.TemporaryDirectory() as tmp,
        ClickHouseStore.open(f"chdb://{Path(tmp) / 's'}") as store,
    ):
        store.apply_schema()
        ins_s, ins_batches, written = timed_pass(store, parts)
        rep_s, _, rewritten = timed_pass(store, parts)
        raw_s = raw_pass(store, parts)
        (stored,) = store.query("SELECT count() FROM linewatch.frames").result_rows[0]

    def line(name: str, seconds: float, note: str = "") -> None:
        print(
            f"  {name:<8} {n_rows / seconds:>10,.0f} rows/s"
            f"  {1000 * seconds / n_frames:>7.3f} ms/frame"
            f"  {1000 * seconds / len(parts):>7.2f} ms/batch  {note}"
        )

    line("insert", ins_s, f"(wrote {written} rows)")
    line("replay", rep_s, f"(wrote {rewritten} rows; lookup only)")
    line("raw", raw_s, "(client.insert, no lookup/dedup)")
    tenth = max(1, len(parts) // 10)
    first, last = statistics.median(ins_batches[:tenth]), statistics.median(ins_batches[-tenth:])
    print(f"  ratios: insert/raw = {ins_s / raw_s:.2f}x, replay/insert = {rep_s / ins_s:.2f}x")
    print(
        f"  growth: median insert batch {1000 * first:.2f} ms (first tenth) -> "
        f"{1000 * last:.2f} ms (last tenth, {stored} frames stored)"
    )


if __name__ == "__main__":
    main()
