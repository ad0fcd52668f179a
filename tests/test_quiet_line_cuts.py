"""Pending rows are cut when their budget says, whether or not another event comes: no path of
the worker loop leaves rows pending with no cut scheduled (no timer here, no further take).

A real :class:`StreamWorker` on a chDB store in a tmp dir and the :class:`WorkerLoop`'s own
coroutines on an event loop whose clock the test moves forward (:class:`_Clock`): the loop's
timers, its cut times and the checkpoint's clock all read it, and the budget (60 s) is so much
longer than the real seconds the test takes that the machine's speed cannot change what is due.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from streams.config import Settings
from streams.runners.partitions import PartitionStates
from streams.runners.runtime import build_runtime
from streams.runners.stream_worker import KafkaRecord, StreamWorker
from streams.runners.worker_loop import WorkerLoop
from tests.belt_world import belt_records
from tests.test_write_in_flight import _events, _publish, _stored, _Stream, _until

BUDGET_S = 60.0
HALF_S = BUDGET_S / 2


class _Clock(asyncio.SelectorEventLoop):
    """An event loop whose time is real time plus ``offset`` (:meth:`advance` moves it)."""

    offset = 0.0

    def time(self) -> float:
        return super().time() + self.offset

    async def advance(self, seconds: float) -> None:
        """Move the clock forward; timers now due run before this returns."""
        self.offset += seconds
        for _ in range(3):
            await asyncio.sleep(0)


@pytest.fixture
def clock() -> Iterator[_Clock]:
    loop = _Clock()
    yield loop
    loop.close()


@pytest.fixture
def worker(tmp_path: Path, clock: _Clock) -> Iterator[StreamWorker]:
    settings = Settings(
        store={"dsn": f"chdb://{tmp_path / 'store'}"},
        worker={"app_id": "quiet-line"},
        inference={"batch_frames": 4, "max_batch_wait_ms": 0.0},
        # every cut snapshots, so that every write hands its acknowledgements back
        checkpoint={"flush_interval_s": BUDGET_S, "snapshot_every_flushes": 1},
    )
    runtime = build_runtime(settings)
    states = PartitionStates(
        runtime.store, runtime.reference, settings, "quiet-line", settings.kafka.topic_events
    )
    w = StreamWorker(settings, runtime.pipeline, runtime.store, states, clock=clock.time)
    w.sizer.budget_s = 0.0  # batch sizes from the settings alone
    yield w
    w.close()


def _takes(n: int, produced_ago_s: float = 0.0) -> list[list[KafkaRecord]]:
    """``n`` takes of 4 events, one per partition, produced ``produced_ago_s`` ago."""
    produced = time.time() - produced_ago_s
    raws = belt_records(4 * n, fault_at=10_000)
    records = [KafkaRecord(r, i % 4, i // 4, produced) for i, r in enumerate(raws)]
    return [records[k : k + 4] for k in range(0, len(records), 4)]


class _Run:
    """A :class:`WorkerLoop` with its processor running, and the stream it acknowledges on."""

    def __init__(self, w: StreamWorker) -> None:
        self.w = w
        self.crashes: list[BaseException] = []

        async def crash(exc: BaseException) -> None:
            self.crashes.append(exc)

        self.loop = WorkerLoop(w.settings, _publish, crash, w)
        self.stream = _Stream(w)

    async def take(self, take: list[KafkaRecord]) -> None:
        """Queue a take and wait until it is processed (and any cut it made is started)."""
        loop = self.loop
        await loop.take(self.stream, _events(take), take)
        # the processor takes it off the queue and holds the lock until it is done with it
        assert await _until(lambda: loop.batches.empty() and not loop.process_lock.locked())

    async def busy_write(
        self, clock: _Clock, warm: list[KafkaRecord], take: list[KafkaRecord]
    ) -> None:
        """Store ``warm`` (it restores the partitions, which needs the store), then make the
        store busy and queue ``take``: cut at once (caught up, the last cut half a budget
        old), its write waits for the store (:meth:`release`)."""
        await self.take(warm)
        assert await _until(lambda: len(self.stream.acked) == len(warm))
        await clock.advance(HALF_S + 1)
        self.w.checkpoint.store_lock.acquire()
        await self.take(take)
        assert self.loop.write_in_flight()

    def release(self) -> None:
        """The store answers again."""
        self.w.checkpoint.store_lock.release()

    async def quiet(self) -> None:
        """Let whatever is due now run to its end (real time; the clock does not move)."""
        await _until(lambda: not self.loop.process_lock.locked())
        await self.loop.written()
        for _ in range(5):
            await asyncio.sleep(0.02)
        await self.loop.written()


def _run(clock: _Clock, w: StreamWorker, body: Callable[[_Run], Awaitable[None]]) -> _Run:
    run = _Run(w)

    async def main() -> None:
        processor = asyncio.create_task(run.loop.process_batches(lambda: None))
        busy = w.checkpoint.store_lock
        try:
            await body(run)
        finally:
            if busy.locked():
                busy.release()
            processor.cancel()
            await asyncio.gather(processor, return_exceptions=True)
            writes = [t for t in [run.loop.writing] if t is not None]
            await asyncio.gather(*writes, return_exceptions=True)

    clock.run_until_complete(main())
    assert run.stream.unstored == [], "an event was acknowledged before its rows were stored"
    return run


def test_the_first_take_of_a_fresh_worker_is_cut_at_once(
    clock: _Clock, worker: StreamWorker
) -> None:
    """No cut came before it, so none to space it from: the caught-up worker writes it now
    (it used to wait half a budget after the worker started, for a timer tick)."""

    async def body(run: _Run) -> None:
        await run.take(_takes(1)[0])
        assert await _until(lambda: len(run.stream.acked) == 4, timeout_s=20.0)

    _run(clock, worker, body)
    assert _stored(worker) == 4


def test_the_last_take_of_a_burst_is_cut_when_due_without_a_next_event(
    clock: _Clock, worker: StreamWorker
) -> None:
    """A take right after a cut is not due (cuts are half a budget apart): the line goes quiet,
    and its rows are cut half a budget after the last cut, by the loop's own wake-up."""

    async def body(run: _Run) -> None:
        first, last = _takes(2)
        await run.take(first)
        assert await _until(lambda: len(run.stream.acked) == 4)
        await run.take(last)  # the clock has not moved: the last cut was just now
        await run.quiet()
        assert len(run.stream.acked) == 4 and run.w.pending_events == 4
        armed = run.loop.schedule.armed_in()
        assert armed is not None and 0 < armed <= HALF_S
        await clock.advance(HALF_S - 10)
        await run.quiet()
        assert len(run.stream.acked) == 4  # not due yet: no cut
        await clock.advance(11)
        assert await _until(lambda: len(run.stream.acked) == 8, timeout_s=20.0)

    _run(clock, worker, body)
    assert _stored(worker) == 8


def test_rows_processed_during_a_write_are_cut_when_due_after_it_ends(
    clock: _Clock, worker: StreamWorker
) -> None:
    """A take processed while a write is in flight, not due then (so no cut waited for the
    write): when the write ends, a wake-up is armed for them."""

    async def body(run: _Run) -> None:
        warm, first, second = _takes(3)
        await run.busy_write(clock, warm, first)
        await run.take(second)
        assert run.w.pending_events == 4 and not run.loop.cut_wanted
        run.release()
        assert await _until(lambda: len(run.stream.acked) == 8)
        await run.quiet()
        assert len(run.stream.acked) == 8
        armed = run.loop.schedule.armed_in()
        assert armed is not None and 0 < armed <= HALF_S
        await clock.advance(HALF_S + 1)
        assert await _until(lambda: len(run.stream.acked) == 12, timeout_s=20.0)

    _run(clock, worker, body)
    assert _stored(worker) == 12


def test_a_cut_that_waited_for_a_write_is_made_when_it_ends_though_no_longer_due(
    clock: _Clock, worker: StreamWorker
) -> None:
    """A cut came due by the rows' produce age while a write was in flight, and waited for
    it; the write was quick, so the expected write (and with it the trigger) dropped: the cut
    is still made, as the worker is caught up (it used to wait for a timer or a next event)."""

    async def body(run: _Run) -> None:
        warm, first, second = _takes(3)
        await run.busy_write(clock, warm, first)
        await clock.advance(HALF_S + 1)
        policy = run.w.checkpoint.policy
        for _ in range(60):  # writes have taken 50 s: fresh rows are due, with the next
            policy.wrote(50.0)  # check 11 s away (the mean gap between takes)
        produced = time.time()
        await run.take([KafkaRecord(r.raw, r.partition, r.offset, produced) for r in second])
        assert run.loop.cut_wanted and run.w.pending_events == 4
        run.release()  # a quick write: the expected write drops to about 40 s, not due
        assert await _until(lambda: len(run.stream.acked) >= 8)
        assert policy.write_s < 45.0
        assert await _until(lambda: len(run.stream.acked) == 12, timeout_s=20.0)

    _run(clock, worker, body)
    assert _stored(worker) == 12


def test_a_failed_write_acknowledges_nothing_and_arms_no_cut(
    clock: _Clock, worker: StreamWorker, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A write that fails stops the worker (``crash``): none of its events is acknowledged
    (they are replayed), and no further cut is made behind it."""

    def refuse(*_: Any, **__: Any) -> Any:
        raise RuntimeError("disk gone")

    async def body(run: _Run) -> None:
        warm, first, second = _takes(3)
        await run.busy_write(clock, warm, first)
        monkeypatch.setattr(run.w.store, "write", refuse)
        await run.take(second)
        run.release()
        assert await _until(lambda: bool(run.crashes))
        await asyncio.gather(run.loop.written(), return_exceptions=True)
        assert run.loop.schedule.armed_in() is None
        await clock.advance(BUDGET_S * 2)
        await asyncio.sleep(0.2)

    run = _run(clock, worker, body)
    assert len(run.stream.acked) == 4 and len(run.crashes) == 1  # the first take's only
    assert "disk gone" in str(run.crashes[0])
