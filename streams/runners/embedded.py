"""The embedded runner: one process, a file or simulated source, chDB (or any) store.

It is a thin adapter: it reads raw records, cuts them into micro-batches, hands each to
:class:`~streams.pipeline.MonitoringPipeline` and the result to a
:class:`~streams.sinks.BatchWriter`. Every record read ends as a frame stored, a replay of a
frame already stored (same ``event_id``, same content: skipped) or a dead letter (an
``event_id_conflict`` among them); the summary counts what the store really wrote.

While the store is unreachable (:class:`~streams.errors.StoreUnavailable`, e.g. a ClickHouse
server restarting) a flush is retried with capped exponential back-off
(:func:`~streams.sinks.retry.retry_until_available`) and nothing more is read meanwhile: memory
stays bounded by one flush batch plus the one micro-batch read ahead. Other store errors (a
write the server refuses) still end the run, except for labels: a label the store refuses is
isolated by bisection and dead-lettered (``store_rejected``), the others are stored.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from itertools import islice

from schemas.records import DEAD_LETTER_PAYLOAD_BYTES, LabelRecord, StoreRecord
from streams.errors import StoreError, StoreUnavailable
from streams.ingest import IngestLimits, RawRecord
from streams.pipeline import MonitoringPipeline, PipelineOutput, PreparedBatch
from streams.readiness.labels import read_labels
from streams.runners.write_behind import EventRows, bisect_write, rejected_letter
from streams.sinks import BatchWriter, ClickHouseStore
from streams.sinks.retry import retry, retry_until_available

__all__ = ["RunSummary", "ingest_labels", "run_embedded"]

log = logging.getLogger(__name__)


@dataclass
class RunSummary:
    """What one run did."""

    records_read: int = 0
    processed: int = 0
    """Events that went through the model (frames stored + replays + conflicts)."""
    frames: int = 0
    """Frames the store really wrote (after replays and conflicts were set aside)."""
    replays: int = 0
    """Frames not written because the same event (same id, same content) was already stored."""
    dead_letters: int = 0
    drift_events: int = 0
    reference_gaps: int = 0
    labels: int = 0
    label_dead_letters: int = 0
    elapsed_s: float = 0.0
    dead_letter_reasons: dict[str, int] = field(default_factory=dict)

    @property
    def frames_per_s(self) -> float:
        """Throughput over the whole run."""
        return self.processed / self.elapsed_s if self.elapsed_s > 0 else 0.0

    def add(self, out: PipelineOutput, read: int) -> None:
        """Count one batch."""
        self.records_read += read
        self.processed += len(out.frames)
        self.frames += len(out.frames)  # until the writer says what it really wrote
        self.dead_letters += len(out.dead_letters)
        self.drift_events += len(out.drift_events)
        self.reference_gaps += len(out.reference_gaps)
        for dl in out.dead_letters:
            self.dead_letter_reasons[dl.reason] = self.dead_letter_reasons.get(dl.reason, 0) + 1


def _batches(records: Iterable[RawRecord], size: int) -> Iterator[list[RawRecord]]:
    it = iter(records)
    while batch := list(islice(it, size)):
        yield batch


def ingest_labels(
    records: Sequence[RawRecord],
    writer: BatchWriter,
    limits: IngestLimits | None = None,
    max_payload_bytes: int = DEAD_LETTER_PAYLOAD_BYTES,
    *,
    attempts: int = 3,
) -> tuple[int, int]:
    """Validate ground-truth lines into the store now; returns (labels stored, dead letters).

    Invalid lines are dead letters (:func:`~streams.readiness.labels.read_labels`). The labels
    are written apart from the writer's pending rows: a store that cannot be reached is waited
    for; one that keeps refusing the write (``attempts`` tries) has the lines bisected
    (:func:`~streams.runners.write_behind.bisect_write`) until the refused ones are isolated,
    and those become ``store_rejected`` dead letters with the store's message.
    """
    rows = read_labels(records, limits=limits, max_payload_bytes=max_payload_bytes)
    groups = [EventRows(raw, [row]) for raw, row in rows]

    def write(part: Sequence[StoreRecord], tries: int) -> int:
        return retry(
            lambda: writer.write_now(part),
            attempts=tries,
            forever_on=(StoreUnavailable,),
            what=f"label write of {len(part)} rows (reading paused)",
        )

    try:
        write([r for g in groups for r in g.records], attempts)
        refused: list[tuple[EventRows, str]] = []
    except StoreError as exc:
        log.error("the store keeps refusing %d labels (%s); bisecting them", len(groups), exc)
        refused = bisect_write(groups, lambda part: write(part, 1))
    letters = [rejected_letter(g, why, max_payload_bytes) for g, why in refused]
    for g, why in refused:
        log.error("dead-lettered label %s: the store refused it: %s", g.raw and g.raw.source, why)
    retry_until_available(lambda: writer.write_now(letters), what="dead-letter write")
    refused_ids = {id(g) for g, _ in refused}
    kept = [r for g in groups if id(g) not in refused_ids for r in g.records]
    good = sum(isinstance(r, LabelRecord) for r in kept)
    return good, len(kept) - good + len(letters)


def run_embedded(
    records: Iterable[RawRecord],
    pipeline: MonitoringPipeline,
    store: ClickHouseStore,
    *,
    labels: Callable[[], Sequence[RawRecord]] | None = None,
    on_batch: Callable[[int, PipelineOutput], None] | None = None,
) -> RunSummary:
    """Run every record through the pipeline into the store; labels are ingested at the end.

    ``labels`` is called after the events are consumed (a simulated source fills its labels
    while events are read).
    """
    settings = pipeline.settings
    writer = BatchWriter(store, settings.store.flush_rows, settings.store.flush_interval_s)
    summary = RunSummary()
    start = time.perf_counter()
    batches = _batches(records, settings.inference.batch_frames)

    def read_and_prepare() -> tuple[int, PreparedBatch] | None:
        batch = next(batches, None)
        return None if batch is None else (len(batch), pipeline.prepare(batch))

    # Reading and decoding batch n+1 (in one helper thread) overlaps inference on batch n; the
    # model, the drift state and the store stay on this thread, in input order.
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="linewatch-decode") as pool:
        pending = pool.submit(read_and_prepare)
        while (ready := pending.result()) is not None:
            pending = pool.submit(read_and_prepare)
            read, prepared = ready
            out = pipeline.complete(prepared)
            writer.add_many(out.records())
            retry_until_available(writer.maybe_flush, what="store flush (reading paused)")
            summary.add(out, read)
            if on_batch is not None:
                on_batch(read, out)
    retry_until_available(writer.flush, what="store flush (reading paused)")
    if labels is not None:
        summary.labels, summary.label_dead_letters = ingest_labels(
            labels(),
            writer,
            pipeline.limits,
            settings.ingest.dead_letter_max_payload_bytes,
            attempts=settings.worker.write_attempts,
        )
    summary.frames = writer.stats.written["frames"]
    summary.replays = writer.stats.skipped["frames"]
    for dl in writer.stats.conflicts:
        summary.dead_letters += 1
        summary.dead_letter_reasons[dl.reason] = summary.dead_letter_reasons.get(dl.reason, 0) + 1
    summary.elapsed_s = time.perf_counter() - start
    return summary
