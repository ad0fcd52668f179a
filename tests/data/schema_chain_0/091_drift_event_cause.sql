-- A cause for every drift event (streams.drift.cause): which team to call, and the evidence
-- (the signals that moved together). Rows written before this migration read 'unknown' / ''.
ALTER TABLE linewatch.drift_events
    ADD COLUMN IF NOT EXISTS cause LowCardinality(String) DEFAULT 'unknown',
    ADD COLUMN IF NOT EXISTS evidence String DEFAULT '';
