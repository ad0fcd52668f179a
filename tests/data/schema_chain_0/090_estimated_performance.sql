-- Label-free performance estimates per slice window (schemas.records.EstimatedPerformanceRecord),
-- written by streams.estimation.windows (`linewatch estimate`, also run by `metrics` and
-- `report`). Idempotency key: estimate_id = stable_id(line, shift, lighting, window_start,
-- threshold, model_version, window_frames). Figures are NULL where undefined (e.g. no frame
-- flagged: no precision); *_lo / *_hi bound the 95 % interval (docs/estimation.md).
CREATE TABLE IF NOT EXISTS linewatch.estimated_performance
(
    estimate_id        String,
    line_id            LowCardinality(String),
    shift              LowCardinality(String),
    lighting           LowCardinality(String),
    window_start       DateTime64(3, 'UTC'),
    window_end         DateTime64(3, 'UTC'),
    frames             UInt32,
    threshold          Float64,
    model_version      LowCardinality(String),
    prevalence         Float64,
    prevalence_source  LowCardinality(String),
    expected_defective Float64,
    precision          Nullable(Float64),
    precision_lo       Nullable(Float64),
    precision_hi       Nullable(Float64),
    recall             Nullable(Float64),
    recall_lo          Nullable(Float64),
    recall_hi          Nullable(Float64),
    fpr                Nullable(Float64),
    fpr_lo             Nullable(Float64),
    fpr_hi             Nullable(Float64),
    estimated_at       DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree(estimated_at)
ORDER BY (line_id, shift, lighting, window_start, estimate_id);

-- The latest estimate of each slice window: a window re-estimated with more frames (a tail that
-- grew) or a later run replaces the older row.
CREATE VIEW IF NOT EXISTS linewatch.v_estimated_performance AS
SELECT *
FROM linewatch.estimated_performance
ORDER BY estimated_at DESC, frames DESC
LIMIT 1 BY line_id, shift, lighting, window_start, threshold, model_version;
