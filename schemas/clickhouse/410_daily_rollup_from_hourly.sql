-- frames_daily becomes a view over frames_hourly: each insert into frames feeds two
-- materialized views (event_keys_mv, frames_hourly_mv) instead of three, which cuts the
-- store flush's fixed cost per write (docs/storage.md, "Rollups"; bench/bench_flush_views.py).
-- The view gives the daily rows from the hourly ones at query time: the same columns and types
-- (aggregate states, through the -MergeState combinators), so every reader of frames_daily
-- (countMerge(frames), sumMerge(flagged), avgMerge(...), quantilesTDigestMerge(...)) keeps its
-- SQL. Counts and sums are the table's; averages are the same sums in another order (equal to
-- ~1e-15 relative); t-digest quantiles are approximate in both (they already depended on how
-- the inserts were split). Daily rows now follow frames_hourly's retention: the old table's
-- rows (and any TTL set on it) are dropped with it, and the hourly table holds the same days
-- unless its TTL was set shorter than the daily one's.
-- Idempotent: a run interrupted after the DROP TABLE (which also drops this file's view) is
-- repeated from the start.
DROP VIEW IF EXISTS linewatch.frames_daily_mv;

DROP TABLE IF EXISTS linewatch.frames_daily;

CREATE VIEW IF NOT EXISTS linewatch.frames_daily AS
SELECT
    line_id, shift, lighting, toStartOfDay(hour) AS hour,
    countMergeState(frames) AS frames, sumMergeState(flagged) AS flagged,
    avgMergeState(brightness) AS brightness, avgMergeState(contrast) AS contrast,
    avgMergeState(sharpness) AS sharpness, avgMergeState(colour_cast) AS colour_cast,
    avgMergeState(max_confidence) AS max_confidence,
    quantilesTDigestMergeState(0.5, 0.95, 0.99)(latency_ms) AS latency_ms
FROM linewatch.frames_hourly
GROUP BY line_id, shift, lighting, hour;
