"""What reads partition snapshots back: a streaming worker that (re)gains a partition
(:mod:`streams.runners.partitions`) reads its newest one; the snapshot bench and the storage
tests count the rows left per partition and weigh them against the frame rows."""

from __future__ import annotations

from collections.abc import Sequence

from streams.sinks.clickhouse import ClickHouseStore

__all__ = [
    "LATEST_SNAPSHOT_SQL",
    "ROWS_PER_PARTITION_SQL",
    "TABLE_BYTES_SQL",
    "latest_snapshot",
    "rows_per_partition",
    "table_bytes",
]

LATEST_SNAPSHOT_SQL = """
SELECT offset, snapshot FROM linewatch.monitor_snapshots
WHERE group_id = {group:String} AND topic = {topic:String} AND partition = {partition:UInt32}
ORDER BY offset DESC LIMIT 1
"""

ROWS_PER_PARTITION_SQL = """
SELECT group_id, topic, partition, count() FROM linewatch.monitor_snapshots {final}
GROUP BY group_id, topic, partition
"""

TABLE_BYTES_SQL = """
SELECT table, sum(rows), sum(bytes_on_disk) FROM system.parts
WHERE database = 'linewatch' AND active AND table IN {tables:Array(String)}
GROUP BY table
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


def rows_per_partition(
    store: ClickHouseStore, *, final: bool = False
) -> dict[tuple[str, str, int], int]:
    """Snapshot rows per ``(group_id, topic, partition)``: as stored now (parts not merged yet
    hold replaced rows too), or with ``final`` as the engine keeps them (``FINAL``)."""
    sql = ROWS_PER_PARTITION_SQL.replace("{final}", "FINAL" if final else "")
    return {
        (str(group), str(topic), int(partition)): int(n)
        for group, topic, partition, n in store.query(sql).result_rows
    }


def table_bytes(store: ClickHouseStore, tables: Sequence[str]) -> dict[str, tuple[int, int]]:
    """``(rows, bytes on disk)`` of each table of ``tables`` that holds rows (active parts,
    compressed, marks and indexes included, as docs/storage.md counts them)."""
    rows = store.query(TABLE_BYTES_SQL, {"tables": list(tables)}).result_rows
    return {str(table): (int(n), int(size)) for table, n, size in rows}
