-- Event identity (issue 13 item 1, issue 8 item 3).
--
-- frames.content_hash: blake2b-128 of the raw input event (schemas.records.content_hash);
-- '' for rows written before this migration (unknown content: never reported as a conflict).
--
-- event_keys: one narrow row per stored frame, sorted by event_id, fed by a materialized view
-- on every insert into frames (and backfilled below). The writer's "is this event_id stored
-- already, and with which content?" lookup reads it by primary key: it touches only the
-- granules that can hold the batch's keys (small granules, small compression blocks), so its
-- cost per batch does not grow with the history, and it finds an event_id whatever line or
-- capture time it was stored under (a conflict from another line is still found).
ALTER TABLE linewatch.frames ADD COLUMN IF NOT EXISTS content_hash String DEFAULT '';

CREATE TABLE IF NOT EXISTS linewatch.event_keys
(
    event_id     String,
    content_hash String,
    line_id      LowCardinality(String),
    captured_at  DateTime64(3, 'UTC'),
    source       String
)
ENGINE = ReplacingMergeTree
ORDER BY event_id
SETTINGS index_granularity = 256, min_compress_block_size = 4096,
         non_replicated_deduplication_window = 1000;

CREATE MATERIALIZED VIEW IF NOT EXISTS linewatch.event_keys_mv TO linewatch.event_keys AS
SELECT event_id, content_hash, line_id, captured_at, toString(source) AS source
FROM linewatch.frames;

-- Backfill the frames stored before this migration (a repeat after an interrupted run only
-- adds rows that ReplacingMergeTree collapses; the lookup reads DISTINCT rows).
INSERT INTO linewatch.event_keys
SELECT event_id, content_hash, line_id, captured_at, toString(source) FROM linewatch.frames
WHERE event_id NOT IN (SELECT event_id FROM linewatch.event_keys);
