"""``monitor_snapshots`` stays bounded: the engine keeps the latest snapshot per partition.

The table is sorted by ``(group_id, topic, partition)`` with the offset as the
``ReplacingMergeTree`` version, so however many snapshots a worker writes, a partition holds one
row once parts merge (and ``FINAL`` reads one at any time), the one with the highest offset —
the one a worker restores. Written here as a six-partition worker writes them in an hour at full
speed with a snapshot on every flush (the most the cadence can write), on a real chDB store.
"""

from __future__ import annotations

from pathlib import Path

from streams.config import Settings
from streams.drift.partition_state import PartitionState
from streams.runners.partitions import PartitionStates
from streams.runners.reference import load_reference
from streams.sinks import ClickHouseStore
from streams.sinks.reads.snapshots import latest_snapshot, rows_per_partition

PARTITIONS = 6
LATEST = 1
"""N: the rows the engine keeps per partition."""


def _rows(store: ClickHouseStore, *, final: bool = False) -> dict[tuple[str, int], int]:
    return {(g, p): n for (g, _, p), n in rows_per_partition(store, final=final).items()}


def test_an_hour_of_snapshots_leaves_the_latest_per_partition(tmp_path: Path) -> None:
    settings = Settings(store={"dsn": f"chdb://{tmp_path / 'store'}"})
    flushes = round(3600 / settings.checkpoint.flush_interval_s)  # an hour, one flush per interval
    reference = load_reference(settings)
    with ClickHouseStore.open(settings.store.dsn) as store:
        store.apply_schema()
        groups = {
            group: PartitionStates(store, reference, settings, group, "camera-events")
            for group in ("plant-a", "plant-b")
        }
        for states in groups.values():
            for p in range(PARTITIONS):
                states.states[p] = PartitionState(reference, settings)
        # what each partition's snapshot holds does not matter here: one per partition, copied
        # to each offset (an hour of real snapshots would be ~30 MB of JSON to build)
        first = {
            group: states.snapshots({p: 0 for p in range(PARTITIONS)})
            for group, states in groups.items()
        }
        per_insert = 300  # offsets per partition per insert: fewer inserts, the same rows
        for start in range(0, flushes, per_insert):
            store.insert(
                [
                    record.model_copy(update={"offset": offset})
                    for records in first.values()
                    for offset in range(start, min(start + per_insert, flushes))
                    for record in records
                ],
                known_new=True,
            )
        assert _rows(store, final=True) == {
            (g, p): LATEST for g in groups for p in range(PARTITIONS)
        }
        store.command("OPTIMIZE TABLE linewatch.monitor_snapshots FINAL")  # the merges, now
        assert _rows(store) == {(g, p): LATEST for g in groups for p in range(PARTITIONS)}
        for group in groups:
            for p in range(PARTITIONS):
                found = latest_snapshot(store, group, "camera-events", p)
                assert found is not None and found[0] == flushes - 1
