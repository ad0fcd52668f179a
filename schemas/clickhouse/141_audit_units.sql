-- Units chosen for review by `linewatch audit plan` (streams.readiness.audit_plan), one row per
-- chosen frame: its stratum (slice x score band), the stratum's frames and sample size, and its
-- inclusion probability (sample / frames). A label that comes back for the unit without its own
-- `audit` is joined to this row (streams.readiness.design). A plan covers the frames captured in
-- [window_start, window_end); plans never overlap.
CREATE TABLE IF NOT EXISTS linewatch.audit_units
(
    plan_id               String,
    event_id              String,
    line_id               LowCardinality(String),
    shift                 LowCardinality(String),
    lighting              LowCardinality(String),
    band                  LowCardinality(String),
    captured_at           DateTime64(3, 'UTC'),
    max_confidence        Float64,
    stratum_frames        UInt32,
    stratum_sample        UInt32,
    inclusion_probability Float64,
    window_start          DateTime64(3, 'UTC'),
    window_end            DateTime64(3, 'UTC'),
    planned_at            DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree
ORDER BY (event_id, plan_id);
