-- Drift-monitor state per Kafka partition, saved by workers after each batch is written.
-- A worker that takes over a partition resumes its detectors from the row with the highest
-- offset (ReplacingMergeTree keeps the latest), and skips events at or below that offset:
-- their rows are already in the store.
CREATE TABLE IF NOT EXISTS linewatch.monitor_snapshots
(
    group_id   LowCardinality(String),
    topic      LowCardinality(String),
    partition  UInt32,
    offset     Int64,
    snapshot   String CODEC(ZSTD(3)),
    saved_at   DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree(offset)
ORDER BY (group_id, topic, partition, offset);
