-- linewatch store: the database and the migration ledger.
-- `linewatch schema apply` runs every NNN_*.sql file of this directory once, in name order,
-- and records it here (name, sha256 of the file, when). Never edit an applied file: add a new one.
CREATE DATABASE IF NOT EXISTS linewatch;

CREATE TABLE IF NOT EXISTS linewatch.schema_migrations
(
    name       String,
    checksum   String,
    applied_at DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree(applied_at)
ORDER BY name;
