"""Per-partition state for the streaming workers, persisted beside the data it explains.

Each Kafka partition of ``camera-events`` carries whole camera lines (events are keyed by
``line_id``), so each partition owns a disjoint set of slices and cameras and gets its own
:class:`~streams.drift.partition_state.PartitionState` (drift monitor, camera health, product
mix, cause memory). With the rows of every few flushes (and on revocation and stop), the
worker's :class:`~streams.runners.checkpoint.Checkpoint` saves each partition's state changed
since as one snapshot with the highest offset it includes (table ``monitor_snapshots``). A worker
that (re)gains the partition restores the newest snapshot and skips events at or below its
offset — their rows are already stored — so a restart or a rebalance resumes the partition
instead of cold-starting it, and a replay never observes an event twice. A snapshot that is not
the current format (an older version, a pickle, another reference profile) is refused: the
partition starts cold after that offset.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

from schemas.records import MonitorSnapshotRecord
from streams.config import Settings
from streams.drift import ReferenceProfile
from streams.drift.partition_state import PartitionState
from streams.errors import ConfigError
from streams.sinks import ClickHouseStore
from streams.sinks.reads.snapshots import latest_snapshot

__all__ = ["PartitionStates"]

log = logging.getLogger(__name__)


@dataclass
class PartitionStates:
    """Partition states keyed by partition, loaded lazily from and saved to the store."""

    store: ClickHouseStore
    reference: ReferenceProfile
    settings: Settings
    group_id: str
    topic: str
    states: dict[int, PartitionState] = field(default_factory=dict)
    committed: dict[int, int] = field(default_factory=dict)
    warm: set[int] = field(default_factory=set)
    """Partitions whose every event not yet written is new to the store (see :meth:`is_warm`)."""

    def state(self, partition: int) -> PartitionState:
        """The partition's state, restored from its newest snapshot on first use."""
        found = self.states.get(partition)
        if found is not None:
            return found
        latest = latest_snapshot(self.store, self.group_id, self.topic, partition)
        state = None
        if latest is not None:
            offset, text = latest
            self.committed[partition] = int(offset)
            try:
                state = PartitionState.restore(text.encode(), self.reference, self.settings)
                log.info("partition %d: resumed its state at offset %d", partition, offset)
            except ConfigError as exc:
                log.warning(
                    "partition %d: snapshot at offset %d refused, starting its state cold "
                    "after it: %s",
                    partition,
                    offset,
                    exc,
                )
        else:
            self.committed[partition] = -1
            log.info("partition %d: no snapshot, starting its state fresh", partition)
        if state is None:
            state = PartitionState(self.reference, self.settings)
        self.states[partition] = state
        return state

    def already_stored(self, partition: int, offset: int) -> bool:
        """Whether an event at ``offset`` is covered by the restored snapshot."""
        self.state(partition)
        return offset <= self.committed[partition]

    def snapshots(self, offsets: Mapping[int, int]) -> list[MonitorSnapshotRecord]:
        """Snapshot records for the given partitions at their last processed offsets."""
        now = datetime.now(UTC)
        return [
            MonitorSnapshotRecord(
                group_id=self.group_id,
                topic=self.topic,
                partition=partition,
                offset=offset,
                snapshot=self.states[partition].snapshot().decode(),
                saved_at=now,
            )
            for partition, offset in sorted(offsets.items())
        ]

    def mark_saved(self, offsets: Mapping[int, int]) -> None:
        """Record that snapshots up to ``offsets`` are durable."""
        for partition, offset in offsets.items():
            self.committed[partition] = max(self.committed.get(partition, -1), offset)

    def mark_new(self, partitions: Iterable[int]) -> None:
        """A flush of these partitions found none of its rows already stored."""
        self.warm.update(partitions)

    def is_warm(self, partition: int) -> bool:
        """Whether every event of ``partition`` not yet written is new to the store.

        True once a flush of the partition since this process (re)gained it found none of its
        rows stored: the replay of what a previous owner wrote after its last snapshot is over,
        and from then on only this process writes the partition, in offset order.
        """
        return partition in self.warm

    def forget(self, partitions: set[int]) -> None:
        """Drop state of revoked partitions (their snapshots stay in the store)."""
        for partition in partitions:
            self.states.pop(partition, None)
            self.committed.pop(partition, None)
            self.warm.discard(partition)
