"""What a streaming worker reads back when it (re)gains a partition
(:mod:`streams.runners.partitions`): the partition's newest monitor snapshot."""

from __future__ import annotations

from streams.sinks.clickhouse import ClickHouseStore

__all__ = ["LATEST_SNAPSHOT_SQL", "latest_snapshot"]

LATEST_SNAPSHOT_SQL = """
SELECT offset, snapshot FROM linewatch.monitor_snapshots
WHERE group_id = {group:String} AND topic = {topic:String} AND partition = {partition:UInt32}
ORDER BY offset DESC LIMIT 1
"""


def latest_snapshot(
    store: ClickHouseStore, group_id: str, topic: str, partition: int
) -> tuple[int, str] | None:
    """``(offset, snapshot text)`` of the partition's snapshot with the highest offset, or
    ``None`` when it has none."""
    rows = store.query(
        LATEST_SNAPSHOT_SQL, {"group": group_id, "topic": topic, "partition": partition}
    ).result_rows
    if not rows:
        return None
    offset, text = rows[0]
    return int(offset), str(text)
