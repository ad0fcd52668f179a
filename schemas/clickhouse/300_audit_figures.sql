-- Per slice, what `linewatch estimate` showed (streams.readiness.slice_audits, issue 21): the
-- label-free estimate of its latest window beside the realized design-weighted figure (the
-- difference estimator where the slice is sampled and a lab calibration exists, else the cell
-- estimator), their 95 % intervals, the designed labels behind it, the labels without a design
-- (apart, never in a rate) and the audit that would narrow the wider interval most. One row per
-- slice and run; Grafana reads the latest per slice (argMax by computed_at).
CREATE TABLE IF NOT EXISTS linewatch.audit_figures
(
    computed_at        DateTime64(3, 'UTC'),
    line_id            LowCardinality(String),
    shift              LowCardinality(String),
    lighting           LowCardinality(String),
    threshold          Float64,
    estimate_status    LowCardinality(String),
    est_recall         Nullable(Float64),
    est_recall_lo      Nullable(Float64),
    est_recall_hi      Nullable(Float64),
    est_fpr            Nullable(Float64),
    est_fpr_lo         Nullable(Float64),
    est_fpr_hi         Nullable(Float64),
    realized_source    LowCardinality(String),
    recall             Nullable(Float64),
    recall_lo          Nullable(Float64),
    recall_hi          Nullable(Float64),
    fpr                Nullable(Float64),
    fpr_lo             Nullable(Float64),
    fpr_hi             Nullable(Float64),
    labels             UInt32,
    undesigned_labels  UInt32,
    census             Bool,
    next_metric        LowCardinality(String),
    next_band          LowCardinality(String),
    next_units         UInt32,
    interval_width     Float64,
    recommendation     String
)
ENGINE = ReplacingMergeTree
ORDER BY (line_id, shift, lighting, computed_at);
