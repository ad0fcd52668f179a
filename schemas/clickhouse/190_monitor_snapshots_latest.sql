-- monitor_snapshots keeps the latest snapshot per (group_id, topic, partition).
-- 045 sorted it by offset too, so ReplacingMergeTree never replaced a row and the table grew by
-- one full snapshot per partition per flush. Sorted by the partition alone, with the offset as
-- the version, merges keep only the row with the highest offset; until a merge, readers take
-- `ORDER BY offset DESC LIMIT 1` (streams/runners/partitions.py) and get the same row.
CREATE TABLE IF NOT EXISTS linewatch.monitor_snapshots_latest
(
    group_id   LowCardinality(String),
    topic      LowCardinality(String),
    partition  UInt32,
    offset     Int64,
    snapshot   String CODEC(ZSTD(3)),
    saved_at   DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree(offset)
ORDER BY (group_id, topic, partition);

INSERT INTO linewatch.monitor_snapshots_latest
SELECT group_id, topic, partition, offset, snapshot, saved_at
FROM linewatch.monitor_snapshots
ORDER BY offset DESC
LIMIT 1 BY group_id, topic, partition;

DROP TABLE IF EXISTS linewatch.monitor_snapshots;

RENAME TABLE linewatch.monitor_snapshots_latest TO linewatch.monitor_snapshots;
