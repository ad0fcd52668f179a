-- Distance of one slice-signal window to the lab reference (schemas.records.ReferenceGapRecord);
-- idempotency key: gap_id.
CREATE TABLE IF NOT EXISTS linewatch.reference_gap
(
    gap_id         String,
    line_id        LowCardinality(String),
    shift          LowCardinality(String),
    lighting       LowCardinality(String),
    signal         LowCardinality(String),
    metric         LowCardinality(String),
    window_start   DateTime64(3, 'UTC'),
    window_end     DateTime64(3, 'UTC'),
    window_events  UInt32,
    distance       Float64,
    reference_mean Float64,
    window_mean    Float64
)
ENGINE = ReplacingMergeTree
ORDER BY (line_id, signal, gap_id)
SETTINGS non_replicated_deduplication_window = 1000;
