-- The covariate-shift check of each estimated window (docs/estimation.md, "Covariate shift"):
-- status 'ok' (re-weighted lab calibration), 'unknown' (the lab never showed inputs like the
-- window's; every figure is NULL and reason says why) or 'unchecked' (the lab frames carry no
-- image statistics: label-shift-only estimate, as before the check existed); lab_ess is the
-- effective number of lab frames behind the estimate, lab_ess_defective that of defective ones,
-- shift_auc how well a classifier tells the window's frames from the lab's (0.5 = alike).
ALTER TABLE linewatch.estimated_performance
    ADD COLUMN IF NOT EXISTS status LowCardinality(String) DEFAULT 'unchecked',
    ADD COLUMN IF NOT EXISTS reason String DEFAULT '',
    ADD COLUMN IF NOT EXISTS lab_ess Nullable(Float64),
    ADD COLUMN IF NOT EXISTS lab_ess_defective Nullable(Float64),
    ADD COLUMN IF NOT EXISTS shift_auc Nullable(Float64);

-- A view's `SELECT *` is expanded when it is created: recreated so it carries the new columns.
DROP VIEW IF EXISTS linewatch.v_estimated_performance;
CREATE VIEW IF NOT EXISTS linewatch.v_estimated_performance AS
SELECT *
FROM linewatch.estimated_performance
ORDER BY estimated_at DESC, frames DESC
LIMIT 1 BY line_id, shift, lighting, window_start, threshold, model_version;
