"""What a streaming worker does with Kafka events, independent of Faust.

The Faust agents (:mod:`streams.runners.faust_app`) only move bytes between Kafka and this
class; everything here is plain, blocking code that the agents run off the event loop.

Batches across takes: :meth:`StreamWorker.process` cuts the events of each take (a micro-batch
off Kafka, across the partitions the worker owns) into model batches with a
:class:`~streams.runners.batch_assembler.BatchAssembler`: full batches run at once, a short
tail waits up to ``inference.max_batch_wait_ms`` for the events of the next takes (other
cameras, other partitions) and :meth:`StreamWorker.run_due` runs it once that time is up.
Events held there are not processed: :meth:`StreamWorker.held_events` names them, so that the
caller does not acknowledge them yet.

Write-behind: :meth:`StreamWorker.process` runs model batches through the pipeline and keeps
their rows pending. Once :meth:`StreamWorker.flush_due` says so (``worker.flush_rows`` rows or
``worker.flush_interval_s`` seconds), :meth:`StreamWorker.cut` takes every pending row and the
snapshot of each partition's state involved (the state right after those rows), and
:meth:`StreamWorker.write_flush` writes them: rows first, snapshots last.
:meth:`StreamWorker.flush` is the two in one call.

The cut runs on the thread that runs :meth:`~StreamWorker.process`; the write may run on another
thread, so that the next micro-batches are processed while a flush waits for the store (the
Faust app keeps at most one write in flight, and writes in cut order). Every store call holds
one lock: a store client is used by one thread at a time. The caller acknowledges the events to
Kafka only after the write that holds their rows returned.
"""

from __future__ import annotations

import logging
import operator as op
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime

from schemas.records import (
    DeadLetterRecord,
    DriftEventRecord,
    FrameRecord,
    LabelRecord,
    MonitorSnapshotRecord,
    StoreRecord,
)
from streams.config import Settings
from streams.errors import StoreError, StoreUnavailable
from streams.inference import Detector
from streams.ingest import RawRecord
from streams.pipeline import MonitoringPipeline, PipelineOutput, PreparedBatch
from streams.readiness.labels import read_labels
from streams.runners.batch_assembler import BatchAssembler, frames_per_run
from streams.runners.partitions import PartitionStates
from streams.runners.reference import load_reference
from streams.runners.write_behind import (
    EventRows,
    bisect_write,
    group_by_event,
    rejected_letter,
)
from streams.sinks import ClickHouseStore, retry

__all__ = ["FlushResult", "KafkaRecord", "PendingFlush", "StreamWorker"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class KafkaRecord:
    """A raw record with the partition and offset it was read from.

    ``produced_at`` is the Kafka record timestamp (epoch seconds) when the broker gives one.
    """

    raw: RawRecord
    partition: int
    offset: int
    produced_at: float | None = None


@dataclass
class FlushResult:
    """What one flush wrote, for publishing (dead letters, drift events) and metrics."""

    events: int = 0
    rows: int = 0
    frames: int = 0
    dead_letters: list[DeadLetterRecord] = field(default_factory=list)
    drift_events: list[DriftEventRecord] = field(default_factory=list)
    end_to_end_s: list[float] = field(default_factory=list)
    """Per stored frame: seconds from its Kafka timestamp to the end of the flush."""
    seconds: float = 0.0


@dataclass
class PendingFlush:
    """Rows and partition snapshots cut from the pending state, for :meth:`write_flush`.

    ``events`` counts the events run through the pipeline since the previous cut (skipped
    replays included; events the batch assembler holds are not); ``offsets`` the highest offset
    of each partition involved.
    """

    groups: list[EventRows] = field(default_factory=list)
    offsets: dict[int, int] = field(default_factory=dict)
    snapshots: list[MonitorSnapshotRecord] = field(default_factory=list)
    events: int = 0


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
        self.partitions = partitions
        self._sleep = sleep
        self._max_backoff_s = max_backoff_s
        self._clock = clock
        self._groups: list[EventRows] = []
        self._rows = 0
        self._events = 0
        self._offsets: dict[int, int] = {}
        self._oldest_at: float | None = None
        self._decoder = ThreadPoolExecutor(max_workers=1, thread_name_prefix="linewatch-decode")
        self._ahead: dict[tuple[int, int], tuple[list[RawRecord], Future[PreparedBatch]]] = {}
        """First chunks decoded ahead by :meth:`prefetch`, by their first (partition, offset)."""
        self._assembler = BatchAssembler[KafkaRecord](
            frames_per_run(settings.inference.batch_frames, pipeline.detector.max_batch_size),
            settings.inference.max_batch_wait_ms / 1000.0,
            clock=clock,
        )
        self.runs: deque[int] = deque(maxlen=4096)
        """Events per model batch, of the latest runs (for the bench and the tests)."""
        self._store_lock = threading.Lock()
        """Held around every store call: processing and a flush write run on two threads."""

    @classmethod
    def create(cls, settings: Settings) -> StreamWorker:
        """Load the detector and reference, open the store and apply the schema."""
        detector = Detector.load(settings.inference.model, settings=settings)
        reference = load_reference(settings)
        store = ClickHouseStore.open(settings.store.dsn, password=settings.store.password)
        try:
            store.apply_schema()
            pipeline = MonitoringPipeline(settings, detector, reference)
            partitions = PartitionStates(
                store, reference, settings, settings.worker.app_id, settings.kafka.topic_events
            )
        except BaseException:
            store.close()
            raise
        return cls(settings, pipeline, store, partitions)

    # --- writing ----------------------------------------------------------------------------

    def write(
        self,
        records: Sequence[StoreRecord],
        *,
        known_new: bool = False,
        attempts: int | None = None,
    ) -> None:
        """Insert rows with :func:`~streams.sinks.retry` back-off.

        A store that cannot be reached (:class:`StoreUnavailable`) is waited for without limit:
        losing events is worse than stalling, and the Kafka consumer stops fetching while this
        call blocks. Other store errors get ``attempts`` tries (``None``: the setting
        ``worker.write_attempts``) and then propagate.
        """
        self._insert_retrying(
            records,
            known_new,
            attempts=attempts or self.settings.worker.write_attempts,
            forever_on=(StoreUnavailable,),
            what=f"store write of {len(records)} rows",
        )

    def _write_forever(self, records: Sequence[StoreRecord], *, known_new: bool = False) -> None:
        """Write rows that must not be dropped (dead letters, snapshots): retry any store error."""
        self._insert_retrying(
            records,
            known_new,
            attempts=None,
            forever_on=(),
            what=f"store write of {len(records)} rows that must not be dropped",
        )

    def _insert_retrying(
        self,
        records: Sequence[StoreRecord],
        known_new: bool,
        *,
        attempts: int | None,
        forever_on: tuple[type[BaseException], ...],
        what: str,
    ) -> None:
        """One insert under the store lock, retried by :func:`~streams.sinks.retry`; after a
        failed try the stored-key lookup is back on (part of the rows may have landed)."""
        state = {"known_new": known_new}

        def attempt() -> int:
            try:
                with self._store_lock:
                    return self.store.insert(records, known_new=state["known_new"])
            except StoreError:
                state["known_new"] = False  # part may have landed: look keys up again
                raise

        retry(
            attempt,
            attempts=attempts,
            max_delay_s=self._max_backoff_s,
            forever_on=forever_on,
            sleep=self._sleep,
            what=what,
        )

    def _write_groups(
        self, groups: Sequence[EventRows], after: Sequence[StoreRecord], *, known_new: bool = False
    ) -> tuple[list[EventRows], list[DeadLetterRecord]]:
        """Write the rows of ``groups``, then ``after`` (rows that must not be dropped).

        If the store keeps rejecting the rows (not: cannot be reached, which is waited for), the
        groups are bisected (:func:`~streams.runners.write_behind.bisect_write`) until the
        refused ones are isolated: those become ``store_rejected`` dead letters with the
        store's message, written with ``after``; everything else is written. Returns the groups
        stored and those dead letters.
        """
        rows = [r for g in groups for r in g.records]
        try:
            self.write([*rows, *after], known_new=known_new)
            return list(groups), []
        except StoreError as exc:
            log.error(
                "the store keeps rejecting a write of %d rows (%s); bisecting it to find the "
                "records it refuses",
                len(rows),
                exc,
            )
        refused = bisect_write(groups, lambda part: self.write(part, attempts=1))
        cap = self.settings.ingest.dead_letter_max_payload_bytes
        letters = [rejected_letter(g, why, cap) for g, why in refused]
        for g, why in refused:
            log.error("dead-lettered %s: the store refused its rows: %s", _name(g), why)
        self._write_forever([*letters, *after])
        refused_ids = {id(g) for g, _ in refused}
        return [g for g in groups if id(g) not in refused_ids], letters

    # --- events: process, then flush --------------------------------------------------------

    def prefetch(self, batch: Sequence[KafkaRecord]) -> None:
        """Start decoding the first chunk of a micro-batch that :meth:`process` gets next.

        Callable from any thread (e.g. the event loop, while the previous micro-batch is
        processed); :meth:`process` uses the result if its first chunk is the same records.
        """
        step = self._assembler.size
        if len(batch) < step or self._assembler.held:
            return  # its first model batch starts with held events or waits for more
        if len(self._ahead) > 4:  # decoded for micro-batches never processed (a rebalance)
            self._ahead.clear()
        chunk = [r.raw for r in batch[:step]]
        key = (batch[0].partition, batch[0].offset)
        self._ahead[key] = (chunk, self._decoder.submit(self.pipeline.prepare, chunk))

    def process(self, batch: Sequence[KafkaRecord]) -> PipelineOutput:
        """Run the full model batches of a take through the pipeline; keep their rows pending
        (nothing written) and hold a short tail for the next takes (see the module docstring).

        Events already covered by a restored snapshot are skipped (they are stored).
        """
        if self._oldest_at is None and batch:  # the flush age counts from arrival, held or not
            self._oldest_at = self._clock()
        with self._store_lock:  # a partition's first event restores its snapshot from the store
            fresh = [r for r in batch if not self.partitions.already_stored(r.partition, r.offset)]
        self._events += len(batch) - len(fresh)
        return self._run(self._assembler.add(fresh))

    def run_due(self) -> PipelineOutput:
        """Run the held events if the oldest has waited ``inference.max_batch_wait_ms``."""
        return self._run([self._assembler.take_due()])

    def drain(self) -> PipelineOutput:
        """Run every held event now (before a flush that must cover them all)."""
        return self._run([self._assembler.drain()])

    @property
    def holding(self) -> int:
        """How many events wait for a later model batch (a cheap check for the timer)."""
        return len(self._assembler)

    def held_events(self) -> set[tuple[int, int]]:
        """(partition, offset) of the events held for a later model batch: not processed, so
        not to be acknowledged. Call it on the thread that runs :meth:`process`."""
        return {(r.partition, r.offset) for r in self._assembler.held}

    def _run(self, chunks: list[list[KafkaRecord]]) -> PipelineOutput:
        """Run model batches through the pipeline, in order; keep their rows pending."""
        chunks = [c for c in chunks if c]
        out = PipelineOutput()
        if not chunks:
            return out
        for chunk in chunks:
            self._events += len(chunk)
            for r in chunk:
                self._offsets[r.partition] = max(self._offsets.get(r.partition, -1), r.offset)
        # As in the embedded runner: the model runs on inference_batch_size frames at a time
        # (one 64-frame call costs ~30 % more per frame than eight 8-frame calls), and decoding
        # chunk n+1 (one helper thread) overlaps inference on chunk n; the model, the partition
        # state and the pending rows stay on this thread, in offset order.
        partition_of = {r.raw.source: r.partition for c in chunks for r in c}
        first = [r.raw for r in chunks[0]]
        ahead = self._ahead.pop((chunks[0][0].partition, chunks[0][0].offset), None)
        if ahead is not None and len(ahead[0]) == len(first) and all(map(op.is_, ahead[0], first)):
            pending = ahead[1]  # decoded while the previous micro-batch was processed
        else:
            pending = self._decoder.submit(self.pipeline.prepare, first)
        for k, chunk in enumerate(chunks):
            prepared = pending.result()
            if k + 1 < len(chunks):
                pending = self._decoder.submit(
                    self.pipeline.prepare, [r.raw for r in chunks[k + 1]]
                )
            part = self.pipeline.complete(
                prepared, state_of=lambda raw: self.partitions.state(partition_of[raw.source])
            )
            self.runs.append(len(chunk))
            groups = group_by_event(part, [r.raw for r in chunk], [r.produced_at for r in chunk])
            self._groups.extend(groups)
            self._rows += sum(len(g.records) for g in groups)
            out.extend(part)
        return out

    @property
    def pending_rows(self) -> int:
        """Rows processed but not yet flushed."""
        return self._rows

    @property
    def pending_events(self) -> int:
        """Events run (or skipped as replays) since the last cut; held events are not."""
        return self._events

    def flush_due(self) -> bool:
        """Whether a trigger fired: enough rows pending, or the oldest pending event is old."""
        if not self._events:
            return False
        if self._rows >= self.settings.worker.flush_rows:
            return True
        assert self._oldest_at is not None
        return self._clock() - self._oldest_at >= self.settings.worker.flush_interval_s

    def flush(self) -> FlushResult:
        """Run the held events, write every pending row, then the snapshots: :meth:`drain`,
        :meth:`cut` and :meth:`write_flush`."""
        self.drain()
        return self.write_flush(self.cut())

    def cut(self) -> PendingFlush:
        """Take every pending row and snapshot the state of the partitions involved.

        Call it on the thread that runs :meth:`process` (it reads the state that
        :meth:`process` changes); the snapshots are the state right after the rows taken.
        Held events stay held (they touched no state yet; see :meth:`held_events`).
        """
        pending = PendingFlush(self._groups, self._offsets, [], self._events)
        self._groups, self._offsets, self._rows, self._events = [], {}, 0, 0
        self._oldest_at = self._assembler.since  # held events keep their age
        if pending.offsets:
            pending.snapshots = self.partitions.snapshots(pending.offsets)
        return pending

    def write_flush(self, pending: PendingFlush) -> FlushResult:
        """Write a cut: its rows in one insert per table, then its snapshots.

        Write cuts one at a time, in the order they were cut (a snapshot in the store implies
        the rows of every earlier cut are there). If the store keeps rejecting the rows (not:
        cannot be reached, which is waited for), the events are bisected until the refused
        ones are isolated; they become ``store_rejected`` dead letters and everything else is
        written. Snapshots are written last, so a snapshot in the store implies its rows are
        there.
        """
        start = time.perf_counter()
        groups, offsets, snapshots = pending.groups, pending.offsets, pending.snapshots
        result = FlushResult(events=pending.events)
        if not groups and not offsets:
            return result
        stamp = datetime.now(UTC)
        for g in groups:  # ingested_at says when the row went to the store
            g.records = [
                r.model_copy(update={"ingested_at": stamp}) if isinstance(r, FrameRecord) else r
                for r in g.records
            ]
        # Only the first flush of a partition after (re)gaining it can hold rows that are
        # already stored (written before a crash, after the last snapshot); later flushes are
        # new by construction, so their writes skip the stored-key lookup. (Asked now, when
        # every earlier cut is written.)
        known_new = all(self.partitions.is_warm(p) for p in offsets)
        rows = [r for g in groups for r in g.records]
        # one insert per table; snapshots come last in the list and so are written last
        stored, letters = self._write_groups(groups, snapshots, known_new=known_new)
        result.dead_letters.extend(letters)
        if offsets:
            self.partitions.mark_saved(offsets)
        done = time.time()
        for g in stored:
            for r in g.records:
                if isinstance(r, FrameRecord):
                    result.frames += 1
                    if g.produced_at is not None:
                        result.end_to_end_s.append(max(0.0, done - g.produced_at))
                elif isinstance(r, DeadLetterRecord):
                    result.dead_letters.append(r)
                elif isinstance(r, DriftEventRecord):
                    result.drift_events.append(r)
        result.rows = len(rows) + len(snapshots)
        result.seconds = time.perf_counter() - start
        return result

    def handle_labels(self, batch: Sequence[RawRecord]) -> tuple[int, list[DeadLetterRecord]]:
        """Store ground-truth messages; returns how many were stored and the dead letters.

        Invalid messages are dead letters (:func:`~streams.readiness.labels.read_labels`); a
        label the store keeps refusing is isolated by bisection and dead-lettered with the
        store's message (``store_rejected``) instead of being retried forever.
        """
        rows = read_labels(
            batch,
            limits=self.pipeline.limits,
            max_payload_bytes=self.settings.ingest.dead_letter_max_payload_bytes,
        )
        groups = [EventRows(raw, [row]) for raw, row in rows]
        stored, letters = self._write_groups(groups, ())
        bad = [r for g in stored for r in g.records if isinstance(r, DeadLetterRecord)]
        good = sum(isinstance(r, LabelRecord) for g in stored for r in g.records)
        return good, [*bad, *letters]

    def revoke(self, partitions: set[int]) -> None:
        """Forget the state of partitions this worker no longer owns.

        Call :meth:`flush` first: held events and pending rows of those partitions are run and
        written by it.
        """
        self.partitions.forget(partitions)

    def close(self) -> None:
        """Release the decode thread and the store."""
        self._decoder.shutdown(wait=True)
        self.store.close()


def _name(group: EventRows) -> str:
    return group.raw.source if group.raw is not None else type(group.records[0]).__name__
