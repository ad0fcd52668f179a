"""What a streaming worker does with Kafka events, independent of Faust.

The Faust agents (:mod:`streams.runners.faust_app`) only move bytes between Kafka and this
class; everything here is plain, blocking code that the agents run off the event loop.

Batches across takes: :meth:`StreamWorker.process` cuts the events of each take (a micro-batch
off Kafka, across the partitions the worker owns) into model batches with a
:class:`~streams.runners.batch_assembler.BatchAssembler`: full batches run at once, a short
tail waits up to ``inference.max_batch_wait_ms`` for the events of the next takes (other
cameras, other partitions) and :meth:`StreamWorker.run_due` runs it once that time is up.
Events held there are not processed, so not acknowledged: :meth:`StreamWorker.held_events`.

Takes in pieces: a long take (a slow model, a take that gathered while the worker was busy)
may stop between two model batches once its oldest rows are due for their flush (the caller's
``until``); the caller cuts and writes those rows, then :meth:`StreamWorker.resume` runs the
rest, whose events count as held until they run. The batches described ahead keep decoding
and running the model meanwhile.

Three threads per model batch: decoding (decode thread), the model (model thread:
:meth:`~streams.describe.FrameDescriber.describe` keeps no state) and image statistics, camera
health, slicing, drift and rows (the caller's thread, the only one that touches partition
states and pending rows), overlapped over consecutive model batches, each stage in order.

Write-behind: :meth:`StreamWorker.process` runs model batches through the pipeline and hands
their rows, grouped by event, to the worker's :class:`~streams.runners.checkpoint.Checkpoint`
(the same one ``linewatch run`` uses). :meth:`StreamWorker.cut` takes what is pending once
:meth:`StreamWorker.flush_due` says so, :meth:`StreamWorker.write_flush` writes it (rows first,
snapshots last) and returns the acknowledgements the caller may now give;
:meth:`StreamWorker.flush` is the two in one call. The cut runs on the thread that runs
:meth:`~StreamWorker.process`; the write may run on another (the Faust app keeps at most one
write in flight, and writes in cut order).
"""

from __future__ import annotations

import logging
import operator as op
import time
from collections import deque
from collections.abc import Callable, Hashable, Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from schemas.records import DeadLetterRecord
from streams.config import Settings
from streams.describe import DescribedFrame
from streams.drift.partition_state import PartitionState
from streams.ingest import RawRecord
from streams.pipeline import MonitoringPipeline, PipelineOutput, PreparedBatch
from streams.readiness.stream_audits import StreamAudits
from streams.runners.batch_assembler import BatchAssembler, BatchSizer, frames_per_run
from streams.runners.checkpoint import Checkpoint
from streams.runners.latency_trace import LatencyTrace
from streams.runners.partitions import PartitionStates
from streams.runners.runtime import build_runtime
from streams.runners.warm_up import warm_inserts
from streams.runners.write_behind import EventRows, FlushResult, PendingFlush
from streams.sinks import ClickHouseStore

__all__ = ["KafkaRecord", "StreamWorker"]

log = logging.getLogger(__name__)

Described = tuple[PreparedBatch, list[DescribedFrame]]
"""A model batch decoded and described (its model outputs): no state touched."""

_LOOKAHEAD = 3
"""Model batches in flight: the one whose state runs, the next on the model thread, the one
after that on the decode thread (so the model never waits for a decode)."""


@dataclass(frozen=True, slots=True)
class KafkaRecord:
    """A raw record with the partition and offset it was read from.

    ``produced_at`` is the Kafka record timestamp (epoch seconds) when the broker gives one.
    """

    raw: RawRecord
    partition: int
    offset: int
    produced_at: float | None = None


class StreamWorker:
    """Runs events from ``camera-events`` and ``labels`` into the store, durably."""

    def __init__(
        self,
        settings: Settings,
        pipeline: MonitoringPipeline,
        store: ClickHouseStore,
        partitions: PartitionStates,
        *,
        sleep: Callable[[float], object] = time.sleep,
        max_backoff_s: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings
        self.pipeline = pipeline
        self.store = store
        self.checkpoint = Checkpoint(
            store,
            settings.checkpoint,
            partitions=partitions,
            dead_letter_max_payload_bytes=settings.ingest.dead_letter_max_payload_bytes,
            sleep=sleep,
            clock=clock,
            max_backoff_s=max_backoff_s,
        )
        self.partitions = partitions
        self._decoder = ThreadPoolExecutor(max_workers=1, thread_name_prefix="linewatch-decode")
        self._model = ThreadPoolExecutor(max_workers=1, thread_name_prefix="linewatch-model")
        """Runs the stateless describe step (the model) of each model batch, in submission
        order, while this thread runs the drift state of the batch before."""
        self._ahead: dict[tuple[int, int], tuple[list[RawRecord], Future[Described]]] = {}
        """First chunks described ahead by :meth:`prefetch`, by their first (partition, offset)."""
        static, wait_s = (
            pipeline.detector.max_batch_size,
            settings.inference.max_batch_wait_ms / 1e3,
        )
        self.sizer = BatchSizer(
            frames_per_run(settings.inference.batch_frames, static), static, wait_s
        )
        """Bounds a model batch by the model's measured cost: it runs within the wait
        (:class:`~streams.runners.batch_assembler.BatchSizer`)."""
        self._assembler = BatchAssembler[KafkaRecord](self.sizer.size, wait_s, clock=clock)
        self._clock = clock
        self._ready: deque[list[KafkaRecord]] = deque()
        """Model batches released by the assembler and not run yet, oldest first: a take
        whose oldest rows came due for their flush stops between two (:meth:`resume`)."""
        self._ready_since: float | None = None
        """When the oldest of them was released (clock time)."""
        self._queued: deque[Future[Described]] = deque()
        """The first model batches of ``_ready``, decoding or described ahead, in order."""
        self.runs: deque[int] = deque(maxlen=4096)
        """Events per model batch, of the latest runs (for the bench and the tests)."""
        self.audits: StreamAudits | None = None
        """Chooses units to review as they are processed (``worker.audit_budget``): their
        ``audit_units`` rows join their event's rows, and the flush's requests are published."""
        self.trace: LatencyTrace | None = None
        """Per-event stage times (``worker.latency_trace``), set with :meth:`traced`."""

    @classmethod
    def create(cls, settings: Settings) -> StreamWorker:
        """Load the detector and reference, open the store and apply the schema
        (:func:`~streams.runners.runtime.build_runtime`)."""
        runtime = build_runtime(settings)
        partitions = PartitionStates(
            runtime.store,
            runtime.reference,
            settings,
            settings.worker.app_id,
            settings.kafka.topic_events,
        )
        worker = cls(settings, runtime.pipeline, runtime.store, partitions)
        warm_inserts(runtime.store)  # with the rest of the worker, before it asks the broker
        if settings.worker.latency_trace is not None:
            worker.traced(LatencyTrace(Path(settings.worker.latency_trace)))
        if settings.worker.audit_budget is not None:
            lock = worker.checkpoint.store_lock
            worker.audits = StreamAudits(runtime.store, settings, lock=lock)
        return worker

    def traced(self, trace: LatencyTrace) -> None:
        """Stamp each event's stages on ``trace`` (:mod:`~streams.runners.latency_trace`)."""
        self.trace = self.checkpoint.trace = trace

    # --- events: process, then flush --------------------------------------------------------

    def prefetch(self, batch: Sequence[KafkaRecord]) -> None:
        """Start decoding and describing the first chunk of a micro-batch that :meth:`process`
        gets next.

        Callable from any thread (e.g. the event loop, while the previous micro-batch is
        processed); :meth:`process` uses the result if its first chunk is the same records.
        """
        if self.trace is not None:
            self.trace.stamp((r.raw.source for r in batch), "taken")
        step = self.sizer.size
        if len(batch) < step or self._assembler.held:
            return  # its first model batch starts with held events or waits for more
        if len(self._ready) > len(self._queued):
            return  # older batches of the take being run still wait for the model: first
        if len(self._ahead) > 4:  # decoded for micro-batches never processed (a rebalance)
            self._ahead.clear()
        chunk = [r.raw for r in batch[:step]]
        key = (batch[0].partition, batch[0].offset)
        self._ahead[key] = (chunk, self._describe_later(chunk))

    def process(
        self, batch: Sequence[KafkaRecord], until: Callable[[], bool] | None = None
    ) -> PipelineOutput:
        """Run the full model batches of a take through the pipeline; keep their rows pending
        (nothing written) and hold a short tail for the next takes (see the module docstring).

        ``until`` (e.g. :meth:`flush_due`) is asked after each model batch: once it says yes,
        the take stops there, so that the caller can cut the rows of its oldest events before
        their budget is spent; :meth:`resume` runs the rest (:attr:`pieces_left` batches).
        Events already covered by a restored snapshot are skipped (they are stored).
        """
        if batch:  # the flush age counts from arrival, held or not
            self.checkpoint.taken()
        if self.trace is not None:
            self.trace.produced((r.raw.source, r.produced_at) for r in batch)
            self.trace.stamp((r.raw.source for r in batch), "processing")
        fresh = [r for r in batch if not self.checkpoint.already_stored(r.partition, r.offset)]
        self.checkpoint.add((), len(batch) - len(fresh))
        ahead = self._ahead.get((fresh[0].partition, fresh[0].offset)) if fresh else None
        # the size the model's cost allows now, or the one its first batch was described at
        self._assembler.size = self.sizer.size if ahead is None else len(ahead[0])
        self._release(self._assembler.add(fresh))
        return self._run(until)

    def resume(self, until: Callable[[], bool] | None = None) -> PipelineOutput:
        """Run the model batches a take left when ``until`` stopped it (see :meth:`process`)."""
        return self._run(until)

    @property
    def pieces_left(self) -> int:
        """Model batches of a take stopped by its ``until`` that wait for :meth:`resume`."""
        return len(self._ready)

    def rest_s(self) -> float:
        """Seconds of model the rest of the take needs, at its measured cost per frame (0
        before a measure): a cut before it pays only when the rest is long."""
        per_frame_s = self.sizer.per_frame_s or 0.0
        return per_frame_s * sum(map(len, self._ready))

    def run_due(self) -> PipelineOutput:
        """Run the held events if the oldest has waited ``inference.max_batch_wait_ms``."""
        self._release([self._assembler.take_due()])
        return self._run()

    def drain(self) -> PipelineOutput:
        """Run every held event now (before a flush that must cover them all)."""
        self._release([self._assembler.drain()])
        return self._run()

    @property
    def holding(self) -> int:
        """How many events wait for a later model batch (a cheap check for the timer)."""
        return len(self._assembler)

    def held_events(self) -> set[tuple[int, int]]:
        """(partition, offset) of the events not processed yet (held for a later model batch,
        or in a model batch a take left for :meth:`resume`): not to be acknowledged. Call it
        on the thread that runs :meth:`process`."""
        held = {(r.partition, r.offset) for r in self._assembler.held}
        return held.union(*([(r.partition, r.offset) for r in c] for c in self._ready))

    def _describe_later(self, chunk: list[RawRecord]) -> Future[Described]:
        """Decode ``chunk`` (decode thread), then describe it (model thread): both stateless."""
        decoding = self._decoder.submit(self._prepare, chunk)
        return self._model.submit(self._describe, decoding, chunk)

    def _prepare(self, chunk: list[RawRecord]) -> PreparedBatch:
        if self.trace is not None:
            self.trace.stamp((r.source for r in chunk), "decode_start")
        prepared = self.pipeline.prepare(chunk)
        if self.trace is not None:
            self.trace.stamp((r.source for r in chunk), "decoded")
        return prepared

    def _describe(self, decoding: Future[PreparedBatch], chunk: list[RawRecord]) -> Described:
        prepared = decoding.result()
        if self.trace is not None:
            self.trace.stamp((r.source for r in chunk), "model_start")
        start = time.perf_counter()
        described = self.pipeline.describer.describe(prepared.accepted)
        self.sizer.observe(len(prepared.accepted), time.perf_counter() - start)
        if self.trace is not None:
            self.trace.stamp((r.source for r in chunk), "modelled")
        return prepared, described

    def _release(self, chunks: list[list[KafkaRecord]]) -> None:
        """Queue model batches to run, in order (after those a stopped take left)."""
        chunks = [c for c in chunks if c]
        if not chunks:
            return
        if self.trace is not None:
            self.trace.stamp((r.raw.source for c in chunks for r in c), "batched")
        if not self._ready:
            self._ready_since = self._clock()
        self._ready.extend(chunks)

    def _describe_ahead(self) -> None:
        """Keep the next model batches decoding and described ahead (at most ``_LOOKAHEAD``);
        one :meth:`prefetch` described while the previous take ran is used as is."""
        while len(self._queued) < min(_LOOKAHEAD, len(self._ready)):
            first = [r.raw for r in self._ready[len(self._queued)]]
            head = self._ready[len(self._queued)][0]
            ahead = self._ahead.pop((head.partition, head.offset), None)
            if (
                ahead is not None
                and len(ahead[0]) == len(first)
                and all(map(op.is_, ahead[0], first))
            ):
                self._queued.append(ahead[1])  # described while the previous take ran
            else:
                self._queued.append(self._describe_later(first))

    def _state_in(self, owner: dict[str, int], raw: RawRecord) -> PartitionState:
        """The state of the partition ``raw`` came from (``owner``: source -> partition)."""
        return self.checkpoint.state(owner[raw.source])

    def _run(self, until: Callable[[], bool] | None = None) -> PipelineOutput:
        """Run the queued model batches through the pipeline, in order; keep their rows
        pending. ``until``: asked after each batch; yes stops there (see :meth:`process`)."""
        # Three stages overlap, each on its own thread and in order: decoding batch n+2 (decode
        # thread), the model of batch n+1 (model thread; onnxruntime releases the GIL) and
        # image statistics, camera health, slicing, drift and rows of batch n (this thread,
        # which alone touches the partition states and the pending rows, in offset order).
        # Batches described ahead go on while the caller cuts and writes the rows of a
        # stopped take's first batches.
        out = PipelineOutput()
        while self._ready:
            self._describe_ahead()
            chunk = self._ready.popleft()
            prepared, described = self._queued.popleft().result()
            if self.trace is not None:
                self.trace.stamp((r.raw.source for r in chunk), "state_start")
            owner = {r.raw.source: r.partition for r in chunk}
            part = self.pipeline.complete(
                prepared, state_of=partial(self._state_in, owner), described=described
            )
            self.runs.append(len(chunk))
            groups = EventRows.of(part, {id(r.raw): r.produced_at for r in chunk})
            if self.audits is not None:
                self.audits.add_units(g.records for g in groups)
            self.checkpoint.add(groups, len(chunk), ((r.partition, r.offset) for r in chunk))
            if self.trace is not None:
                self.trace.stamp((r.raw.source for r in chunk), "stated")
            out.extend(part)
            if until is not None and self._ready and until():
                break
        if not self._ready:
            self._ready_since = None
        return out

    @property
    def pending_rows(self) -> int:
        """Rows processed but not yet flushed."""
        return self.checkpoint.pending_rows

    @property
    def pending_events(self) -> int:
        """Events run (or skipped as replays) since the last cut; held events are not."""
        return self.checkpoint.pending_events

    def flush_due(self) -> bool:
        """Whether a flush trigger fired (:meth:`Checkpoint.due`)."""
        return self.checkpoint.due()

    def track(self, acks: Iterable[tuple[Hashable, Any]]) -> None:
        """Acknowledgements ((partition, offset), token) that a later cut hands back, in order,
        once the events are written (:attr:`FlushResult.acks`)."""
        self.checkpoint.track(acks)

    def flush(self) -> FlushResult:
        """Run the held events, write every pending row, then a snapshot of every partition
        changed since the last one: :meth:`drain`, :meth:`cut` and :meth:`write_flush`."""
        self.drain()
        return self.write_flush(self.cut(snapshot=True))

    def cut(self, *, snapshot: bool = False) -> PendingFlush:
        """Take every pending row, and the partitions' snapshots when due or ``snapshot``
        (:meth:`Checkpoint.cut`).

        Call it on the thread that runs :meth:`process`. Held events stay held (they touched
        no state yet; see :meth:`held_events`), and so do their acknowledgements.
        """
        since = [t for t in (self._assembler.since, self._ready_since) if t is not None]
        return self.checkpoint.cut(self.held_events(), min(since, default=None), snapshot=snapshot)

    def write_flush(self, pending: PendingFlush) -> FlushResult:
        """Write a cut (:meth:`Checkpoint.write`): one at a time, in cut order."""
        return self.checkpoint.write(pending)

    def handle_labels(self, batch: Sequence[RawRecord]) -> tuple[int, list[DeadLetterRecord]]:
        """Store ground-truth messages; returns how many were stored and the dead letters
        (:meth:`Checkpoint.write_labels`)."""
        return self.checkpoint.write_labels(batch, self.pipeline.limits)

    def revoke(self, partitions: set[int]) -> None:
        """Forget the state of partitions this worker no longer owns.

        Call :meth:`flush` first: held events and pending rows of those partitions are run and
        written by it.
        """
        self.checkpoint.revoke(partitions)

    def close(self) -> None:
        """Release the decode and model threads and the store."""
        self._decoder.shutdown(wait=True)
        self._model.shutdown(wait=True)
        self.store.close()
