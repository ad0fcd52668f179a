"""The store at plant scale: a 10M-frame chDB store, and what it costs to write to and read from.

Prints, never asserts (not part of ``make test``). Steps, each in its own process (chDB: one
store directory per process):

1. build: a store of ``--frames`` frames (30 days, 30 lines), ``--frames // 3`` detections and
   ``--labels`` labels, with ``INSERT ... SELECT`` from ``numbers()`` matching the schema (the
   materialized views fill ``event_keys`` and the rollups as they would in production);
2. write cost: the same ``--write`` frames (UUID event ids, one detection each) through
   the runners' ``Checkpoint`` (batches of ``--batch``) into an empty store and into the full
   one, then
   replayed into the full one; prints the full/empty ratio;
3. user queries, raw and from the hourly rollup: slice x hour means over 7 days, frames per line
   per hour over 30 days;
4. ``linewatch metrics --format json`` (first call: reconciles the ``--labels`` new labels;
   then the steady state) and ``linewatch report``: wall time and peak RSS;
5. the views changed for speed (074-076 of the migration chain squashed into
   ``002_baseline.sql``, ``tests/data/schema_chain_0/``) against their previous definitions on the
   same store: equal rows or not;
6. bytes per row of every table (compressed, on disk).

    .venv/bin/python bench/bench_store_scale.py                 # 10M frames, ~10 min on 2 cores
    .venv/bin/python bench/bench_store_scale.py --frames 1000000 --write 20000
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from schemas.records import StoreRecord

T0 = datetime(2026, 10, 1, tzinfo=UTC)
DAYS = 30
LINES = 30
CHAIN = Path(__file__).parents[1] / "tests" / "data" / "schema_chain_0"
"""The migrations 001..101 squashed into ``schemas/clickhouse/002_baseline.sql``."""
BIN = [sys.executable, str(Path(__file__).resolve())]


def _store(path: str) -> object:
    from streams.sinks import ClickHouseStore

    return ClickHouseStore.open(f"chdb://{path}")


def build(path: str, frames: int, labels: int, upto: str | None = None) -> None:
    """Fill a fresh store with synthetic rows by INSERT ... SELECT from numbers().

    ``upto``: apply only the files of the squashed migration chain (``CHAIN``) named before it
    (e.g. ``073`` for the rows before compaction) - for before/after byte counts; without it,
    the shipped schema.
    """
    import shutil

    from streams.sinks import ClickHouseStore

    span_ms = DAYS * 86_400_000
    ddl = None
    if upto:
        ddl = Path(tempfile.mkdtemp()) / "ddl"
        ddl.mkdir()
        for f in CHAIN.glob("*.sql"):
            if f.name < upto:
                shutil.copy(f, ddl)
    with ClickHouseStore.open(f"chdb://{path}") as store:
        store.apply_schema(ddl)
        t = time.perf_counter()
        step = 2_000_000
        later = {  # columns the early chain lacks, in table order, and their values
            "content_hash": "lower(hex(cityHash64(number)))",
            "invalid_outputs": "0",
        }
        present = [
            str(r[0])
            for r in store.query(
                "SELECT name FROM system.columns WHERE database = 'linewatch' "
                "AND table = 'frames' ORDER BY position"
            ).result_rows
        ]
        hashed = "".join(f",\n    {later[c]}" for c in present if c in later)
        for start in range(0, frames, step):
            n = min(step, frames - start)
            store.command(
                f"""
INSERT INTO linewatch.frames
SELECT
    toString(generateUUIDv4(number)) AS event_id,
    concat('line-', toString(number % {LINES} + 1)) AS line_id,
    concat('cam-', toString(number % {LINES * 2})) AS camera_id,
    toDateTime64('{T0:%Y-%m-%d %H:%M:%S}', 3, 'UTC')
        + toIntervalMillisecond(intDiv(number * {span_ms}, {frames})) AS captured_at,
    ['day', 'evening', 'night'][intDiv(toHour(captured_at), 8) + 1] AS shift,
    ['dark', 'dim', 'normal', 'bright'][number % 4 + 1] AS lighting,
    'v1', 400 + (number % 200), NULL,
    0.5 + (cityHash64(number, 1) % 1000) / 5000, 0.2 + (cityHash64(number, 2) % 100) / 1000,
    (cityHash64(number, 3) % 1000) / 100, (cityHash64(number, 4) % 200 - 100) / 1000,
    5000 + cityHash64(number, 5) % 1500, (cityHash64(number, 6) % 100) / 10000,
    (cityHash64(number, 7) % 100) / 10000,
    'linewatch-defects', '1.0.0',
    if(cityHash64(number, 8) % 10 = 0, 1, 0) AS detection_count,
    (cityHash64(number, 9) % 1000) / 1000 AS max_confidence,
    max_confidence >= 0.5,
    1 + (cityHash64(number, 10) % 100) / 50, 20 + (cityHash64(number, 11) % 100) / 10,
    0.2, 30 + (cityHash64(number, 12) % 300) / 10,
    concat('bench:', toString(number)), captured_at + toIntervalMillisecond(30){hashed}
FROM numbers({start}, {n})
"""
            )
        built_frames = time.perf_counter() - t
        store.command(
            """
INSERT INTO linewatch.detections
SELECT event_id, 0, line_id, captured_at,
       ['scratch', 'dent', 'stain'][cityHash64(event_id) % 3 + 1],
       max_confidence, 10, 10, 40, 40
FROM linewatch.frames WHERE cityHash64(event_id) % 3 = 0
"""
        )
        store.command(
            f"""
INSERT INTO linewatch.labels
SELECT lower(hex(cityHash64(event_id, 'label'))), event_id, 'bench',
       captured_at + toIntervalHour(1),
       if(max_confidence > 0.6, 1, 0), if(max_confidence > 0.6, ['scratch'], []),
       if(max_confidence > 0.6, [[10., 10., 40., 40.]], []), captured_at + toIntervalHour(1)
FROM linewatch.frames WHERE cityHash64(event_id, 'l') % {max(1, frames // labels)} = 0
LIMIT {labels}
"""
        )
        counts = {
            t: store.query(f"SELECT count() FROM linewatch.{t}").result_rows[0][0]
            for t in ("frames", "detections", "labels")
        }
        print(f"build: {counts} in {time.perf_counter() - t:.1f}s (frames {built_frames:.1f}s)")


def write(path: str, n: int, batch: int, apply: bool, offset: int = 0) -> None:
    """Checkpoint: the same n frames (+1 detection each); prints one JSON line of timings."""
    from schemas.records import content_hash
    from streams.config import CheckpointSettings
    from streams.readiness.samples import sample_detection, sample_frame
    from streams.runners.checkpoint import Checkpoint
    from streams.runners.write_behind import EventRows
    from streams.sinks import ClickHouseStore

    rows: list[StoreRecord] = []
    for i in range(n):
        eid = str(uuid.UUID(int=((i + offset) * 2654435761) % (1 << 128) + 12345))
        line = f"line-{i % LINES + 1}"
        at = T0 + timedelta(days=DAYS, milliseconds=100 * i)
        rows.append(
            sample_frame(eid, line_id=line, captured_at=at).model_copy(
                update={"content_hash": content_hash(eid.encode()), "source": f"w:{i}"}
            )
        )
        rows.append(
            sample_detection(
                eid, 0, "dent", 0.7, (1.0, 2.0, 3.0, 4.0), line_id=line, captured_at=at
            )
        )
    out = {}
    with ClickHouseStore.open(f"chdb://{path}") as store:
        if apply:
            store.apply_schema()
        for name in ("write", "replay"):
            flushes = CheckpointSettings(flush_rows=batch * 2, flush_interval_s=3600)
            checkpoint = Checkpoint(store, flushes)
            written = 0
            t = time.perf_counter()
            for k in range(0, len(rows), 2):  # a frame and its detection: one event
                checkpoint.add([EventRows(None, rows[k : k + 2])], events=1)
                if checkpoint.due():
                    written += checkpoint.flush().stats.written["frames"]
            written += checkpoint.flush().stats.written["frames"]
            out[name] = time.perf_counter() - t
            out[f"{name}_frames_written"] = written
    print(json.dumps(out))


QUERIES = {
    "slice x hour means, 7 days (raw)": """
SELECT line_id, shift, lighting, toStartOfHour(captured_at) AS hour, count(), avg(brightness),
       avg(contrast), avg(max_confidence)
FROM linewatch.frames WHERE captured_at >= {t7:DateTime64(3, 'UTC')}
GROUP BY line_id, shift, lighting, hour""",
    "frames per line per hour, 30 days (raw)": """
SELECT line_id, toStartOfHour(captured_at) AS hour, count() FROM linewatch.frames
GROUP BY line_id, hour""",
    "frames per line per hour, 30 days (raw FINAL)": """
SELECT line_id, toStartOfHour(captured_at) AS hour, count() FROM linewatch.frames FINAL
GROUP BY line_id, hour""",
    "slice x hour means, 7 days (rollup)": """
SELECT line_id, shift, lighting, hour, countMerge(frames), avgMerge(brightness),
       avgMerge(contrast), avgMerge(max_confidence)
FROM linewatch.frames_hourly WHERE hour >= {t7:DateTime64(3, 'UTC')}
GROUP BY line_id, shift, lighting, hour""",
    "frames per line per hour, 30 days (rollup)": """
SELECT line_id, hour, countMerge(frames) FROM linewatch.frames_hourly GROUP BY line_id, hour""",
}


def queries(path: str) -> None:
    from streams.sinks import ClickHouseStore

    t7 = T0 + timedelta(days=DAYS - 7)
    with ClickHouseStore.open(f"chdb://{path}") as store:
        has_rollup = store.query(
            "SELECT count() FROM system.tables "
            "WHERE database = 'linewatch' AND name = 'frames_hourly'"
        ).result_rows[0][0]
        for name, sql in QUERIES.items():
            if "rollup" in name and not has_rollup:
                continue
            times = []
            for _ in range(3):
                t = time.perf_counter()
                rows = store.query(sql, {"t7": t7}).result_rows
                times.append(time.perf_counter() - t)
            print(f"query {name}: {sorted(times)[1]:.3f}s median of 3, {len(rows)} rows")
    sizes(path)


def sizes(path: str) -> None:
    """Bytes per row of every table, and of the biggest frames columns."""
    from streams.sinks import ClickHouseStore

    with ClickHouseStore.open(f"chdb://{path}") as store:
        store.command("OPTIMIZE TABLE linewatch.frames FINAL")
        print("bytes per row (compressed on disk, frames merged):")
        for table, rows, size in store.query(
            "SELECT table, sum(rows), sum(bytes_on_disk) FROM system.parts "
            "WHERE database = 'linewatch' AND active GROUP BY table ORDER BY table"
        ).result_rows:
            if rows:
                print(f"  {table:<20} {rows:>10} rows  {size / rows:7.1f} B/row")
        (n,) = store.query("SELECT count() FROM linewatch.frames").result_rows[0]
        for col, size in store.query(
            "SELECT name, data_compressed_bytes FROM system.columns WHERE database = 'linewatch' "
            "AND table = 'frames' ORDER BY data_compressed_bytes DESC LIMIT 8"
        ).result_rows:
            print(f"    frames.{col:<22} {size / max(1, n):6.2f} B/row")


# the previous definitions of the views made cheaper later (071's SQL in CHAIN), to compare on the
# store
PREVIOUS_VIEWS = {
    "v_latency_by_line": """
SELECT line_id, count() AS frames, quantileExact(0.5)(latency_ms) AS p50_ms,
    quantileExact(0.95)(latency_ms) AS p95_ms, quantileExact(0.99)(latency_ms) AS p99_ms,
    max(latency_ms) AS max_ms, quantileExact(0.5)(inference_ms) AS inference_p50_ms,
    quantileExact(0.99)(inference_ms) AS inference_p99_ms
FROM linewatch.frames FINAL GROUP BY line_id""",
    "v_label_coverage": """
SELECT
    (SELECT count() FROM linewatch.frames FINAL) AS frames,
    (SELECT uniqExact(event_id) FROM linewatch.labels) AS labelled_events,
    (SELECT uniqExact(event_id) FROM linewatch.labels
        WHERE event_id NOT IN (
            SELECT event_id FROM linewatch.event_keys
            WHERE event_id IN (SELECT event_id FROM linewatch.labels))) AS labels_without_frames,
    (SELECT count() FROM linewatch.v_frame_outcomes) AS reconciled_frames""",
}


def compare_views(path: str) -> None:
    """Each view of PREVIOUS_VIEWS against its previous SQL on the same store."""
    from streams.sinks import ClickHouseStore

    with ClickHouseStore.open(f"chdb://{path}", readonly=True) as store:
        for view, sql in PREVIOUS_VIEWS.items():
            new = store.query(f"SELECT * FROM linewatch.{view} ORDER BY ALL")
            old = store.query(f"SELECT * FROM ({sql}) ORDER BY ALL")
            print(
                f"view {view}: {len(new.result_rows)} rows, equal to the previous SQL: {new == old}"
            )


def timed_cli(args: list[str]) -> tuple[float, float, str]:
    """Wall seconds, peak RSS (MB) and stdout of a linewatch command."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        t = time.perf_counter()
        proc = subprocess.Popen(
            [str(Path(sys.executable).parent / "linewatch"), *args], stdout=out, stderr=err
        )
        _, status, usage = os.wait4(proc.pid, 0)
        elapsed = time.perf_counter() - t
        out.seek(0)
        err.seek(0)
        if status:
            print(err.read().decode()[-2000:])
        return elapsed, usage.ru_maxrss / 1024, out.read().decode()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=10_000_000)
    parser.add_argument("--labels", type=int, default=50_000)
    parser.add_argument("--write", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=2000, help="frames per flush")
    parser.add_argument("--dir", default=None, help="work directory (default: a temp dir)")
    parser.add_argument("--step", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--path", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--id-offset", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument(
        "--sizes-only",
        default=None,
        metavar="NNN",
        help="only build a store with the files of tests/data/schema_chain_0 (the migrations "
        "squashed into 002_baseline.sql) before NNN (e.g. 073, or 999 for all) and print its "
        "bytes per row",
    )
    args = parser.parse_args()
    if args.step == "build":
        return build(args.path, args.frames, args.labels)
    if args.sizes_only:
        path = tempfile.mkdtemp(prefix="linewatch-sizes-") + "/store"
        build(path, args.frames, args.labels, upto=args.sizes_only)
        return sizes(path)
    if args.step in ("write-empty", "write-full"):
        apply = args.step == "write-empty"
        return write(args.path, args.write, args.batch, apply=apply, offset=args.id_offset)
    if args.step == "queries":
        return queries(args.path)
    if args.step == "compare-views":
        return compare_views(args.path)

    work = Path(args.dir or tempfile.mkdtemp(prefix="linewatch-scale-"))
    print("load average (1, 5, 15 min) at start: {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))
    full, empty = str(work / "full"), str(work / "empty")
    common = ["--frames", str(args.frames), "--labels", str(args.labels)]
    common += ["--write", str(args.write), "--batch", str(args.batch)]
    t = time.perf_counter()
    subprocess.run([*BIN, *common, "--step", "build", "--path", full], check=True)
    print(f"store built in {time.perf_counter() - t:.0f}s at {full}")
    res = {}
    for step, path in (("write-empty", empty), ("write-full", full)):
        out = subprocess.run(
            [*BIN, *common, "--step", step, "--path", path], check=True, capture_output=True
        ).stdout.decode()
        res[step] = json.loads(out.strip().splitlines()[-1])
    e, f = res["write-empty"], res["write-full"]
    print(
        f"write {args.write} frames (+1 detection each) in batches of {args.batch}: "
        f"empty {e['write']:.1f}s ({args.write / e['write']:.0f} frames/s), "
        f"full {f['write']:.1f}s ({args.write / f['write']:.0f} frames/s): "
        f"ratio full/empty {f['write'] / e['write']:.2f}; "
        f"replay into full {f['replay']:.1f}s (frames written: {f['replay_frames_written']})"
    )
    subprocess.run([*BIN, *common, "--step", "queries", "--path", full], check=True)
    store = f"chdb://{full}"
    metrics = ["metrics", "--format", "json", "--store", store]
    for name, cli in (
        (f"metrics, first call ({args.labels} labels to reconcile)", metrics),
        ("metrics, steady state", metrics),
        ("report", ["report", "--out", str(work / "report.html"), "--store", store]),
    ):
        elapsed, rss, _ = timed_cli(cli)
        print(f"{name}: {elapsed:.1f}s, peak RSS {rss:.0f} MB")
    subprocess.run([*BIN, *common, "--step", "compare-views", "--path", full], check=True)
    print("load average (1, 5, 15 min) at end: {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))


if __name__ == "__main__":
    main()
