-- One processed camera event (schemas.records.FrameRecord); idempotency key: event_id.
-- Sorted by line and capture time (the readiness and drill-down queries); the key ends the
-- sort key so ReplacingMergeTree collapses replays. A bloom filter lets the writer's
-- "which event_ids exist already?" lookup skip granules.
CREATE TABLE IF NOT EXISTS linewatch.frames
(
    event_id             String,
    line_id              LowCardinality(String),
    camera_id            LowCardinality(String),
    captured_at          DateTime64(3, 'UTC'),
    shift                LowCardinality(String),
    lighting             LowCardinality(String),
    product_variant      LowCardinality(String),
    sensor_lux           Nullable(Float64),
    sensor_colour_temp_k Nullable(Float64),
    brightness           Float64,
    contrast             Float64,
    sharpness            Float64,
    colour_cast          Float64,
    est_colour_temp_k    Float64,
    clipped_high         Float64,
    clipped_low          Float64,
    model_name           LowCardinality(String),
    model_version        LowCardinality(String),
    detection_count      UInt32,
    max_confidence       Float64,
    predicted_defective  UInt8,
    decode_ms            Float64,
    inference_ms         Float64,
    monitor_ms           Float64,
    latency_ms           Float64,
    source               LowCardinality(String),
    ingested_at          DateTime64(3, 'UTC'),
    INDEX idx_event_id event_id TYPE bloom_filter(0.01) GRANULARITY 1
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(captured_at)
ORDER BY (line_id, captured_at, event_id)
SETTINGS non_replicated_deduplication_window = 1000;
