-- Exact counts before merges run, and label coverage without a set of every frame (issue 13
-- items 2 and 3). Replaces views of 060_readiness_views.sql (applied files never change).
--
-- A duplicate row (a replay that got past the writer's lookup and its dedup token, e.g. two
-- writers racing) stays visible until ReplacingMergeTree merges it away. Every view that counts
-- frames therefore reads `frames FINAL`; views over labels count uniqExact(event_id);
-- v_frame_outcomes is FINAL already (060).

CREATE OR REPLACE VIEW linewatch.v_latency_by_line AS
SELECT
    line_id,
    count() AS frames,
    quantileExact(0.5)(latency_ms) AS p50_ms,
    quantileExact(0.95)(latency_ms) AS p95_ms,
    quantileExact(0.99)(latency_ms) AS p99_ms,
    max(latency_ms) AS max_ms,
    quantileExact(0.5)(inference_ms) AS inference_p50_ms,
    quantileExact(0.99)(inference_ms) AS inference_p99_ms
FROM linewatch.frames FINAL
GROUP BY line_id;

-- Parameterised: SELECT * FROM linewatch.v_review_queue(review_low = 0.15, review_high = 0.5)
CREATE OR REPLACE VIEW linewatch.v_review_queue AS
SELECT
    f.event_id AS event_id, f.line_id AS line_id, f.camera_id AS camera_id,
    f.captured_at AS captured_at, f.shift AS shift, f.lighting AS lighting,
    f.max_confidence AS max_confidence, f.detection_count AS detection_count,
    f.event_id IN (SELECT event_id FROM linewatch.labels) AS labelled
FROM linewatch.frames AS f FINAL
WHERE f.max_confidence >= {review_low:Float64} AND f.max_confidence < {review_high:Float64};

CREATE OR REPLACE VIEW linewatch.v_confidence_hist_production AS
SELECT line_id, least(floor(max_confidence * 20), 19) / 20 AS bin, count() AS frames
FROM linewatch.frames FINAL
GROUP BY line_id, bin;

-- Labels whose frame is not (yet) in the store, and labelled / all frames. The frames of the
-- labelled events are found in event_keys (070) by its primary key: a set of the labels'
-- event ids, never one of every frame.
CREATE OR REPLACE VIEW linewatch.v_label_coverage AS
SELECT
    (SELECT count() FROM linewatch.frames FINAL) AS frames,
    (SELECT uniqExact(event_id) FROM linewatch.labels) AS labelled_events,
    (SELECT uniqExact(event_id) FROM linewatch.labels
        WHERE event_id NOT IN (
            SELECT event_id FROM linewatch.event_keys
            WHERE event_id IN (SELECT event_id FROM linewatch.labels))) AS labels_without_frames,
    (SELECT count() FROM linewatch.v_frame_outcomes) AS reconciled_frames;
