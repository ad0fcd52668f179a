-- One predicted box (schemas.records.DetectionRecord); idempotency key: (event_id, det_index).
-- confidence stays Float64 so SQL threshold comparisons agree with Python's.
CREATE TABLE IF NOT EXISTS linewatch.detections
(
    event_id    String,
    det_index   UInt32,
    line_id     LowCardinality(String),
    captured_at DateTime64(3, 'UTC'),
    class_name  LowCardinality(String),
    confidence  Float64,
    x1          Float32,
    y1          Float32,
    x2          Float32,
    y2          Float32,
    INDEX idx_event_id event_id TYPE bloom_filter(0.01) GRANULARITY 1
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(captured_at)
ORDER BY (line_id, captured_at, event_id, det_index)
SETTINGS non_replicated_deduplication_window = 1000;
