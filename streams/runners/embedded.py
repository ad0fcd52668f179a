"""The embedded runner: one process, a file or simulated source, chDB (or any) store.

It is a thin adapter: it reads raw records, cuts them into micro-batches, hands each to
:class:`~streams.pipeline.MonitoringPipeline` and the rows, grouped by event, to a
:class:`~streams.runners.checkpoint.Checkpoint` (the Kafka worker's write-behind too). Every
record read ends as a frame stored, a replay of a frame already stored (same ``event_id``, same
content: skipped) or a dead letter (an ``event_id_conflict`` among them); the summary counts
what the store really wrote.

While the store is unreachable (:class:`~streams.errors.StoreUnavailable`, e.g. a ClickHouse
server restarting) a flush is retried with capped exponential back-off and nothing more is read
meanwhile: memory stays bounded by one flush plus the one micro-batch read ahead. An event (or
label) whose rows the store keeps refusing is isolated by bisection and becomes a
``store_rejected`` dead letter; the others are stored and the run goes on.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from itertools import islice

from schemas.records import DeadLetterRecord
from streams.ingest import RawRecord
from streams.pipeline import MonitoringPipeline, PipelineOutput, PreparedBatch
from streams.runners.checkpoint import Checkpoint
from streams.runners.write_behind import STORE_REJECTED, EventRows, FlushResult
from streams.sinks import ClickHouseStore

__all__ = ["RunSummary", "run_embedded"]

log = logging.getLogger(__name__)


@dataclass
class RunSummary:
    """What one run did."""

    records_read: int = 0
    processed: int = 0
    """Events that went through the model (frames stored + replays + conflicts)."""
    frames: int = 0
    """Frames the store really wrote (after replays, conflicts and refused events were set
    aside)."""
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
        self.dead_letters += len(out.dead_letters)
        self.drift_events += len(out.drift_events)
        self.reference_gaps += len(out.reference_gaps)
        self._count_letters(out.dead_letters)

    def flushed(self, result: FlushResult) -> None:
        """Count what a flush really wrote: frames, replays skipped, and the dead letters the
        store made (``event_id_conflict``) or the flush made of refused events
        (``store_rejected``)."""
        self.frames += result.stats.written["frames"]
        self.replays += result.stats.skipped["frames"]
        made = [
            *result.stats.conflicts,
            *(d for d in result.dead_letters if d.reason == STORE_REJECTED),
        ]
        self.dead_letters += len(made)
        self._count_letters(made)

    def _count_letters(self, letters: Iterable[DeadLetterRecord]) -> None:
        for dl in letters:
            self.dead_letter_reasons[dl.reason] = self.dead_letter_reasons.get(dl.reason, 0) + 1


def _batches(records: Iterable[RawRecord], size: int) -> Iterator[list[RawRecord]]:
    it = iter(records)
    while batch := list(islice(it, size)):
        yield batch


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
    checkpoint = Checkpoint(
        store,
        settings.checkpoint,
        dead_letter_max_payload_bytes=settings.ingest.dead_letter_max_payload_bytes,
        max_backoff_s=10.0,
    )
    summary = RunSummary()
    start = time.perf_counter()
    batches = _batches(records, settings.inference.batch_frames)

    def read_and_prepare() -> tuple[list[RawRecord], PreparedBatch] | None:
        batch = next(batches, None)
        return None if batch is None else (batch, pipeline.prepare(batch))

    # Reading and decoding batch n+1 (in one helper thread) overlaps inference on batch n; the
    # model, the drift state and the store stay on this thread, in input order.
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="linewatch-decode") as pool:
        pending = pool.submit(read_and_prepare)
        while (ready := pending.result()) is not None:
            pending = pool.submit(read_and_prepare)
            raws, prepared = ready
            out = pipeline.complete(prepared)
            checkpoint.add(EventRows.of(out), len(raws))
            if checkpoint.due():
                summary.flushed(checkpoint.flush())
            summary.add(out, len(raws))
            if on_batch is not None:
                on_batch(len(raws), out)
    summary.flushed(checkpoint.flush())
    if labels is not None:
        summary.labels, letters = checkpoint.write_labels(labels(), pipeline.limits)
        summary.label_dead_letters = len(letters)
    summary.elapsed_s = time.perf_counter() - start
    return summary
