-- Inputs that could not be processed (schemas.records.DeadLetterRecord); idempotency key:
-- dead_letter_id (a hash of source and payload). Sorted by the key alone: received_at may
-- differ between a delivery and its replay.
CREATE TABLE IF NOT EXISTS linewatch.dead_letters
(
    dead_letter_id String,
    reason         LowCardinality(String),
    detail         String,
    payload        String,
    source         LowCardinality(String),
    received_at    DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree
ORDER BY dead_letter_id
SETTINGS non_replicated_deduplication_window = 1000;
