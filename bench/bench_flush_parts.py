"""Where the fixed CPU cost of one frames ``INSERT`` goes: the statement, its part, each view.

Prints, never asserts. One embedded chDB store (the schema as ``linewatch schema apply`` makes it)
holds a copy of ``frames`` per variant, each with its own copies of the views it keeps and of
their target tables (same definitions, other names):

- ``as linewatch makes it``: ``frames`` and its two materialized views (``event_keys_mv``,
  ``frames_hourly_mv``): three parts per insert;
- ``no hourly view``: without ``frames_hourly_mv``: two parts;
- ``no view``: ``frames`` alone: one part;
- ``statement only``: ``frames`` as a ``Null`` table: the statement, its parsing and the
  client's encoding, no part.

The same ``--frames-per-write`` frame rows (hand-made, three lines) are inserted into each
copy by the store's own insert (``Connection.insert_block``: column types named, columnar,
the deduplication token), the copies in turn, the first of them alternating, with background
merges stopped (``SYSTEM STOP MERGES``: the merges of one copy's parts would otherwise be
charged to whichever insert runs beside them). Each insert's CPU time (``time.process_time``:
chDB's threads count) is taken; the medians over the inserts (the first 3 left out) and the
differences between consecutive variants say what a view, a part and the statement cost.

Run: ``python bench/bench_flush_parts.py [--frames-per-write 72] [--writes 60]``.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import tempfile
import time
from datetime import timedelta

from schemas.records import FrameRecord, content_hash
from streams.readiness.samples import T0, event_uuid, sample_frame
from streams.sinks import ClickHouseStore
from streams.sinks.dsn import DATABASE

VARIANTS: dict[str, tuple[str, ...]] = {
    "as linewatch makes it": ("event_keys_mv", "frames_hourly_mv"),
    "no hourly view": ("event_keys_mv",),
    "no view": (),
    "statement only": (),
}
"""Each variant's materialized views on its copy of ``frames``."""

_WORD_FRAMES = re.compile(r"\blinewatch\.frames\b")


def _frames(write: int, n: int) -> list[FrameRecord]:
    """``n`` frame rows of the ``write``-th insert, 100 ms apart over three lines."""
    out = []
    for i in range(write * n, (write + 1) * n):
        frame = sample_frame(
            event_uuid(i),
            line_id=f"line-{i % 3}",
            captured_at=T0 + timedelta(milliseconds=100 * i),
            max_confidence=(i % 7) / 7,
        )
        out.append(
            frame.model_copy(
                update={"content_hash": content_hash(str(i).encode()), "source": f"bench:{i}"}
            )
        )
    return out


def _copy(store: ClickHouseStore, n: int, variant: str) -> str:
    """A copy of ``frames`` (``frames_bN``; a ``Null`` table for ``statement only``) with
    ``variant``'s views, each into its own copy of the view's target table; its name."""
    table = f"frames_b{n}"
    engine = " ENGINE = Null" if variant == "statement only" else ""
    store.command(f"CREATE TABLE {DATABASE}.{table} AS {DATABASE}.frames{engine}")
    for view in VARIANTS[variant]:
        query, select = store.query(
            "SELECT create_table_query, as_select FROM system.tables "
            "WHERE database = {db:String} AND name = {view:String}",
            {"db": DATABASE, "view": view},
        ).result_rows[0]
        target = str(query).split(" TO ", 1)[1].split()[0].split(".")[-1]  # TO db.target
        store.command(f"CREATE TABLE {DATABASE}.{target}_b{n} AS {DATABASE}.{target}")
        store.command(
            f"CREATE MATERIALIZED VIEW {DATABASE}.{view}_b{n} TO {DATABASE}.{target}_b{n} "
            f"AS {_WORD_FRAMES.sub(f'{DATABASE}.{table}', str(select))}"
        )
    return table


def main(argv: list[str] | None = None) -> None:
    """Print the CPU ms of one frames insert per variant."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--frames-per-write", type=int, default=72)
    parser.add_argument("--writes", type=int, default=60)
    args = parser.parse_args(argv)
    if args.writes < 1 or args.frames_per_write < 1:
        parser.error("--writes and --frames-per-write must be at least 1")
    names = list(FrameRecord.model_fields)
    spent: dict[str, list[float]] = {v: [] for v in VARIANTS}
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as tmp, ClickHouseStore.open(f"chdb://{tmp}/s") as store:
        store.apply_schema()
        store.command("SYSTEM STOP MERGES")
        tables = {v: _copy(store, i, v) for i, v in enumerate(VARIANTS)}
        order = list(VARIANTS)
        for w in range(args.writes):
            rows = _frames(w, args.frames_per_write)
            columns = [[getattr(r, c) for r in rows] for c in names]
            for variant in order if w % 2 == 0 else order[::-1]:
                start = time.process_time()
                store.insert_block(
                    tables[variant],
                    columns,
                    column_names=names,
                    token=f"{variant}-{w}",
                    count=len(rows),
                    column_oriented=True,
                )
                if w >= 3:
                    spent[variant].append((time.process_time() - start) * 1000.0)
    print(
        f"one frames INSERT of {args.frames_per_write} rows, CPU ms, median of "
        f"{args.writes - 3} inserts, merges stopped "
        f"(load average {load_before:.1f} -> {os.getloadavg()[0]:.1f})"
    )
    medians = {v: statistics.median(spent[v]) for v in VARIANTS}
    for variant, ms in medians.items():
        print(f"  {variant:<24} {ms:7.2f}")
    print(
        f"  so: hourly view {medians['as linewatch makes it'] - medians['no hourly view']:.2f}, "
        f"key view {medians['no hourly view'] - medians['no view']:.2f}, "
        f"the frames part {medians['no view'] - medians['statement only']:.2f}, "
        f"the statement {medians['statement only']:.2f}"
    )


if __name__ == "__main__":
    main()
