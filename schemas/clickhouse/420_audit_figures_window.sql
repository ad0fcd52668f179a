-- The frames an `audit_figures` row describes (docs/estimation.md, "Windows"): the label-free
-- estimate and the realized figure are both over the slice's frames from window_start to
-- window_end (the estimate: its `est_windows` windows combined, `est_frames` frames). NULL /
-- 0 in rows written before these columns existed, which paired the latest window's estimate
-- with the whole slice's realized figure.
ALTER TABLE linewatch.audit_figures
    ADD COLUMN IF NOT EXISTS window_start Nullable(DateTime64(3, 'UTC')),
    ADD COLUMN IF NOT EXISTS window_end Nullable(DateTime64(3, 'UTC')),
    ADD COLUMN IF NOT EXISTS est_frames UInt32 DEFAULT 0,
    ADD COLUMN IF NOT EXISTS est_windows UInt32 DEFAULT 0;
