-- Labels whose frame is not (yet) stored, on their own (issue 13 item 2).
--
-- reconcile only needs this count; reading it from v_label_coverage also counted every frame
-- (`count() FROM frames FINAL`: the whole sort key of a 10M-frame store, ~1 s), once per
-- reconcile. Same definition as 074's column: only the labels not reconciled yet are looked up
-- in event_keys (a reconciled label has a frame).
CREATE OR REPLACE VIEW linewatch.v_labels_without_frames AS
SELECT uniqExact(event_id) AS labels_without_frames
FROM linewatch.labels
WHERE event_id NOT IN (SELECT event_id FROM linewatch.frame_outcomes)
  AND event_id NOT IN (
    SELECT event_id FROM linewatch.event_keys
    WHERE event_id IN (
        SELECT event_id FROM linewatch.labels
        WHERE event_id NOT IN (SELECT event_id FROM linewatch.frame_outcomes)));

CREATE OR REPLACE VIEW linewatch.v_label_coverage AS
SELECT
    (SELECT count() FROM linewatch.frames FINAL) AS frames,
    (SELECT uniqExact(event_id) FROM linewatch.labels) AS labelled_events,
    (SELECT labels_without_frames FROM linewatch.v_labels_without_frames)
        AS labels_without_frames,
    (SELECT count() FROM linewatch.v_frame_outcomes) AS reconciled_frames;
