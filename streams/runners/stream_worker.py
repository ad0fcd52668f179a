"""What a streaming worker does with a micro-batch, independent of Faust.

The Faust agents (:mod:`streams.runners.faust_app`) only move bytes between Kafka and this
class; everything here is plain, blocking code that the agents run off the event loop.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from schemas.records import StoreRecord
from streams.config import Settings
from streams.errors import StoreError
from streams.inference import Detector
from streams.ingest import RawRecord
from streams.pipeline import MonitoringPipeline, PipelineOutput
from streams.readiness.labels import label_records
from streams.runners.partitions import PartitionMonitors
from streams.runners.reference import load_reference
from streams.sinks import ClickHouseStore

__all__ = ["KafkaRecord", "StreamWorker"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class KafkaRecord:
    """A raw record with the partition and offset it was read from."""

    raw: RawRecord
    partition: int
    offset: int


class StreamWorker:
    """Runs batches from ``camera-events`` and ``labels`` into the store, durably."""

    def __init__(
        self,
        settings: Settings,
        pipeline: MonitoringPipeline,
        store: ClickHouseStore,
        partitions: PartitionMonitors,
        *,
        sleep: Callable[[float], None] = time.sleep,
        max_backoff_s: float = 30.0,
    ) -> None:
        self.settings = settings
        self.pipeline = pipeline
        self.store = store
        self.partitions = partitions
        self._sleep = sleep
        self._max_backoff_s = max_backoff_s

    @classmethod
    def create(cls, settings: Settings) -> StreamWorker:
        """Load the detector and reference, open the store and apply the schema."""
        detector = Detector.load(settings.model)
        reference = load_reference(settings)
        store = ClickHouseStore.open(settings.store, password=settings.store_password)
        store.apply_schema()
        pipeline = MonitoringPipeline(settings, detector, reference)
        partitions = PartitionMonitors(
            store, reference, settings, settings.worker_id, settings.topic_events
        )
        return cls(settings, pipeline, store, partitions)

    def write(self, records: Sequence[StoreRecord], *, known_new: bool = False) -> None:
        """Insert rows, retrying with exponential backoff while the store is unavailable.

        Never gives up: losing or skipping events is worse than stalling, and the caller's
        Kafka consumer stops fetching while this call blocks.
        """
        delay = 0.5
        attempt = 1
        while True:
            try:
                self.store.insert(records, known_new=known_new)
                if attempt > 1:
                    log.warning("store is back after %d attempts; resuming", attempt)
                return
            except StoreError as exc:
                log.warning(
                    "store write failed (attempt %d, %d rows): %s — retrying in %.1fs; "
                    "consumption is paused meanwhile",
                    attempt,
                    len(records),
                    exc,
                    delay,
                )
                self._sleep(delay)
                delay = min(delay * 2, self._max_backoff_s)
                attempt += 1
                known_new = False  # part of the batch may have landed: look keys up again

    def handle_events(self, batch: Sequence[KafkaRecord]) -> tuple[PipelineOutput, dict[int, int]]:
        """Process and store a batch; returns its output and the last offset per partition.

        Events already covered by a restored snapshot are skipped (they are stored).
        """
        fresh = [r for r in batch if not self.partitions.already_stored(r.partition, r.offset)]
        offsets: dict[int, int] = {}
        for r in fresh:
            offsets[r.partition] = max(offsets.get(r.partition, -1), r.offset)
        if not fresh:
            return PipelineOutput(), offsets
        partition_of = {r.raw.source: r.partition for r in fresh}
        out = self.pipeline.process(
            [r.raw for r in fresh],
            monitor_of=lambda raw: self.partitions.monitor(partition_of[raw.source]),
        )
        # Only the first batch of a partition after (re)gaining it can hold rows that are
        # already stored (written before a crash, after the last snapshot); later batches are
        # new by construction, so their writes skip the stored-key lookup.
        warm = all(self.partitions.is_warm(p) for p in offsets)
        self.write(out.records(), known_new=warm)
        return out, offsets

    def save_state(self, offsets: dict[int, int]) -> None:
        """Persist the drift state of the partitions a stored batch touched."""
        if offsets:
            # each snapshot row's key includes its new, higher offset: never stored before
            self.write(self.partitions.snapshots(offsets), known_new=True)
            self.partitions.mark_saved(offsets)

    def handle_labels(self, batch: Sequence[RawRecord]) -> int:
        """Validate and store ground-truth messages; malformed ones become dead letters."""
        good, bad = label_records(
            batch,
            limits=self.pipeline.limits,
            max_payload_bytes=self.settings.dead_letter_max_payload_bytes,
        )
        self.write([*good, *bad])
        return len(good)

    def revoke(self, partitions: set[int]) -> None:
        """Forget the drift state of partitions this worker no longer owns."""
        self.partitions.forget(partitions)

    def close(self) -> None:
        """Release the store."""
        self.store.close()
