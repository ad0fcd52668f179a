"""The one write-behind of both runners: pending rows by event, offsets, partition states.

``linewatch run`` / ``demo`` (:mod:`streams.runners.embedded`) and the Kafka worker
(:mod:`streams.runners.stream_worker`) hand each processed event's rows to a :class:`Checkpoint`
and nothing else writes them:

- :meth:`Checkpoint.add` keeps rows pending, grouped by the event that produced them, with the
  highest offset of each partition (the worker) and the acknowledgements they wait for;
- :meth:`Checkpoint.due` fires when ``checkpoint.flush_rows`` rows are pending or the oldest
  pending row would otherwise be stored later than ``checkpoint.flush_interval_s`` after its
  event was produced (:mod:`streams.runners.flush_policy`);
- :meth:`Checkpoint.cut` takes what is pending; :meth:`Checkpoint.write` writes it: rows in
  one insert per table, snapshots last. Every ``checkpoint.snapshot_every_flushes``-th cut of
  the worker (the embedded runner keeps no snapshots), a cut asked to (revocation, stop) and a
  cut finding acknowledgements older than that many flush intervals, or no event arrived for a
  quarter of a flush interval (caught up), snapshots every partition changed since the last
  snapshot. A store that cannot be reached is waited for without limit;
  a write it keeps refusing (``checkpoint.write_attempts`` tries) is bisected over its events
  (:func:`~streams.runners.write_behind.bisect_write`): the refused ones become
  ``store_rejected`` dead letters and everything else is written;
- the :class:`FlushResult` says what was stored and which acknowledgements may now be given,
  in cut order (cuts are written one at a time, in cut order). An event is acknowledged only
  with the first snapshot at or past it, so Kafka never commits past the newest snapshot: a
  worker killed between snapshots replays from it, its state observes those events again (as
  an uninterrupted run did) and the store skips their rows. Until a flush of a partition finds
  none of its rows stored, its writes keep looking keys up.

A cut may be written on another thread than the one that processes events (the worker overlaps
the two); every store call holds one lock, as a store client is used by one thread at a time
(a partition's state, once restored, is read without it: processing never waits for a write).
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable, Collection, Hashable, Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from schemas.records import (
    DEAD_LETTER_PAYLOAD_BYTES,
    DeadLetterRecord,
    FrameRecord,
    LabelRecord,
    StoreRecord,
)
from streams.config_groups import CheckpointSettings
from streams.drift.partition_state import PartitionState
from streams.errors import StoreError, StoreUnavailable
from streams.ingest import IngestLimits, RawRecord
from streams.readiness.labels import read_labels
from streams.runners.flush_policy import FlushPolicy
from streams.runners.latency_trace import LatencyTrace
from streams.runners.partitions import PartitionStates
from streams.runners.write_behind import (
    EventRows,
    FlushResult,
    PendingFlush,
    bisect_write,
    count_stored,
    group_name,
    group_sources,
    rejected_letter,
)
from streams.sinks import ClickHouseStore, WriteResult, retry

__all__ = ["Checkpoint"]

log = logging.getLogger(__name__)

AckKey = tuple[int, int]
"""(partition, offset) of an event waiting to be acknowledged."""


class Checkpoint:
    """Pending results by event, offsets and partition states; flushed durably, in order.
    ``partitions``: the worker's per-partition states (restored from and snapshotted to the
    store); ``None`` for the embedded runner, whose one state is not snapshotted."""

    def __init__(
        self,
        store: ClickHouseStore,
        settings: CheckpointSettings,
        *,
        partitions: PartitionStates | None = None,
        dead_letter_max_payload_bytes: int = DEAD_LETTER_PAYLOAD_BYTES,
        sleep: Callable[[float], object] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        max_backoff_s: float = 30.0,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.settings = settings
        self.partitions = partitions
        self.dead_letter_max_payload_bytes = dead_letter_max_payload_bytes
        self.sleep = sleep
        self.max_backoff_s = max_backoff_s
        self._clock = clock
        self._wall = wall  # epoch seconds, to age rows by their events' Kafka timestamps
        self.policy = FlushPolicy(settings.flush_rows, settings.flush_interval_s)
        self._oldest_produced: float | None = None
        self._cut_at = -math.inf  # no cut yet: nothing to space the first one from
        self._take_at: float | None = None
        self._groups: list[EventRows] = []
        self._rows, self._events = 0, 0
        self._offsets: dict[int, int] = {}
        self._acks: list[tuple[Hashable, Any]] = []
        self._oldest_at: float | None = None
        self._last_arrival_at: float | None = None
        self._cuts = 0  # cuts since the last snapshot
        self._unsnapped: dict[int, int] = {}
        """Highest offset of each partition processed since its last snapshot."""
        self._deferred: list[Any] = []
        """Acknowledgements of events cut since the last snapshot, in order."""
        self._deferred_at: float | None = None
        self._in_doubt: set[tuple[str, tuple[object, ...]]] = set()
        """Keys of rows whose write failed: found stored later, this process wrote them."""
        self.store_lock = threading.Lock()
        """Held around every store call: processing and a flush write may run on two threads."""
        self.trace: LatencyTrace | None = None
        """Stamps ``cut``, ``write_start`` and ``written`` of each event (off: None)."""

    # --- partition states ---------------------------------------------------------------

    def state(self, partition: int) -> PartitionState:
        """The partition's state (restored from its newest snapshot on first use: the lock)."""
        assert self.partitions is not None
        found = self.partitions.states.get(partition)
        if found is not None:
            return found
        with self.store_lock:
            return self.partitions.state(partition)

    def already_stored(self, partition: int, offset: int) -> bool:
        """Whether the event at ``offset`` is covered by the partition's restored snapshot."""
        if self.partitions is None:
            return False
        committed = self.partitions.committed.get(partition)  # known once restored
        if committed is not None:
            return offset <= committed
        with self.store_lock:
            return self.partitions.already_stored(partition, offset)

    def revoke(self, partitions: set[int]) -> None:
        """Forget the states of partitions no longer owned (write their rows first)."""
        if self.partitions is not None:
            self.partitions.forget(partitions)
        for partition in partitions:
            self._unsnapped.pop(partition, None)

    # --- pending ------------------------------------------------------------------------

    def arrived(self) -> None:
        """Events arrived (processed now or held for later): the time trigger counts from
        the first arrival after a cut; a quiet spell counts from the last."""
        self._last_arrival_at = self._clock()
        if self._oldest_at is None:
            self._oldest_at = self._last_arrival_at

    def taken(self) -> None:
        """A take arrived (the worker): :meth:`arrived`, and the gap since the last take."""
        now = self._clock()
        if self._take_at is not None:
            self.policy.took(now - self._take_at)
        self._take_at = now
        self.arrived()

    def add(self, groups: Iterable[EventRows], events: int, offsets: Iterable[AckKey] = ()) -> None:
        """Keep the rows of ``events`` processed events pending, and their (partition, offset)."""
        if events:
            self.arrived()
        for g in groups:
            self._groups.append(g)
            self._rows += len(g.records)
            if g.produced_at is not None:
                self._oldest_produced = min(g.produced_at, self._oldest_produced or g.produced_at)
        self._events += events
        for partition, offset in offsets:
            self._offsets[partition] = max(self._offsets.get(partition, -1), offset)

    def track(self, acks: Iterable[tuple[Hashable, Any]]) -> None:
        """Acknowledgements (key, token) to hand back, in order, once their events are written."""
        self._acks.extend(acks)

    @property
    def pending_rows(self) -> int:
        """Rows processed but not yet cut."""
        return self._rows

    @property
    def pending_events(self) -> int:
        """Events processed (or skipped as replays) since the last cut."""
        return self._events

    def _snapshot_in(self) -> float | None:
        """Seconds until waiting acknowledgements need a snapshot (None: none wait): once
        they have waited ``snapshot_every_flushes`` flush intervals, or no event arrived for a
        quarter of a flush interval (the worker caught up: its group's lag reaches 0 now, not
        K intervals later)."""
        if self._deferred_at is None or self._last_arrival_at is None:
            return None if self._deferred_at is None else 0.0
        now, interval_s = self._clock(), self.settings.flush_interval_s
        waited_s = self.settings.snapshot_every_flushes * interval_s - (now - self._deferred_at)
        return max(0.0, min(waited_s, interval_s / 4 - (now - self._last_arrival_at)))

    def _snapshot_overdue(self) -> bool:
        return self._snapshot_in() == 0.0

    def due(self) -> bool:
        return self.due_in() == 0.0  # a trigger fired

    def due_in(self) -> float | None:
        """Seconds until a trigger fires if no event arrives (0: now; None: nothing pends and
        no acknowledgement waits): enough rows pending, the oldest pending row's latency
        budget (:class:`~streams.runners.flush_policy.FlushPolicy`), or (nothing pending)
        acknowledgements wait too long for a snapshot."""
        if not self._events:
            return self._snapshot_in()
        assert self._oldest_at is not None
        now, produced = self._clock(), self._oldest_produced
        return self.policy.due_in(
            rows=self._rows,
            oldest_produced_age_s=None if produced is None else self._wall() - produced,
            oldest_arrival_age_s=now - self._oldest_at,
            since_cut_s=now - self._cut_at,
        )

    def cut(
        self,
        held: Collection[Hashable] = (),
        held_since: float | None = None,
        *,
        snapshot: bool = False,
    ) -> PendingFlush:
        """Take every pending row and, when due (see the module docstring) or ``snapshot``,
        snapshot every partition state changed since the last snapshot.

        Call it on the thread that processes events (the snapshots are the state right after
        the rows taken). ``held``: keys of tracked events not processed yet (they stay tracked);
        ``held_since``: when the oldest of them arrived (the time trigger keeps their age).
        """
        acks = [token for key, token in self._acks if key not in held]
        self._acks = [(key, token) for key, token in self._acks if key in held]
        pending = PendingFlush(self._groups, self._offsets, [], self._events, acks)
        if self.trace is not None:
            self.trace.stamp(group_sources(pending.groups), "cut")
        self._groups, self._offsets, self._rows, self._events = [], {}, 0, 0
        self._oldest_at, self._oldest_produced, self._cut_at = held_since, None, self._clock()
        if self.partitions is None:
            return pending
        for partition, offset in pending.offsets.items():
            self._unsnapped[partition] = max(self._unsnapped.get(partition, -1), offset)
        self._cuts += 1
        every = self._cuts >= self.settings.snapshot_every_flushes
        if snapshot or every or self._snapshot_overdue():
            pending.snapshots = self.partitions.snapshots(self._unsnapped)
            pending.acks = [*self._deferred, *acks]
            self._unsnapped, self._deferred, self._deferred_at, self._cuts = {}, [], None, 0
        else:  # acknowledged with the next snapshot
            self._deferred.extend(acks)
            if self._deferred_at is None and acks:
                self._deferred_at = self._clock()
            pending.acks = []
        return pending

    def flush(self, *, snapshot: bool = True) -> FlushResult:
        """Cut and write everything pending now (with a snapshot unless told otherwise)."""
        return self.write(self.cut(snapshot=snapshot))

    # --- writing ------------------------------------------------------------------------

    def write(self, pending: PendingFlush) -> FlushResult:
        """Write a cut: its rows in one insert per table, then its snapshots.

        Write cuts one at a time, in cut order: a snapshot in the store implies the rows of
        every earlier cut are there. The flush is bisected when the store keeps rejecting it
        (see the module docstring).
        """
        start = time.perf_counter()
        result = FlushResult(events=pending.events, acks=pending.acks)
        if not pending.groups and not pending.offsets and not pending.snapshots:
            return result
        stamp = datetime.now(UTC)
        if self.trace is not None:
            self.trace.stamp(group_sources(pending.groups), "write_start", stamp.timestamp())
        for g in pending.groups:  # ingested_at says when the row went to the store
            g.records = [
                r.model_copy(update={"ingested_at": stamp}) if isinstance(r, FrameRecord) else r
                for r in g.records
            ]
        # Only the first flushes of a partition after (re)gaining it can hold rows already
        # stored (written before a crash, after the last snapshot); once one finds none, later
        # flushes are new by construction and skip the key lookup. The embedded runner looks.
        parts = self.partitions
        known_new = parts is not None and all(parts.is_warm(p) for p in pending.offsets)
        stored = self._write_groups(pending.groups, pending.snapshots, result, known_new)
        if parts is not None:
            parts.mark_saved({s.partition: s.offset for s in pending.snapshots})
            if not result.stats.found_stored:  # none stored before: past any replayed range
                parts.mark_new(pending.offsets)
        count_stored(stored, result, time.time())
        result.rows = sum(len(g.records) for g in pending.groups) + len(pending.snapshots)
        result.seconds = time.perf_counter() - start
        self.policy.wrote(result.seconds)
        if self.trace is not None:
            self.trace.written(group_sources(pending.groups))
        return result

    def write_labels(
        self, batch: Sequence[RawRecord], limits: IngestLimits | None = None
    ) -> tuple[int, list[DeadLetterRecord]]:
        """Store ground-truth messages now; returns how many were stored and the dead letters:
        invalid messages (:func:`~streams.readiness.labels.read_labels`) and labels the store
        keeps refusing (bisected out, ``store_rejected``, like an event's rows)."""
        cap = self.dead_letter_max_payload_bytes
        rows = read_labels(batch, limits=limits, max_payload_bytes=cap)
        groups = [EventRows(raw, [row]) for raw, row in rows]
        result = FlushResult()
        stored = self._write_groups(groups, (), result, known_new=False)
        bad = [r for g in stored for r in g.records if isinstance(r, DeadLetterRecord)]
        good = sum(isinstance(r, LabelRecord) for g in stored for r in g.records)
        return good, [*bad, *result.dead_letters]

    def _write_groups(
        self,
        groups: Sequence[EventRows],
        after: Sequence[StoreRecord],
        result: FlushResult,
        known_new: bool,
    ) -> list[EventRows]:
        """Write the rows of ``groups``, then ``after`` (rows that must not be dropped).

        Returns the groups stored; the ``store_rejected`` dead letters of the refused ones go
        to ``result.dead_letters`` (and to the store, with ``after``).
        """
        rows = [r for g in groups for r in g.records]
        attempts = self.settings.write_attempts
        try:
            self._insert([*rows, *after], result, known_new, attempts, (StoreUnavailable,))
            return list(groups)
        except StoreError as exc:
            log.error(
                "the store keeps rejecting a write of %d rows (%s); bisecting it to find the "
                "records it refuses",
                len(rows),
                exc,
            )
        refused = bisect_write(
            groups, lambda part: self._insert(part, result, False, 1, (StoreUnavailable,))
        )
        cap = self.dead_letter_max_payload_bytes
        letters = [rejected_letter(g, why, cap) for g, why in refused]
        for g, why in refused:
            log.error("dead-lettered %s: the store refused its rows: %s", group_name(g), why)
        self._insert([*letters, *after], result, False, None, ())  # must not be dropped
        result.dead_letters.extend(letters)
        refused_ids = {id(g) for g, _ in refused}
        return [g for g in groups if id(g) not in refused_ids]

    def _insert(
        self,
        records: Sequence[StoreRecord],
        result: FlushResult,
        known_new: bool,
        attempts: int | None,
        forever_on: tuple[type[BaseException], ...],
    ) -> None:
        """One insert under the store lock, retried by :func:`~streams.sinks.retry`; a failed
        try turns the stored-key lookup back on (part of the rows may have landed)."""
        if not records:
            return
        lookup = [known_new]

        def attempt() -> WriteResult:
            try:
                with self.store_lock:
                    return self.store.write(records, known_new=lookup[0])
            except StoreError:
                lookup[0] = False  # part may have landed: look keys up again
                self._in_doubt |= {(r.__table__, r.key()) for r in records}
                raise

        done = retry(
            attempt,
            attempts=attempts,
            max_delay_s=self.max_backoff_s,
            forever_on=forever_on,
            sleep=self.sleep,
            what=f"store write of {len(records)} rows",
        )
        if self._in_doubt:  # rows a failed try of ours did store count as written, not replays
            for table, _key in done.found_stored & self._in_doubt:
                done.written[table] += 1
                done.skipped[table] -= 1
            self._in_doubt -= {(r.__table__, r.key()) for r in records}
        result.stats.add(done)
