-- Compact rows (issue 13 item 5): column types and codecs chosen per column; measured bytes per
-- frame before/after in docs/storage.md (bench/bench_store_scale.py).
--
-- - Image statistics, sensor readings and stage timings: Float32 (7 significant digits; the
--   Python record rounds them the same way, schemas.records.FrameRecord), ZSTD.
-- - max_confidence and detections.confidence stay Float64: SQL threshold comparisons must agree
--   with Python's.
-- - Timestamps: Delta + ZSTD (monotone within a part).
-- - source is one value per event (file:path:line, kafka:topic:partition:offset): a plain
--   String with ZSTD, not LowCardinality. Ids and hashes: ZSTD.
-- A type change rewrites the existing parts once (a mutation); codec-only changes apply as
-- parts are merged.
-- The rollup views of 072 read Float64 columns: recreated below with explicit casts.
DROP VIEW IF EXISTS linewatch.frames_hourly_mv;
DROP VIEW IF EXISTS linewatch.frames_daily_mv;

ALTER TABLE linewatch.frames
    MODIFY COLUMN event_id String CODEC(ZSTD(1)),
    MODIFY COLUMN captured_at DateTime64(3, 'UTC') CODEC(Delta, ZSTD(1)),
    MODIFY COLUMN sensor_lux Nullable(Float32) CODEC(ZSTD(1)),
    MODIFY COLUMN sensor_colour_temp_k Nullable(Float32) CODEC(ZSTD(1)),
    MODIFY COLUMN brightness Float32 CODEC(ZSTD(1)),
    MODIFY COLUMN contrast Float32 CODEC(ZSTD(1)),
    MODIFY COLUMN sharpness Float32 CODEC(ZSTD(1)),
    MODIFY COLUMN colour_cast Float32 CODEC(ZSTD(1)),
    MODIFY COLUMN est_colour_temp_k Float32 CODEC(ZSTD(1)),
    MODIFY COLUMN clipped_high Float32 CODEC(ZSTD(1)),
    MODIFY COLUMN clipped_low Float32 CODEC(ZSTD(1)),
    MODIFY COLUMN detection_count UInt32 CODEC(ZSTD(1)),
    MODIFY COLUMN max_confidence Float64 CODEC(ZSTD(1)),
    MODIFY COLUMN decode_ms Float32 CODEC(ZSTD(1)),
    MODIFY COLUMN inference_ms Float32 CODEC(ZSTD(1)),
    MODIFY COLUMN monitor_ms Float32 CODEC(ZSTD(1)),
    MODIFY COLUMN latency_ms Float32 CODEC(ZSTD(1)),
    MODIFY COLUMN source String CODEC(ZSTD(1)),
    MODIFY COLUMN ingested_at DateTime64(3, 'UTC') CODEC(Delta, ZSTD(1)),
    MODIFY COLUMN content_hash String DEFAULT '' CODEC(ZSTD(1));

ALTER TABLE linewatch.detections
    MODIFY COLUMN event_id String CODEC(ZSTD(1)),
    MODIFY COLUMN captured_at DateTime64(3, 'UTC') CODEC(Delta, ZSTD(1)),
    MODIFY COLUMN confidence Float64 CODEC(ZSTD(1)),
    MODIFY COLUMN x1 Float32 CODEC(ZSTD(1)),
    MODIFY COLUMN y1 Float32 CODEC(ZSTD(1)),
    MODIFY COLUMN x2 Float32 CODEC(ZSTD(1)),
    MODIFY COLUMN y2 Float32 CODEC(ZSTD(1));

ALTER TABLE linewatch.event_keys
    MODIFY COLUMN event_id String CODEC(ZSTD(1)),
    MODIFY COLUMN content_hash String CODEC(ZSTD(1)),
    MODIFY COLUMN captured_at DateTime64(3, 'UTC') CODEC(Delta, ZSTD(1)),
    MODIFY COLUMN source String CODEC(ZSTD(1));

CREATE MATERIALIZED VIEW IF NOT EXISTS linewatch.frames_hourly_mv TO linewatch.frames_hourly AS
SELECT
    line_id, shift, lighting, toStartOfHour(captured_at) AS hour,
    countState() AS frames, sumState(predicted_defective) AS flagged,
    avgState(toFloat64(brightness)) AS brightness, avgState(toFloat64(contrast)) AS contrast,
    avgState(toFloat64(sharpness)) AS sharpness, avgState(toFloat64(colour_cast)) AS colour_cast,
    avgState(max_confidence) AS max_confidence,
    quantilesTDigestState(0.5, 0.95, 0.99)(toFloat64(latency_ms)) AS latency_ms
FROM linewatch.frames
GROUP BY line_id, shift, lighting, hour;

CREATE MATERIALIZED VIEW IF NOT EXISTS linewatch.frames_daily_mv TO linewatch.frames_daily AS
SELECT
    line_id, shift, lighting, toStartOfDay(captured_at) AS hour,
    countState() AS frames, sumState(predicted_defective) AS flagged,
    avgState(toFloat64(brightness)) AS brightness, avgState(toFloat64(contrast)) AS contrast,
    avgState(toFloat64(sharpness)) AS sharpness, avgState(toFloat64(colour_cast)) AS colour_cast,
    avgState(max_confidence) AS max_confidence,
    quantilesTDigestState(0.5, 0.95, 0.99)(toFloat64(latency_ms)) AS latency_ms
FROM linewatch.frames
GROUP BY line_id, shift, lighting, hour;
