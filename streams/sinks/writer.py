"""Idempotent writes of store records: :func:`write` and what it looks up first.

Design notes (checked against chDB 4.4 / ClickHouse 26.9):

- Writes are idempotent by each record's ``__key__``; the cost of the stored-key lookup
  (:mod:`streams.sinks.lookups`) is bounded by the batch, not by the history (see
  ``docs/storage.md``). An embedded store journals its frames inserts
  (:mod:`streams.sinks.frames_journal`), so its frame lookup reads ``event_keys`` alone. A
  stored ``event_id`` with other content is an ``event_id_conflict`` dead letter
  (:mod:`streams.sinks.identity`). Duplicates in the batch are dropped, and each insert
  carries ``insert_deduplication_token`` (a hash of its keys).
  Tables are ``ReplacingMergeTree`` with the key in the sort key, and every view that counts
  reads ``FINAL`` (or ``uniqExact``), so counts are exact even for a duplicate that got past
  both the lookup and the token (two writers racing on one batch).
- :func:`write` counts the rows it sent after the lookup. ClickHouse's own ``written_rows``
  summary is *not* used: it reports the rows sent even when the deduplication token discarded
  the block. The token can only discard a block whose keys were all written between this
  call's lookup and its insert (a concurrent writer): the one overcount left.
- No insert fails for touching many partitions (``max_partitions_per_insert_block = 0``, see
  :meth:`~streams.sinks.connection.Connection.insert_block`).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from schemas.records import (
    DeadLetterRecord,
    DetectionRecord,
    FrameRecord,
    StoreRecord,
    stable_id,
)
from streams.sinks.connection import Connection
from streams.sinks.frames_journal import journal_of
from streams.sinks.identity import conflict_dead_letter, is_conflict
from streams.sinks.lookups import (
    existing_keys,
    stored_detections,
    stored_frames,
)

__all__ = ["WriteResult", "insert_new_rows", "write"]


@dataclass
class WriteResult:
    """What one :func:`write` did, per table."""

    written: Counter[str] = field(default_factory=Counter)
    """Rows inserted per table (after the stored-key lookup)."""
    skipped: Counter[str] = field(default_factory=Counter)
    """Rows not written because their key was already stored or repeated: replays."""
    conflicts: list[DeadLetterRecord] = field(default_factory=list)
    """``event_id_conflict`` dead letters (also written to ``dead_letters``)."""
    found_stored: set[tuple[str, tuple[object, ...]]] = field(default_factory=set)
    """``(table, key)`` of the rows skipped because the store already held them (not the
    repeats inside the call): lets a caller whose previous attempt failed tell the rows that
    attempt did land (see :class:`~streams.runners.checkpoint.Checkpoint`)."""

    @property
    def rows(self) -> int:
        """All rows inserted."""
        return sum(self.written.values())

    def add(self, other: WriteResult) -> None:
        """Accumulate another result."""
        self.written.update(other.written)
        self.skipped.update(other.skipped)
        self.conflicts.extend(other.conflicts)
        self.found_stored |= other.found_stored


@dataclass
class _Batch:
    """The records of one :func:`write`, without the repeats inside it."""

    frames: dict[str, FrameRecord] = field(default_factory=dict)
    """``event_id`` -> the first frame with it."""
    detections: dict[tuple[object, ...], DetectionRecord] = field(default_factory=dict)
    others: dict[type[StoreRecord], dict[tuple[object, ...], StoreRecord]] = field(
        default_factory=lambda: defaultdict(dict)
    )


def _unique_batch(records: Sequence[StoreRecord], result: WriteResult) -> _Batch:
    """Drop the repeats inside ``records`` (counted as skipped) and report the frames whose
    ``event_id`` comes again with other content (``result.conflicts``)."""
    batch = _Batch()
    conflicted: set[str] = set()  # event_ids with another content later in records
    batch_detections: list[DetectionRecord] = []
    for record in records:
        if isinstance(record, FrameRecord):
            first = batch.frames.setdefault(record.event_id, record)
            if first is record:
                continue
            if is_conflict(first.content_hash, record.content_hash):
                conflicted.add(record.event_id)
                result.conflicts.append(
                    conflict_dead_letter(
                        record, stored_source=first.source, stored_hash=first.content_hash
                    )
                )
            else:
                result.skipped["frames"] += 1
        elif isinstance(record, DetectionRecord):
            batch_detections.append(record)
        elif batch.others[type(record)].setdefault(record.key(), record) is not record:
            result.skipped[record.__table__] += 1
    for d in batch_detections:
        if d.event_id in conflicted:
            # a detection carries its frame's line and capture time: keep only those of
            # the frame that stays (the first one); the other content's boxes are dropped
            first = batch.frames[d.event_id]
            if (d.line_id, d.captured_at) != (first.line_id, first.captured_at):
                continue
        if batch.detections.setdefault(d.key(), d) is not d:
            result.skipped["detections"] += 1
    return batch


def _new_frames(
    conn: Connection, batch: _Batch, result: WriteResult, *, keyless: bool
) -> list[FrameRecord]:
    """The frames of ``batch`` not stored yet; a stored ``event_id`` with other content is a
    conflict (its detections are dropped from ``batch``), with the same content a replay.
    ``keyless``: look for stored frames without a key row too (no journal vouches for them)."""
    stored = stored_frames(conn, batch.frames, keyless=keyless)
    new_frames: list[FrameRecord] = []
    for event_id, frame in batch.frames.items():
        if event_id not in stored:
            new_frames.append(frame)
            continue
        digest, source = stored[event_id]
        if is_conflict(digest, frame.content_hash):
            result.conflicts.append(
                conflict_dead_letter(frame, stored_source=source, stored_hash=digest)
            )
            dropped = [k for k, d in batch.detections.items() if d.event_id == event_id]
            for k in dropped:
                del batch.detections[k]
        else:
            result.skipped["frames"] += 1
            result.found_stored.add(("frames", frame.key()))
    return new_frames


def _write_detections(
    conn: Connection,
    detections: Mapping[tuple[object, ...], DetectionRecord],
    new_frames: Sequence[FrameRecord],
    result: WriteResult,
    *,
    known_new: bool,
) -> None:
    """Insert the detections not stored yet; one can only be stored already if its frame is
    (frames are written first)."""
    fresh_ids = {f.event_id for f in new_frames}
    maybe_stored = [d for d in detections.values() if d.event_id not in fresh_ids]
    done = set() if known_new else stored_detections(conn, maybe_stored)
    result.skipped["detections"] += len(done)
    result.found_stored |= {("detections", k) for k in done}
    _insert_rows(conn, DetectionRecord, [d for k, d in detections.items() if k not in done], result)


def _write_others(
    conn: Connection,
    others: Mapping[type[StoreRecord], Mapping[tuple[object, ...], StoreRecord]],
    result: WriteResult,
    *,
    known_new: bool,
) -> None:
    """Insert the rows of the small tables (and the conflicts' dead letters) not stored yet.

    Conflict dead letters recur with every replay of the conflicting event: always looked up,
    even for a caller that knows its own rows are new.
    """
    conflict_keys = [dl.key() for dl in result.conflicts]
    for model, unique in others.items():
        if not known_new:
            existing = existing_keys(conn, model, list(unique))
        elif model is DeadLetterRecord and conflict_keys:
            existing = existing_keys(conn, model, conflict_keys)
        else:
            existing = set()
        result.skipped[model.__table__] += len(existing)
        result.found_stored |= {(model.__table__, k) for k in existing}
        _insert_rows(conn, model, [r for k, r in unique.items() if k not in existing], result)


def write(
    conn: Connection, records: Sequence[StoreRecord], *, known_new: bool = False
) -> WriteResult:
    """Write records idempotently, table by table (frames first); say what happened.

    Rows whose key is already stored, or repeats a key earlier in ``records``, are skipped.
    A frame whose ``event_id`` is stored (or earlier in ``records``) with *other* content is
    an ``event_id_conflict`` (:mod:`streams.sinks.identity`): it and its detections (those
    whose line and capture time are not the kept frame's) are not written, a dead letter
    naming both sources is.
    On failure the tables before the failing one are written, and the failing table may be
    written in part (ClickHouse commits an insert partition by partition: a batch spanning
    several days can land partly); the whole call can be retried without ``known_new``: the
    lookup skips every row already stored.
    ``known_new=True`` skips the lookup of stored keys, for a caller that can prove none of
    the keys was written before (a streaming worker past its first batch on a partition);
    frames are still checked against ``event_keys`` (a conflict can arrive at any offset).
    """
    result = WriteResult()
    batch = _unique_batch(records, result)
    with conn.locked(f"write {len(records)} rows"):
        journal = journal_of(conn)  # an embedded store's record of its frames insert in flight
        if journal is not None:
            journal.settle(conn)  # key rows of the frames a killed or failed insert left
        new_frames = _new_frames(conn, batch, result, keyless=journal is None)
        if journal is None:
            _insert_rows(conn, FrameRecord, new_frames, result)
        else:
            with journal.recording(new_frames):
                _insert_rows(conn, FrameRecord, new_frames, result)
        _write_detections(conn, batch.detections, new_frames, result, known_new=known_new)
        for dl in result.conflicts:
            batch.others[DeadLetterRecord].setdefault(dl.key(), dl)
        _write_others(conn, batch.others, result, known_new=known_new)
    return result


def _insert_rows(
    conn: Connection, model: type[StoreRecord], fresh: Sequence[StoreRecord], result: WriteResult
) -> None:
    """One ``INSERT`` of ``fresh`` rows into ``model``'s table, counted in ``result``."""
    if not fresh:
        return
    names = list(model.model_fields)
    columns = [[getattr(r, c) for r in fresh] for c in names]  # columnar: no transpose
    _insert_values(conn, model, columns, [r.key() for r in fresh], result, by_column=True)


def insert_new_rows(
    conn: Connection, model: type[StoreRecord], rows: Sequence[Sequence[object]]
) -> int:
    """Write plain rows (one value per field of ``model``, in field order) whose keys the
    caller can prove are not stored yet, as :func:`write` with ``known_new=True`` does for
    records; a key repeated within ``rows`` is written once. Return the rows written.

    For a caller that builds tens of thousands of rows of one table at once (``reconcile``):
    it saves building and reading back a pydantic record per row. The values must already
    have their field's type (what validating them as ``model`` would give).
    """
    index = [list(model.model_fields).index(k) for k in model.__key__]
    unique: dict[tuple[object, ...], Sequence[object]] = {}
    for row in rows:
        unique.setdefault(tuple(row[i] for i in index), row)
    result = WriteResult()
    with conn.locked(f"write {len(rows)} rows"):
        _insert_values(conn, model, list(unique.values()), list(unique), result)
    return result.rows


def _insert_values(
    conn: Connection,
    model: type[StoreRecord],
    rows: Sequence[Sequence[object]],
    keys: Sequence[tuple[object, ...]],
    result: WriteResult,
    *,
    by_column: bool = False,
) -> None:
    """One ``INSERT`` of ``rows`` (values in field order) with the token of their ``keys``.

    ``by_column``: ``rows`` holds one list per field instead (clickhouse-connect then skips
    turning rows into columns; its store flush row in ``bench/bench_pipeline.py``).
    """
    if not rows or not keys:
        return
    conn.insert_block(
        model.__table__,
        rows,
        column_names=list(model.model_fields),
        token=stable_id(model.__table__, *sorted(keys, key=repr)),
        count=len(keys),
        column_oriented=by_column,
    )
    result.written[model.__table__] += len(keys)
