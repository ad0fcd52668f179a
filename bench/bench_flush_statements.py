"""What one store write costs, statement by statement (CPU ms), with and without the journal.

Prints, never asserts. The pipeline's rows (shipped model, or ``--model PATH``) are written
``--frames-per-write`` frames at a time (micro-batches of 8 frames) into fresh embedded chDB
stores, as the write-behind writes them (``streams.sinks.writer.write``, the key lookup on: the
embedded runner's writes), side by side:

- ``journal``: the store as linewatch makes it: its frames inserts are journaled
  (``streams/sinks/frames_journal.py``), so the frame lookup reads ``event_keys`` alone;
- ``no journal``: the same store with its journal file removed (a store written before
  journals existed): the lookup also reads ``frames`` by sort key, for keyless frames.

Each statement's CPU time (``time.process_time``: chDB's threads count, its background merges
too) is summed per write by kind (the lookup ``SELECT``, each table's ``INSERT``); "python" is
the rest of the write. Medians over the writes (the first, which warms the store, left out),
median of ``--repeats`` rounds; each round writes both stores, one after the other, the first
of them in turn (so neither pays for going first).

Run: ``python bench/bench_flush_statements.py [--frames-per-write 72] [--writes 12]
[--model bench/.cache/yolo-class-320.onnx]``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from bench_pipeline import _records

from schemas.records import StoreRecord
from streams.config import Settings
from streams.inference import Detector, ModelSpec
from streams.ingest.sources import open_source
from streams.runners.reference import build_reference
from streams.runners.runtime import build_runtime
from streams.sinks import ClickHouseStore
from streams.sinks.connection import Connection
from streams.sinks.frames_journal import JOURNAL_FILE
from streams.sinks.writer import write

VARIANTS = ("journal", "no journal")


def _spied(spent: dict[str, float]) -> Callable[[], None]:
    """Sum each store statement's CPU ms into ``spent`` by kind; returns the undo."""
    query, insert, command = Connection.query, Connection.insert_block, Connection.command

    def timed(kind: str, call: Callable[[], Any]) -> Any:
        start = time.process_time()
        try:
            return call()
        finally:
            spent[kind] += (time.process_time() - start) * 1000.0

    def spy_query(self: Connection, sql: str, *args: Any, **kwargs: Any) -> Any:
        kind = (
            "lookup " + sql.split(" FROM ", 1)[1].split(maxsplit=1)[0]
            if " FROM " in sql
            else sql[:30]
        )
        if "UNION ALL" in sql:
            kind += " + frames"
        return timed(kind, lambda: query(self, sql, *args, **kwargs))

    def spy_insert(self: Connection, table: str, *args: Any, **kwargs: Any) -> None:
        timed(f"insert {table}", lambda: insert(self, table, *args, **kwargs))

    def spy_command(self: Connection, sql: str, *args: Any, **kwargs: Any) -> None:
        timed("command " + sql.split(maxsplit=1)[0], lambda: command(self, sql, *args, **kwargs))

    Connection.query = spy_query  # type: ignore[method-assign]
    Connection.insert_block = spy_insert  # type: ignore[method-assign]
    Connection.command = spy_command  # type: ignore[method-assign]

    def undo() -> None:
        Connection.query = query  # type: ignore[method-assign]
        Connection.insert_block = insert  # type: ignore[method-assign]
        Connection.command = command  # type: ignore[method-assign]

    return undo


def _writes(
    path: Path, groups: Sequence[list[StoreRecord]], variant: str
) -> list[dict[str, float]]:
    """CPU ms by statement kind of each write after the first, into a fresh store at ``path``."""
    dsn = f"chdb://{path}"
    with ClickHouseStore.open(dsn) as store:
        store.apply_schema()
        write(store, groups[0])  # warms the store; a first write makes its journal
    if variant == "no journal":
        (path / JOURNAL_FILE).unlink()
    found: list[dict[str, float]] = []
    with ClickHouseStore.open(dsn, existing=True) as store:
        for records in groups[1:]:
            spent: dict[str, float] = defaultdict(float)
            undo = _spied(spent)
            start = time.process_time()
            try:
                write(store, records)
            finally:
                undo()
            total = (time.process_time() - start) * 1000.0
            spent["python (the rest)"] = total - sum(spent.values())
            spent["total"] = total
            found.append(spent)
    return found


def main(argv: list[str] | None = None) -> None:
    """Print CPU ms per write by statement, with and without the journal."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--frames-per-write", type=int, default=72, help="a multiple of the micro-batch, 8"
    )
    parser.add_argument("--writes", type=int, default=12)
    parser.add_argument(
        "--repeats", type=int, default=4, help="rounds (even: each goes first as often)"
    )
    parser.add_argument("--model", default=None, help="an ONNX file (default: the shipped one)")
    args = parser.parse_args(argv)
    n = args.frames_per_write * args.writes
    settings = Settings(inference={"model": args.model}, drift={"reference": None})
    spec = ModelSpec.for_onnx(args.model) if args.model else None
    detector = Detector.load(spec, settings=settings)
    reference = build_reference(
        open_source("simulate:lab?events=50&seed=3").events, detector, settings
    )
    records = _records(n)
    with tempfile.TemporaryDirectory() as tmp:
        at = settings.replace(store={"dsn": f"chdb://{tmp}/rows"})
        with build_runtime(at, detector=detector, reference=reference) as rt:
            rows = [
                rt.pipeline.process(records[i : i + 8]).records() for i in range(0, n, 8)
            ]  # micro-batches of 8 frames, as the runners take them
    per = args.frames_per_write // 8  # micro-batches per write
    groups = [[r for batch in rows[w : w + per] for r in batch] for w in range(0, len(rows), per)]
    load_before = os.getloadavg()[0]
    rounds: dict[str, list[dict[str, float]]] = {v: [] for v in VARIANTS}
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(args.repeats):
            for v in VARIANTS if r % 2 == 0 else VARIANTS[::-1]:  # each goes first in turn
                writes = _writes(Path(tmp) / f"{r}-{v.replace(' ', '-')}", groups, v)
                kinds = {k for w in writes for k in w}
                rounds[v].append(
                    {k: statistics.median(w.get(k, 0.0) for w in writes) for k in kinds}
                )
    print(
        f"store writes of {args.frames_per_write} frames ({args.model or 'shipped model'}), "
        f"CPU ms per write, median of {args.repeats} rounds "
        f"(load average {load_before:.1f} -> {os.getloadavg()[0]:.1f})"
    )
    for v in VARIANTS:
        print(f"  {v}")
        order = sorted({k for r in rounds[v] for k in r}, key=lambda k: (k == "total", k))
        for k in order:
            ms = statistics.median(r.get(k, 0.0) for r in rounds[v])
            if ms > 0.0:  # (a statement only some writes make: its median is 0)
                print(f"    {k:<36} {ms:7.2f}")


if __name__ == "__main__":
    main()
