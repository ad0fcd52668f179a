-- Hourly and daily rollups per slice, and retention (issue 13 item 4).
--
-- frames_hourly / frames_daily: AggregatingMergeTree per line x shift x lighting x period, fed
-- by materialized views on every insert into frames (backfilled below). Read them with the
-- -Merge combinators, e.g. frames per line and hour:
--   SELECT line_id, hour, countMerge(frames) FROM linewatch.frames_hourly GROUP BY line_id, hour
-- They answer dashboard queries over months from thousands of rows instead of millions. They
-- count what the writer inserted: a duplicate that got past the writer's lookup and its dedup
-- token (two writers racing on one batch) is counted twice here, never in the FINAL views.
--
-- Retention: every table drops whole parts only (ttl_only_drop_parts = 1), so TTL costs no
-- rewrite. The TTL itself is set per table by `linewatch schema retention TABLE DAYS`
-- (ClickHouseStore.set_retention): none by default (nothing is deleted unless asked).
CREATE TABLE IF NOT EXISTS linewatch.frames_hourly
(
    line_id        LowCardinality(String),
    shift          LowCardinality(String),
    lighting       LowCardinality(String),
    hour           DateTime('UTC'),
    frames         AggregateFunction(count),
    flagged        AggregateFunction(sum, UInt8),
    brightness     AggregateFunction(avg, Float64),
    contrast       AggregateFunction(avg, Float64),
    sharpness      AggregateFunction(avg, Float64),
    colour_cast    AggregateFunction(avg, Float64),
    max_confidence AggregateFunction(avg, Float64),
    latency_ms     AggregateFunction(quantilesTDigest(0.5, 0.95, 0.99), Float64)
)
ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMM(hour)
ORDER BY (line_id, shift, lighting, hour)
SETTINGS ttl_only_drop_parts = 1;

CREATE MATERIALIZED VIEW IF NOT EXISTS linewatch.frames_hourly_mv TO linewatch.frames_hourly AS
SELECT
    line_id, shift, lighting, toStartOfHour(captured_at) AS hour,
    countState() AS frames, sumState(predicted_defective) AS flagged,
    avgState(brightness) AS brightness, avgState(contrast) AS contrast,
    avgState(sharpness) AS sharpness, avgState(colour_cast) AS colour_cast,
    avgState(max_confidence) AS max_confidence,
    quantilesTDigestState(0.5, 0.95, 0.99)(latency_ms) AS latency_ms
FROM linewatch.frames
GROUP BY line_id, shift, lighting, hour;

CREATE TABLE IF NOT EXISTS linewatch.frames_daily AS linewatch.frames_hourly
ENGINE = AggregatingMergeTree
PARTITION BY toYear(hour)
ORDER BY (line_id, shift, lighting, hour)
SETTINGS ttl_only_drop_parts = 1;

CREATE MATERIALIZED VIEW IF NOT EXISTS linewatch.frames_daily_mv TO linewatch.frames_daily AS
SELECT
    line_id, shift, lighting, toStartOfDay(captured_at) AS hour,
    countState() AS frames, sumState(predicted_defective) AS flagged,
    avgState(brightness) AS brightness, avgState(contrast) AS contrast,
    avgState(sharpness) AS sharpness, avgState(colour_cast) AS colour_cast,
    avgState(max_confidence) AS max_confidence,
    quantilesTDigestState(0.5, 0.95, 0.99)(latency_ms) AS latency_ms
FROM linewatch.frames
GROUP BY line_id, shift, lighting, hour;

-- Backfill from the deduplicated frames (only if the rollups are still empty, so a repeat of
-- this file after an interruption does not count twice).
INSERT INTO linewatch.frames_hourly
SELECT
    line_id, shift, lighting, toStartOfHour(captured_at) AS hour,
    countState(), sumState(predicted_defective), avgState(brightness), avgState(contrast),
    avgState(sharpness), avgState(colour_cast), avgState(max_confidence),
    quantilesTDigestState(0.5, 0.95, 0.99)(latency_ms)
FROM linewatch.frames FINAL
WHERE (SELECT count() FROM linewatch.frames_hourly) = 0
GROUP BY line_id, shift, lighting, hour;

INSERT INTO linewatch.frames_daily
SELECT
    line_id, shift, lighting, toStartOfDay(captured_at) AS hour,
    countState(), sumState(predicted_defective), avgState(brightness), avgState(contrast),
    avgState(sharpness), avgState(colour_cast), avgState(max_confidence),
    quantilesTDigestState(0.5, 0.95, 0.99)(latency_ms)
FROM linewatch.frames FINAL
WHERE (SELECT count() FROM linewatch.frames_daily) = 0
GROUP BY line_id, shift, lighting, hour;

ALTER TABLE linewatch.frames MODIFY SETTING ttl_only_drop_parts = 1;
ALTER TABLE linewatch.detections MODIFY SETTING ttl_only_drop_parts = 1;
ALTER TABLE linewatch.event_keys MODIFY SETTING ttl_only_drop_parts = 1;
ALTER TABLE linewatch.drift_events MODIFY SETTING ttl_only_drop_parts = 1;
ALTER TABLE linewatch.labels MODIFY SETTING ttl_only_drop_parts = 1;
ALTER TABLE linewatch.dead_letters MODIFY SETTING ttl_only_drop_parts = 1;
