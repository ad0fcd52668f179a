-- Ground truth per event (schemas.records.LabelRecord); idempotency key: label_id.
-- Sorted by event_id first: labels are joined to frames by event.
CREATE TABLE IF NOT EXISTS linewatch.labels
(
    label_id     String,
    event_id     String,
    source       LowCardinality(String),
    labelled_at  DateTime64(3, 'UTC'),
    object_count UInt32,
    class_names  Array(String),
    boxes        Array(Array(Float32)),
    ingested_at  DateTime64(3, 'UTC'),
    INDEX idx_label_id label_id TYPE bloom_filter(0.01) GRANULARITY 1
)
ENGINE = ReplacingMergeTree
ORDER BY (event_id, label_id)
SETTINGS non_replicated_deduplication_window = 1000;
