-- Drift events name the detector's class and parameters (issue 10), e.g.
-- 'streams.drift.GaussianCusum(h=14.85, k=0.5, std_floor=0.01, warmup=30, winsor=2.5)' or
-- 'river.drift.ADWIN(clock=32, delta=0.002, ...)'. Rows written before this column: ''.
ALTER TABLE linewatch.drift_events
    ADD COLUMN IF NOT EXISTS detector_params String DEFAULT '' AFTER detector;
