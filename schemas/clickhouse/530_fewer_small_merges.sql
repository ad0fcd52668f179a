-- The tables every store flush writes a part into (frames, detections, and the targets of the
-- two materialized views on frames: event_keys, frames_hourly) merge their small parts in
-- fewer, larger merges: merge_selector_base 10 instead of ClickHouse's 5. A flush of a
-- streaming worker writes one small part per table; with base 5 each row was read and written
-- again by a merge about twice as often (rows merged per write, 150 writes of 72 frames into
-- a fresh chDB store: 2,405 with base 5, 1,075 with base 10), and those merges run on the
-- writer's CPU (docs/storage.md, "The flush cost per write"). The price: a few more parts
-- awaiting a merge (the key lookup read 6 parts of event_keys instead of 4 in that run).
-- The selector lowers the base as parts age, so a day that stopped receiving frames is still
-- merged as before. Only the merge schedule changes: no row, answer or view does (every
-- count reads FINAL or collapses duplicates at query time). Idempotent: MODIFY SETTING
-- repeated sets the same value.
ALTER TABLE linewatch.frames MODIFY SETTING merge_selector_base = 10;

ALTER TABLE linewatch.detections MODIFY SETTING merge_selector_base = 10;

ALTER TABLE linewatch.event_keys MODIFY SETTING merge_selector_base = 10;

ALTER TABLE linewatch.frames_hourly MODIFY SETTING merge_selector_base = 10;
