-- How each label's unit was chosen (GroundTruth.audit, issue 21): the audit policy and the
-- unit's inclusion probability; '' / 0 where the label carries no design (a complaint, an
-- ad-hoc check, or a store labelled before designs existed). streams.readiness.design weights
-- labels by 1 / inclusion_probability.
ALTER TABLE linewatch.labels ADD COLUMN IF NOT EXISTS audit_policy LowCardinality(String) DEFAULT '';
ALTER TABLE linewatch.labels ADD COLUMN IF NOT EXISTS inclusion_probability Float64 DEFAULT 0;
