-- Drift alarms (schemas.records.DriftEventRecord); idempotency key: drift_id.
-- A small table: sorted by line then key (detected_at is not in the sort key so a replay
-- that re-derives it differently still collapses onto the same row).
CREATE TABLE IF NOT EXISTS linewatch.drift_events
(
    drift_id         String,
    line_id          LowCardinality(String),
    shift            LowCardinality(String),
    lighting         LowCardinality(String),
    signal           LowCardinality(String),
    detector         LowCardinality(String),
    detected_at      DateTime64(3, 'UTC'),
    trigger_event_id String,
    statistic        Float64,
    threshold        Float64,
    events_in_slice  UInt64,
    before_mean      Float64,
    before_std       Float64,
    after_mean       Float64,
    after_std        Float64
)
ENGINE = ReplacingMergeTree
ORDER BY (line_id, drift_id)
SETTINGS non_replicated_deduplication_window = 1000;
