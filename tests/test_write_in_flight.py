"""A budget cut that comes due while a write is in flight: the processor goes on with the next
takes (only the cut waits for the store), the cut is made as soon as the write ends (no timer,
no further take), a take stops for it at its next model batch, and no event is acknowledged
before its rows are stored. Also: the worker's first write loads nothing the worker could have
loaded before its first event.

A real :class:`StreamWorker` on a chDB store in a tmp dir and the :class:`WorkerLoop`'s own
coroutines on an asyncio loop; the store is kept busy by holding its lock, as a slow insert
does.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import textwrap
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from schemas.records import DeadLetterRecord, DriftEventRecord
from streams.config import Settings
from streams.runners.stream_worker import KafkaRecord, StreamWorker
from streams.runners.worker_loop import WorkerLoop
from tests.belt_world import belt_records

BUDGET_S = 0.2


def _worker(tmp_path: Path, flush_rows: int = 2000) -> StreamWorker:
    settings = Settings(
        store={"dsn": f"chdb://{tmp_path / 'store'}"},
        worker={"app_id": "in-flight"},
        inference={"batch_frames": 4, "max_batch_wait_ms": 0.0},
        # every cut snapshots, so that every write hands its acknowledgements back
        checkpoint={
            "flush_interval_s": BUDGET_S,
            "snapshot_every_flushes": 1,
            "flush_rows": flush_rows,
        },
    )
    w = StreamWorker.create(settings)
    w.sizer.budget_s = 0.0  # batch sizes from the settings alone, not from this machine's speed
    return w


@pytest.fixture
def worker(tmp_path: Path) -> Iterator[StreamWorker]:
    w = _worker(tmp_path)
    yield w
    w.close()


def _takes(n: int) -> list[list[KafkaRecord]]:
    """``n`` takes of 4 events, one per partition, produced 10 s ago (past their budget as
    soon as they are processed)."""
    produced = time.time() - 10.0
    raws = belt_records(4 * n, fault_at=10_000)
    records = [KafkaRecord(r, i % 4, i // 4, produced) for i, r in enumerate(raws)]
    return [records[k : k + 4] for k in range(0, len(records), 4)]


def _stored(w: StreamWorker) -> int:
    return int(w.store.query("SELECT count() FROM frames FINAL").result_rows[0][0])


class _Stream:
    """What the loop calls on a Faust stream: ``ack``; checks each event's row is stored."""

    def __init__(self, w: StreamWorker) -> None:
        self.w = w
        self.acked: list[tuple[int, int]] = []
        self.unstored: list[tuple[int, int]] = []

    async def ack(self, event: Any) -> None:
        key = (int(event.message.partition), int(event.message.offset))
        self.acked.append(key)
        if _stored(self.w) < len(self.acked):  # frames of distinct events, one each
            self.unstored.append(key)


def _events(take: list[KafkaRecord]) -> list[Any]:
    return [
        SimpleNamespace(message=SimpleNamespace(partition=r.partition, offset=r.offset))
        for r in take
    ]


async def _publish(letters: list[DeadLetterRecord], drift: list[DriftEventRecord]) -> None:
    return None


async def _until(
    check: Callable[[], bool],
    timeout_s: float = 20.0,
    tick: Callable[[], Awaitable[None]] | None = None,
) -> bool:
    """Wait for ``check``, awaiting ``tick`` (a timer's callback) every 50 ms if given."""
    deadline = time.monotonic() + timeout_s
    last = time.monotonic()
    while not check():
        if time.monotonic() > deadline:
            return False
        if tick is not None and time.monotonic() - last >= 0.05:
            last = time.monotonic()
            await tick()
        await asyncio.sleep(0.01)
    return True


def _four_takes(worker: StreamWorker, runs_while_busy: int) -> None:
    """Four takes of 4 events; the second's write waits for the store while the third and
    fourth arrive, their rows due: ``runs_while_busy`` model batches (of 4) run meanwhile.
    Then the store answers, and every event is stored and acknowledged, in order, with no
    timer and no further take."""
    crashes: list[BaseException] = []

    async def crash(exc: BaseException) -> None:
        crashes.append(exc)

    async def main() -> None:
        loop = WorkerLoop(worker.settings, _publish, crash, worker)
        stream = _Stream(worker)
        processor = asyncio.create_task(loop.process_batches(lambda: None))
        first, *rest = _takes(4)
        busy = worker.checkpoint.store_lock
        try:
            await loop.take(stream, _events(first), first)  # restores the partitions, stored
            # a fresh worker's caught-up cut: no timer (tests/test_quiet_line_cuts.py)
            stored = await _until(lambda: len(stream.acked) == 4)
            assert stored, f"the first take never stored (crashes: {crashes})"
            await asyncio.sleep(BUDGET_S)  # budget cuts are half a budget apart
            busy.acquire()  # the store is busy: the next write waits for it
            await loop.take(stream, _events(rest[0]), rest[0])
            assert await _until(lambda: loop.writing is not None and not loop.writing.done())
            await asyncio.sleep(BUDGET_S)  # the next takes' rows are due once processed
            for take in rest[1:]:
                await loop.take(stream, _events(take), take)
            await _until(lambda: len(worker.runs) == 4, timeout_s=5.0)
            assert len(worker.runs) == runs_while_busy, "model batches run during the write"
            assert len(stream.acked) == 4  # nothing acknowledged whose rows wait
            busy.release()
            # the write ends, and the cut that waited for it follows: no timer, no new take
            assert await _until(lambda: len(stream.acked) == 16), stream.acked
        finally:
            if busy.locked():
                busy.release()
            processor.cancel()
            await asyncio.gather(processor, return_exceptions=True)
            await loop.written()
        assert stream.unstored == []
        order = [k for take in [first, *rest] for k in ((r.partition, r.offset) for r in take)]
        assert sorted(stream.acked[:8]) == sorted(order[:8])  # the write in flight's first
        assert sorted(stream.acked) == sorted(order)
        assert _stored(worker) == 16 and not crashes

    asyncio.run(main())


def test_takes_run_while_a_write_waits_for_the_store_and_their_cut_follows_it(
    worker: StreamWorker,
) -> None:
    _four_takes(worker, runs_while_busy=4)


def test_past_flush_rows_pending_a_due_cut_waits_for_the_write(tmp_path: Path) -> None:
    """A store that does not answer stops the processor once ``flush_rows`` rows pend (here
    one take's): the fourth take waits in the queue, not in memory as rows."""
    w = _worker(tmp_path, flush_rows=4)
    try:
        _four_takes(w, runs_while_busy=3)
    finally:
        w.close()


def test_a_take_stops_for_a_cut_that_waited_for_a_write(worker: StreamWorker) -> None:
    async def main() -> None:
        loop = WorkerLoop(worker.settings, _publish, lambda exc: asyncio.sleep(0), worker)
        worker.process(_takes(1)[0])
        await asyncio.sleep(BUDGET_S)  # past the half budget between cuts: due
        until = loop._until(worker)
        assert until is not None and worker.flush_due()
        assert worker.rest_s() < BUDGET_S / 2  # a short rest: no reason of its own to stop
        assert not until()
        loop.cut_wanted = True  # a cut came due while a write was in flight, which ended
        assert until()

    asyncio.run(main())


FIRST_WRITE = """
import sys
from pathlib import Path
from streams.config import Settings
from streams.runners.stream_worker import KafkaRecord, StreamWorker
from tests.belt_world import belt_records

settings = Settings(store={{"dsn": "chdb://{store}"}}, worker={{"app_id": "first"}})
w = StreamWorker.create(settings)
take = [KafkaRecord(r, i % 4, i // 4) for i, r in enumerate(belt_records(8, fault_at=99))]
w.process(take)
w.drain()
before = set(sys.modules)
w.write_flush(w.cut(snapshot=True))
print(sorted(m for m in set(sys.modules) - before if "." not in m))
w.close()
"""


def test_the_first_write_imports_nothing(tmp_path: Path) -> None:
    """A fresh process (the modules a worker imports are those of this one only there)."""
    code = textwrap.dedent(FIRST_WRITE.format(store=tmp_path / "store"))
    root = Path(__file__).resolve().parents[1]
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=300,
        env={
            **{k: v for k, v in os.environ.items() if not k.startswith("LINEWATCH_")},
            "PYTHONPATH": str(root),
        },
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip().splitlines()[-1] == "[]", done.stdout
