"""The asyncio side of the Kafka worker: what the Faust agents, timers and signals call.

:func:`~streams.runners.faust_app.create_app` only wires Faust to a :class:`WorkerLoop`; the
loop holds the worker's state between calls (the :class:`StreamWorker`, the queue between the
agent and the processor, the write in flight, readiness) and knows nothing of Faust beyond the
events' ``stream.ack`` and the topics' ``send``.

Three stages overlap, each in order: the agent takes micro-batches off Kafka (event loop), the
processor runs them through the pipeline (``executor``) and cuts flushes, and the flusher
writes a cut to the store (``flusher``, one write at a time) while the next micro-batches are
processed. Bounded: one batch queued, one being processed, at most one write in flight and
``checkpoint.flush_rows`` rows pending behind it; a cut's events are acknowledged only after
its rows are stored (:class:`~streams.runners.checkpoint.Checkpoint` hands them back).

A budget cut due while a write is in flight does not wait for it (``cut_wanted``): it is made
when the write ends, by the write's wake-up or by the processor at its next model batch. Past
``checkpoint.flush_rows`` pending rows (a store that does not answer), and for a cut that must
cover everything (revocation, stop, a drained backlog), it waits (docs/streaming.md).

Pending rows never wait for a next event or a timer tick: whenever the processor lock is let go
or a write ends, one wake-up is armed for when what pends comes due
(:mod:`streams.runners.cut_schedule`); the worker's flush timer is a backstop.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from schemas.records import DeadLetterRecord, DriftEventRecord
from streams.config import Settings
from streams.kafka.backlog import Backlog
from streams.kafka.startup import STARTUP
from streams.readiness.audit_stream import AuditRequest, audit_requests
from streams.runners.cut_schedule import CutSchedule
from streams.runners.metrics import WorkerMetrics
from streams.runners.stream_worker import KafkaRecord, StreamWorker
from streams.runners.write_behind import FlushResult, PendingFlush
from streams.sinks.dsn import mask_dsn

__all__ = ["AuditPublisher", "Batch", "Publisher", "WorkerLoop"]

log = logging.getLogger(__name__)

Batch = tuple[Any, list[Any], list[KafkaRecord]]
"""(Faust stream, its events, their records) of one take."""

Publisher = Callable[[list[DeadLetterRecord], list[DriftEventRecord]], Awaitable[None]]
"""Sends a flush's dead letters and drift events to their topics."""

AuditPublisher = Callable[[list[AuditRequest]], Awaitable[None]]
"""Sends a flush's audit requests to ``audit-requests``."""

Committer = Callable[[], Awaitable[object] | None]
"""Starts a commit of the acknowledged offsets (None: nothing to commit now, e.g. rebalancing)."""


class WorkerLoop:
    """The worker's state between Faust's calls, and the coroutines they run."""

    def __init__(
        self,
        settings: Settings,
        publish: Publisher,
        crash: Callable[[BaseException], Awaitable[None]],
        stream_worker: StreamWorker | None = None,
        *,
        backlog: Backlog | None = None,
        commit: Committer | None = None,
        publish_audits: AuditPublisher | None = None,
    ) -> None:
        self.settings = settings
        self.publish = publish
        self.publish_audits = publish_audits
        self.crash = crash
        self.backlog = backlog
        """Events waiting in Kafka past the last take (a worker behind flushes in large cuts)."""
        self.commit = commit
        self._commits: set[asyncio.Future[object]] = set()
        """Commits started after a write, until done."""
        self._tasks: set[asyncio.Future[None]] = set()
        """Cuts started by the wake-up (:meth:`_arm`), until done."""
        self.metrics = WorkerMetrics()
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="linewatch-worker")
        self.flusher = ThreadPoolExecutor(max_workers=1, thread_name_prefix="linewatch-flush")
        self.batches: asyncio.Queue[Batch] = asyncio.Queue(maxsize=1)
        self.process_lock = asyncio.Lock()
        """Held while a batch is processed or a flush is cut."""
        self.ready = asyncio.Event()
        """The model, reference and store are loaded."""
        self.joined = asyncio.Event()
        """The consumer finished its first rebalance (even with 0 partitions)."""
        self.broker_up = True
        self.stopping = False
        self.writing: asyncio.Task[None] | None = None
        """The newest write and its acknowledgements."""
        self.schedule = CutSchedule(settings.checkpoint, backlog)
        """When a cut is due, and the wake-up for then (:meth:`_arm`)."""
        self.cut_wanted = False
        """A budget cut came due while a write was in flight: made as soon as it ends."""
        self.was_behind = False
        """A take found more than a take's worth of events waiting, and no drained cut since."""
        self._creating = asyncio.Lock()
        self.loaded: StreamWorker | None = stream_worker
        if stream_worker is not None:
            self._ready()

    def _ready(self) -> None:
        self.ready.set()
        dsn = mask_dsn(self.settings.store.dsn)
        log.info("linewatch worker ready: model, reference and store %s", dsn)

    async def worker(self) -> StreamWorker:
        """The stream worker, loaded once (both agents and the start-up task ask for it)."""
        async with self._creating:
            if self.loaded is None:
                loop = asyncio.get_running_loop()
                create = StreamWorker.create
                self.loaded = await loop.run_in_executor(self.executor, create, self.settings)
                self._ready()
        return self.loaded

    async def _in_executor(self, fn: Callable[..., Any], *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self.executor, fn, *args)

    # --- flushes ------------------------------------------------------------------------

    async def write_and_ack(self, w: StreamWorker, pending: PendingFlush) -> None:
        """Write a cut (flusher thread), publish, then acknowledge its events."""
        try:
            loop = asyncio.get_running_loop()
            result: FlushResult = await loop.run_in_executor(self.flusher, w.write_flush, pending)
            self.metrics.flushed(result)
            log.debug(
                "flushed %d events, %d rows in %.3fs", result.events, result.rows, result.seconds
            )
            await self.publish(result.dead_letters, result.drift_events)
            if self.publish_audits is not None:  # units chosen for review, once stored
                await self.publish_audits(audit_requests(g.records for g in pending.groups))
            if result.drift_events:
                log.info("%d drift event(s) in this flush", len(result.drift_events))
            for stream, event in result.acks:  # (stream, event), as `process_batches` tracked
                await stream.ack(event)
            if result.acks:
                self._commit_now()
        except asyncio.CancelledError:
            raise
        except BaseException as exc:  # nothing acknowledged: the events are replayed
            log.exception("a flush failed; stopping the worker (its events will be replayed)")
            await self.crash(exc)
            raise

    def _commit_now(self) -> None:
        """Commit the acknowledged offsets now, not at the next commit tick, as a task of its
        own (the next cut does not wait for the group coordinator)."""
        started = self.commit() if self.commit is not None and not self.stopping else None
        if started is not None:
            commit = asyncio.ensure_future(started)
            self._commits.add(commit)
            commit.add_done_callback(self._commits.discard)

    def _later(self, coro: Awaitable[None]) -> None:
        """Run ``coro`` as a task of its own (kept until done)."""
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _arm(self, w: StreamWorker) -> None:
        """(Re)arm the one wake-up: :meth:`flush_when_due` once what pends comes due (none
        when nothing pends, the worker stops or a write failed: it crashes, its events are
        replayed). Called whenever the processor lock is let go or a write ends, so pending
        rows never wait for a next event or a timer tick."""
        last = self.writing
        failed = last is not None and last.done() and (last.cancelled() or bool(last.exception()))
        wait_s = None if self.stopping or failed else self.schedule.due_in(w.checkpoint)
        self.schedule.arm(wait_s, lambda: self._later(self.flush_when_due()))

    def _due(self, w: StreamWorker, otherwise: bool) -> bool:
        """``otherwise`` (the checkpoint's triggers), or the larger cadence while behind."""
        return self.schedule.due(w.checkpoint, otherwise)

    async def written(self) -> None:
        """Wait until the write in flight (if any) is stored and acknowledged."""
        if self.writing is not None:
            await asyncio.shield(self.writing)

    def _room(self, w: StreamWorker) -> bool:
        """Fewer than ``checkpoint.flush_rows`` rows pend: the processor may go on while a
        write is in flight; past that a due cut waits for it (a store that does not answer
        stops the processor, the queue fills and the agent stops taking: bounded memory)."""
        return w.pending_rows < self.settings.checkpoint.flush_rows

    def write_in_flight(self) -> bool:
        """A write was started and has not ended (its acknowledgements included)."""
        return self.writing is not None and not self.writing.done()

    async def start_flush(self, w: StreamWorker, *, snapshot: bool = False) -> None:
        """Cut what is pending and start writing it (hold ``process_lock``); ``snapshot``:
        with the partitions' snapshots, so that every written event is acknowledged, after
        the write in flight. Without ``snapshot``, a write in flight defers the cut to its
        end (:attr:`cut_wanted`; see the module docstring) instead of waiting for it."""
        if not snapshot and self.write_in_flight() and self._room(w):
            self.cut_wanted = True
            return
        await self.written()  # one write in flight at most, in cut order
        if not (w.pending_events or snapshot or w.flush_due()):
            return
        self.cut_wanted = False
        self.schedule.cut_at = asyncio.get_running_loop().time()
        # events the batch assembler holds are not processed yet: acknowledged by a later cut
        pending = await self._in_executor(lambda: w.cut(snapshot=snapshot))
        self.writing = asyncio.ensure_future(self.write_and_ack(w, pending))
        # the write ended: wake up when what pends comes due (at once for a cut that waited)
        self.writing.add_done_callback(lambda _task: self._arm(w))

    def idle(self) -> bool:
        """The worker caught up: no batch waits to be processed, no write is in flight, and
        the last cut is at least half a flush interval old (bounds the insert rate of a
        worker kept just busy by a trickle of events to two flushes per interval)."""
        min_gap_s = self.settings.checkpoint.flush_interval_s / 2
        return (
            self.batches.empty()
            and (self.writing is None or self.writing.done())
            and self.schedule.since_cut_s() >= min_gap_s
        )

    async def flush_all(self, w: StreamWorker) -> None:
        """Run held events, write and acknowledge everything pending (hold process_lock)."""
        self.metrics.processed(await self._in_executor(w.drain))
        await self.start_flush(w, snapshot=True)
        await self.written()

    # --- the agent, the processor and the timers ----------------------------------------

    async def take(self, stream: Any, events: list[Any], batch: list[KafkaRecord]) -> None:
        """The agent's part: queue a take (waits while the processor is behind)."""
        w = await self.worker()
        self.metrics.consumed(len(events))
        STARTUP.consumed()  # logs the start-up time once
        if self.backlog is not None:
            topic = self.settings.kafka.topic_events
            self.backlog.taken((topic, r.partition, r.offset) for r in batch)
            if len(events) >= self.settings.worker.take_max_events and self.backlog.behind():
                self.was_behind = True
        w.prefetch(batch)  # its first chunk decodes while the processor is busy
        await self.batches.put((stream, events, batch))

    async def process_batches(self, owned: Callable[[], set[int] | None]) -> None:
        """Run queued micro-batches through the pipeline in order; cut flushes when due.

        ``owned``: the partitions of ``camera-events`` assigned now (None: unknown).
        """
        w = await self.worker()
        while True:
            stream, events, batch = await self.batches.get()
            async with self.process_lock:
                if self.stopping:
                    continue  # not acknowledged: replayed after the restart
                mine = owned()
                if mine is not None and any(r.partition not in mine for r in batch):
                    # events of a partition revoked meanwhile: not ours (not acknowledged)
                    events = [e for e in events if int(e.message.partition) in mine]
                    batch = [r for r in batch if r.partition in mine]
                out = await self._in_executor(w.process, batch, self._until(w))
                w.track((_key(e), (stream, e)) for e in events)
                self.metrics.processed(out)
                while w.pieces_left:  # the oldest rows came due: cut them, run the rest
                    if self._due(w, w.flush_due()):
                        await self.start_flush(w)
                    self.metrics.processed(await self._in_executor(w.resume, self._until(w)))
                partial = len(events) < self.settings.worker.take_max_events
                if partial and self._drained():  # the backlog is gone: lag 0 now
                    self.metrics.processed(await self._in_executor(w.drain))
                    await self.start_flush(w, snapshot=True)
                # caught up (a partial take, nothing queued): flush now, not on the timer
                elif self._due(w, w.flush_due() or (partial and self.idle())):
                    await self.start_flush(w)
            self._arm(w)  # what is left pending is cut when due, with or without a next take

    def _until(self, w: StreamWorker) -> Callable[[], bool] | None:
        """Where a take may stop between model batches for a cut: once the oldest rows'
        budget is due (:meth:`StreamWorker.flush_due`), no write is in flight (the cut would
        wait for it, and the take with it) and either a cut already waited for the write
        that just ended (:attr:`cut_wanted`: its rows are late) or the rest of the take needs
        at least half a budget of model (budget cuts are that far apart, so a cut before a
        short rest would delay the rest); never while behind in Kafka (its rows are late
        anyway)."""
        if self.backlog is not None and self.backlog.behind():
            return None
        half_s = self.settings.checkpoint.flush_interval_s / 2

        def until() -> bool:  # on the processor thread: reads the write task's state only
            if self.write_in_flight():
                return False
            return (self.cut_wanted or w.rest_s() >= half_s) and w.flush_due()

        return until

    def drained_with(self, received: Sequence[Any]) -> bool:
        """Whether the worker was behind (a backlog) and nothing is left in its partitions past
        the events taken and ``received`` (Faust events not taken yet): the take of
        ``received`` need not wait out ``worker.take_window_s``, which would only delay the
        drained backlog's last rows and its commit (:func:`streams.kafka.take.take`)."""
        if not self.was_behind or self.backlog is None:
            return False
        topic = self.settings.kafka.topic_events
        return self.backlog.left_after((topic, *_key(e)) for e in received) == 0

    def _drained(self) -> bool:
        """The worker was behind and nothing waits in its partitions any more (nothing queued
        either): run the held events and write everything with a snapshot now, so that its
        events are acknowledged and committed at once instead of after a quiet spell."""
        if not self.was_behind or self.backlog is None or not self.batches.empty():
            return False
        if self.backlog.waiting():
            return False
        self.was_behind = False
        return True

    async def flush_when_due(self) -> None:
        """The time trigger (the wake-up of :meth:`_arm`, and the worker's timer): a quiet
        line's pending rows and a quiet worker's acknowledgements (their snapshot) are cut
        when due. A holder of the processor lock, or the write in flight, re-arms it after."""
        w = self.loaded
        if w is None or self.process_lock.locked():
            return
        if self.write_in_flight():  # its end wakes up to make the cut if one is due then
            self.cut_wanted = self.cut_wanted or self._due(w, w.flush_due())
            return
        async with self.process_lock:
            due = w.pending_events or w.flush_due()
            if due and self._due(w, w.flush_due() or self.idle()):
                await self.start_flush(w)
        self._arm(w)

    async def run_due(self) -> None:
        """Run a short model batch once its oldest event waited inference.max_batch_wait_ms."""
        w = self.loaded
        if w is None or not w.holding or self.process_lock.locked():
            return
        async with self.process_lock:
            if not self.stopping:
                self.metrics.processed(await self._in_executor(w.run_due))
        self._arm(w)

    async def labels(self, raws: list[Any]) -> None:
        """Store a take of ground-truth messages; count their dead letters."""
        w = await self.worker()
        _, bad = await self._in_executor(w.handle_labels, raws)
        for letter in bad:
            self.metrics.dead_letters.labels(reason=letter.reason).inc()

    # --- rebalances and stopping --------------------------------------------------------

    async def revoked(self, partitions: set[int]) -> None:
        """Rows of the revoked partitions are pending: write them, then forget the states."""
        w = self.loaded
        if w is None:
            return
        async with self.process_lock:
            await self.flush_all(w)
            await self._in_executor(w.revoke, partitions)
        self._arm(w)

    async def shutdown(self) -> None:
        """SIGTERM: the fetcher has stopped; write and acknowledge what is pending, so the
        consumer commits it when it stops (queued batches are dropped, unacknowledged)."""
        w = self.loaded
        if w is None:
            return
        async with self.process_lock:
            self.stopping = True
            self._arm(w)  # disarmed
            await self.flush_all(w)
        log.info("stopping: pending rows written and acknowledged")

    def readiness(self, rebalancing: bool) -> dict[str, bool]:
        """What ``/readyz`` answers; ``ready`` says all is well."""
        joined = self.joined.is_set()
        ok = self.ready.is_set() and joined and not rebalancing and self.broker_up
        return {
            "ready": ok,
            "worker_loaded": self.ready.is_set(),
            "joined": joined,
            "rebalancing": rebalancing,
            "broker_reachable": self.broker_up,
        }


def _key(event: Any) -> tuple[int, int]:
    """(partition, offset) of a Faust event."""
    return int(event.message.partition), int(event.message.offset)
