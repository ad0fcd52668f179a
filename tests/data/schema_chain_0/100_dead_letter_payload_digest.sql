-- Dead letters keep at most a prefix of their payload (LINEWATCH_DEAD_LETTER_MAX_PAYLOAD_BYTES);
-- these columns describe the whole payload: its length in bytes and its sha256 (hex).
ALTER TABLE linewatch.dead_letters
    ADD COLUMN IF NOT EXISTS payload_bytes UInt64 DEFAULT length(payload);
ALTER TABLE linewatch.dead_letters
    ADD COLUMN IF NOT EXISTS payload_sha256 String DEFAULT lower(hex(SHA256(payload)));
