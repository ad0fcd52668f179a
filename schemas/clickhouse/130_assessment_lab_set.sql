-- The lab set an assessment judged the model on (`linewatch assess --lab NAME`): its name and
-- content digest (both empty: the simulated lab), the model's classes the lab mAP is computed
-- over and the lab set's novel classes (AssessmentRunRecord). Per condition, the frames with a
-- detection of each class at or above the threshold (CorruptionResultRecord.flagged_as): what
-- the model took a novel class for.
ALTER TABLE linewatch.assessment_runs
    ADD COLUMN IF NOT EXISTS lab_set String DEFAULT '',
    ADD COLUMN IF NOT EXISTS lab_digest String DEFAULT '',
    ADD COLUMN IF NOT EXISTS classes Array(String) DEFAULT [],
    ADD COLUMN IF NOT EXISTS novel_classes Array(String) DEFAULT [];
ALTER TABLE linewatch.corruption_results
    ADD COLUMN IF NOT EXISTS flagged_as Map(String, UInt32) DEFAULT map();
-- The view's `SELECT *` was expanded when 060 created it: recreate it to carry flagged_as.
CREATE OR REPLACE VIEW linewatch.v_corruption_robustness AS
SELECT *
FROM linewatch.corruption_results FINAL
WHERE run_id IN (SELECT run_id FROM linewatch.v_latest_assessment WHERE suite = 'corruptions');
