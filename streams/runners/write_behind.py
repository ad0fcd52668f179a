"""The units of the write-behind (:mod:`streams.runners.checkpoint`): rows grouped by the event
that produced them, as the pipeline returns them (one :class:`~streams.pipeline.EventResult`
per event), a cut of them (:class:`PendingFlush`) and what writing it did (:class:`FlushResult`).

A flush writes every pending row in as few inserts as possible. When the store *rejects* the
rows (an error other than "cannot be reached", still there after the retries), the flush is
bisected over the events until the offending ones are isolated: those become dead letters with
the store's message (reason ``store_rejected``) and everything else is written, so one poison
event never stalls its partition.

>>> from datetime import UTC, datetime
>>> from schemas.records import DeadLetterRecord
>>> from streams.errors import StoreWriteError
>>> from streams.ingest import RawRecord
>>> now = datetime(2026, 12, 1, tzinfo=UTC)
>>> def letter(text: str) -> DeadLetterRecord:
...     return DeadLetterRecord.build(reason="x", detail="", payload=text.encode(), source=text,
...                                   received_at=now)
>>> units = [EventRows(RawRecord(t.encode(), t, now), [letter(t)]) for t in "abcdefgh"]
>>> stored = []
>>> def insert(records):  # a store that refuses any batch holding the row of event "f"
...     if any(r.source == "f" for r in records):
...         raise StoreWriteError("Constraint `poison` is violated")
...     stored.extend(r.source for r in records)
>>> rejected = bisect_write(units, insert)
>>> [(u.raw.source, why) for u, why in rejected]
[('f', 'Constraint `poison` is violated')]
>>> sorted(stored)
['a', 'b', 'c', 'd', 'e', 'g', 'h']
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from schemas.records import (
    DEAD_LETTER_PAYLOAD_BYTES,
    DeadLetterRecord,
    DriftEventRecord,
    FrameRecord,
    MonitorSnapshotRecord,
    StoreRecord,
)
from streams.errors import StoreError, StoreUnavailable
from streams.ingest import RawRecord
from streams.pipeline import PipelineOutput
from streams.sinks import WriteResult

__all__ = [
    "STORE_REJECTED",
    "EventRows",
    "FlushResult",
    "PendingFlush",
    "bisect_write",
    "count_stored",
    "group_name",
    "group_sources",
    "rejected_letter",
]

STORE_REJECTED = "store_rejected"
"""Dead-letter reason of an event whose rows the store refused to write."""


@dataclass
class EventRows:
    """The rows one input event produced (``raw`` is None for rows of no single event)."""

    raw: RawRecord | None
    records: list[StoreRecord] = field(default_factory=list)
    produced_at: float | None = None
    """When the event was published to Kafka (epoch seconds), for end-to-end latency."""

    @classmethod
    def of(
        cls, out: PipelineOutput, produced_at: Mapping[int, float | None] | None = None
    ) -> list[EventRows]:
        """The rows of each event of a pipeline output (:class:`~streams.pipeline.EventResult`),
        in its order; ``produced_at`` by ``id(raw)`` of the input records."""
        stamps = produced_at or {}
        return [cls(e.raw, e.records(), stamps.get(id(e.raw))) for e in out.events]


def bisect_write(
    groups: Sequence[EventRows], insert: Callable[[list[StoreRecord]], object]
) -> list[tuple[EventRows, str]]:
    """Write ``groups`` with ``insert``, halving on rejection; return the groups refused alone.

    :class:`StoreUnavailable` is not a rejection and propagates (the caller waits for the
    store). ``insert`` must be idempotent: a half that failed may have been partly written.
    """
    if not groups:
        return []
    try:
        insert([r for g in groups for r in g.records])
        return []
    except StoreUnavailable:
        raise
    except StoreError as exc:
        if len(groups) == 1:
            return [(groups[0], str(exc))]
    mid = len(groups) // 2
    return bisect_write(groups[:mid], insert) + bisect_write(groups[mid:], insert)


def rejected_letter(
    group: EventRows, message: str, max_payload_bytes: int = DEAD_LETTER_PAYLOAD_BYTES
) -> DeadLetterRecord:
    """The dead letter of an event (or a loose row) the store refused, with its message."""
    detail = f"the store refused this event's rows: {message[:400]}"
    if group.raw is not None:
        raw = group.raw
        return DeadLetterRecord.build(
            reason=STORE_REJECTED,
            detail=detail,
            payload=raw.payload,
            source=raw.source,
            received_at=raw.received_at,
            max_payload_bytes=max_payload_bytes,
        )
    first = group.records[0]
    payload = json.dumps([r.model_dump(mode="json") for r in group.records]).encode()
    return DeadLetterRecord.build(
        reason=STORE_REJECTED,
        detail=detail,
        payload=payload,
        source=f"{first.__table__}:{'/'.join(map(str, first.key()))}",
        received_at=datetime.now(UTC),
        max_payload_bytes=max_payload_bytes,
    )


@dataclass
class FlushResult:
    """What one flush wrote, for publishing (dead letters, drift events), metrics and summaries."""

    events: int = 0
    rows: int = 0
    frames: int = 0
    dead_letters: list[DeadLetterRecord] = field(default_factory=list)
    """Dead letters stored by this flush: the pipeline's and the ``store_rejected`` ones (the
    ``event_id_conflict`` ones the store finds are in ``stats.conflicts``)."""
    drift_events: list[DriftEventRecord] = field(default_factory=list)
    end_to_end_s: list[float] = field(default_factory=list)
    """Per stored frame: seconds from its Kafka timestamp to the end of the flush."""
    seconds: float = 0.0
    stats: WriteResult = field(default_factory=WriteResult)
    """Rows the store really wrote and skipped (replays) per table, and its conflicts."""
    acks: list[Any] = field(default_factory=list)
    """What the caller gave :meth:`~streams.runners.checkpoint.Checkpoint.track` for the events
    of this flush, in order: acknowledge them now."""


@dataclass
class PendingFlush:
    """Rows, offsets and partition snapshots cut from the pending state, for
    :meth:`~streams.runners.checkpoint.Checkpoint.write`. ``events`` counts the events since the
    previous cut (skipped replays included); ``offsets`` is the highest offset of each partition
    involved."""

    groups: list[EventRows] = field(default_factory=list)
    offsets: dict[int, int] = field(default_factory=dict)
    snapshots: list[MonitorSnapshotRecord] = field(default_factory=list)
    events: int = 0
    acks: list[Any] = field(default_factory=list)


def count_stored(stored: Iterable[EventRows], result: FlushResult, done: float) -> None:
    """Frames, dead letters, drift events and end-to-end latencies of the stored groups."""
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


def group_sources(groups: Iterable[EventRows]) -> list[str]:
    """The sources of the groups' input events."""
    return [g.raw.source for g in groups if g.raw is not None]


def group_name(group: EventRows) -> str:
    """The event's source, or the table of a loose row, for a log line."""
    return group.raw.source if group.raw is not None else type(group.records[0]).__name__
