"""Per-partition drift state for the streaming workers, persisted beside the data it explains.

Each Kafka partition of ``camera-events`` carries whole camera lines (events are keyed by
``line_id``), so each partition owns a disjoint set of slices and gets its own
:class:`~streams.drift.DriftMonitor`. After a batch's rows are written, the worker saves each
touched partition's monitor with the highest offset it includes (table ``monitor_snapshots``).
A worker that (re)gains the partition restores the newest snapshot and skips events at or below
its offset — their rows are already stored — so a restart or a rebalance resumes the detectors
instead of cold-starting them, and a replay never observes an event twice.
"""

from __future__ import annotations

import base64
import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime

from schemas.records import MonitorSnapshotRecord
from streams.config import Settings
from streams.drift import DriftMonitor, ReferenceProfile
from streams.sinks import ClickHouseStore

__all__ = ["PartitionMonitors"]

log = logging.getLogger(__name__)

_LATEST_SQL = """
SELECT offset, snapshot FROM linewatch.monitor_snapshots
WHERE group_id = {group:String} AND topic = {topic:String} AND partition = {partition:UInt32}
ORDER BY offset DESC LIMIT 1
"""


@dataclass
class PartitionMonitors:
    """Drift monitors keyed by partition, loaded lazily from and saved to the store."""

    store: ClickHouseStore
    reference: ReferenceProfile
    settings: Settings
    group_id: str
    topic: str
    monitors: dict[int, DriftMonitor] = field(default_factory=dict)
    committed: dict[int, int] = field(default_factory=dict)
    warm: set[int] = field(default_factory=set)
    """Partitions this process has saved a snapshot for since it (re)gained them."""

    def monitor(self, partition: int) -> DriftMonitor:
        """The partition's monitor, restored from its newest snapshot on first use."""
        found = self.monitors.get(partition)
        if found is not None:
            return found
        rows = self.store.query(
            _LATEST_SQL,
            {"group": self.group_id, "topic": self.topic, "partition": partition},
        ).result_rows
        if rows:
            offset, blob = rows[0]
            monitor = DriftMonitor.restore(base64.b64decode(blob), self.reference, self.settings)
            self.committed[partition] = int(offset)
            log.info("partition %d: resumed drift state at offset %d", partition, offset)
        else:
            monitor = DriftMonitor(self.reference, self.settings)
            self.committed[partition] = -1
            log.info("partition %d: no snapshot, starting drift state fresh", partition)
        self.monitors[partition] = monitor
        return monitor

    def already_stored(self, partition: int, offset: int) -> bool:
        """Whether an event at ``offset`` is covered by the restored snapshot."""
        self.monitor(partition)
        return offset <= self.committed[partition]

    def snapshots(self, offsets: dict[int, int]) -> list[MonitorSnapshotRecord]:
        """Snapshot records for the given partitions at their last processed offsets."""
        now = datetime.now(UTC)
        records = []
        for partition, offset in sorted(offsets.items()):
            blob = self.monitors[partition].snapshot()
            records.append(
                MonitorSnapshotRecord(
                    group_id=self.group_id,
                    topic=self.topic,
                    partition=partition,
                    offset=offset,
                    snapshot=base64.b64encode(blob).decode(),
                    saved_at=now,
                )
            )
        return records

    def mark_saved(self, offsets: dict[int, int]) -> None:
        """Record that snapshots up to ``offsets`` are durable."""
        for partition, offset in offsets.items():
            self.committed[partition] = max(self.committed.get(partition, -1), offset)
            self.warm.add(partition)

    def is_warm(self, partition: int) -> bool:
        """Whether every event of ``partition`` not yet snapshotted is new to the store.

        True once this process has written and snapshotted a batch of the partition since it
        (re)gained it: from then on only this process writes the partition, in offset order.
        """
        return partition in self.warm

    def forget(self, partitions: set[int]) -> None:
        """Drop state of revoked partitions (their snapshots stay in the store)."""
        for partition in partitions:
            self.monitors.pop(partition, None)
            self.committed.pop(partition, None)
            self.warm.discard(partition)
