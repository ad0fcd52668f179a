-- v_label_coverage without probing every labelled event (replaces 071's definition; issue 13
-- item 2). A labelled event with a reconciled outcome has a frame (reconcile pairs only labels
-- with stored frames), so only the labels not reconciled yet - in steady state a handful - are
-- looked up in event_keys. 50k labels are spread over every granule of a 10M-frame store: a
-- lookup of all of them reads the whole key table, a lookup of the unreconciled ones does not.
CREATE OR REPLACE VIEW linewatch.v_label_coverage AS
SELECT
    (SELECT count() FROM linewatch.frames FINAL) AS frames,
    (SELECT uniqExact(event_id) FROM linewatch.labels) AS labelled_events,
    (SELECT uniqExact(event_id) FROM linewatch.labels
        WHERE event_id NOT IN (SELECT event_id FROM linewatch.frame_outcomes)
          AND event_id NOT IN (
            SELECT event_id FROM linewatch.event_keys
            WHERE event_id IN (
                SELECT event_id FROM linewatch.labels
                WHERE event_id NOT IN (SELECT event_id FROM linewatch.frame_outcomes))))
        AS labels_without_frames,
    (SELECT count() FROM linewatch.v_frame_outcomes) AS reconciled_frames;
