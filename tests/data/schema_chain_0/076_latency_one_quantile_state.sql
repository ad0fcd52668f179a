-- v_latency_by_line with one exact-quantile state per column (issue 13 item 2).
--
-- 071 computed p50, p95 and p99 with three quantileExact calls: each keeps its own copy of every
-- latency of the line (and two more for inference): five arrays of all frames, 250 MB more peak
-- memory on a 10M-frame store. quantilesExact(levels) keeps one array per column and picks each
-- level from it the same way (nth element): identical values (tests/test_storage_schema.py
-- compares it with 071's definition).
CREATE OR REPLACE VIEW linewatch.v_latency_by_line AS
SELECT
    line_id, frames,
    latency[1] AS p50_ms, latency[2] AS p95_ms, latency[3] AS p99_ms,
    max_ms,
    inference[1] AS inference_p50_ms, inference[2] AS inference_p99_ms
FROM (
    SELECT
        line_id,
        count() AS frames,
        quantilesExact(0.5, 0.95, 0.99)(latency_ms) AS latency,
        max(latency_ms) AS max_ms,
        quantilesExact(0.5, 0.99)(inference_ms) AS inference
    FROM linewatch.frames FINAL
    GROUP BY line_id
);
