-- Readiness tables (owned by streams.readiness / streams.assess).
--
-- frame_outcomes: one row per labelled production frame, written by streams.readiness.reconcile
-- (FrameOutcomeRecord, key outcome_id = stable_id(event_id, label_id, threshold, model_version)).
-- Detections at the operating threshold are matched to the latest label of the event
-- (class-aware, IoU >= 0.5, greedy by confidence). ReplacingMergeTree keyed by event_id with
-- reconciled_at as version: a newer label or threshold replaces the older outcome under FINAL.
-- gt_classes/gt_matched are aligned arrays (one entry per true object), pred_classes/pred_tp
-- likewise per prediction kept at the threshold.
CREATE TABLE IF NOT EXISTS linewatch.frame_outcomes
(
    outcome_id      String,
    event_id        String,
    label_id        String,
    line_id         LowCardinality(String),
    camera_id       LowCardinality(String),
    shift           LowCardinality(String),
    lighting        LowCardinality(String),
    product_variant LowCardinality(String),
    split           LowCardinality(String),
    captured_at     DateTime64(3, 'UTC'),
    labelled_at     DateTime64(3, 'UTC'),
    label_source    LowCardinality(String),
    model_version   LowCardinality(String),
    threshold       Float64,
    iou_threshold   Float64,
    outcome         LowCardinality(String),
    gt_defective    UInt8,
    pred_defective  UInt8,
    gt_classes      Array(LowCardinality(String)),
    gt_matched      Array(UInt8),
    pred_classes    Array(LowCardinality(String)),
    pred_tp         Array(UInt8),
    tp_boxes        UInt32,
    fp_boxes        UInt32,
    fn_boxes        UInt32,
    max_confidence  Float64,
    latency_ms      Float64,
    inference_ms    Float64,
    reconciled_at   DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree(reconciled_at)
ORDER BY event_id;

-- One run of `linewatch assess` (AssessmentRunRecord); run_id is derived from suite, seed,
-- frames and model so the same run repeated writes nothing new.
CREATE TABLE IF NOT EXISTS linewatch.assessment_runs
(
    run_id         String,
    suite          LowCardinality(String),
    seed           Int64,
    frames         UInt32,
    conditions     UInt32,
    model_name     LowCardinality(String),
    model_version  LowCardinality(String),
    threshold      Float64,
    review_low     Float64,
    review_high    Float64,
    started_at     DateTime64(3, 'UTC'),
    finished_at    DateTime64(3, 'UTC'),
    elapsed_s      Float64
)
ENGINE = ReplacingMergeTree
ORDER BY run_id;

-- Per run x condition (corruption x severity, clean, or novel input): recall at the
-- operating threshold, mean top confidence and failure modes (CorruptionResultRecord).
-- kind: clean | corruption | novel. Counts are over frames; recall over trained-class objects.
CREATE TABLE IF NOT EXISTS linewatch.corruption_results
(
    result_id           String,
    run_id              String,
    kind                LowCardinality(String),
    corruption          LowCardinality(String),
    severity            UInt8,
    frames              UInt32,
    defect_objects      UInt32,
    recalled_objects    UInt32,
    recall              Nullable(Float64),
    defective_frames    UInt32,
    caught_frames       UInt32,
    good_frames         UInt32,
    flagged_good_frames UInt32,
    mean_top_confidence Float64,
    fail_safe           UInt32,
    fail_silent         UInt32,
    in_review_band      UInt32
)
ENGINE = ReplacingMergeTree
ORDER BY (run_id, corruption, severity, result_id);

-- The lab split, per frame and condition (LabEvalRecord): ground truth and every detection
-- above the model's score floor, for lab mAP, lab TPR/FPR and lab confidence histograms.
-- Production tables stay production-only: lab frames never go to `frames`.
CREATE TABLE IF NOT EXISTS linewatch.lab_eval
(
    row_id          String,
    run_id          String,
    corruption      LowCardinality(String),
    severity        UInt8,
    frame_index     UInt32,
    scene_id        String,
    gt_classes      Array(LowCardinality(String)),
    gt_boxes        Array(Array(Float32)),
    det_classes     Array(LowCardinality(String)),
    det_confidences Array(Float64),
    det_boxes       Array(Array(Float32)),
    max_confidence  Float64,
    threshold       Float64,
    gt_defective    UInt8,
    pred_defective  UInt8,
    outcome         LowCardinality(String),
    failure_mode    LowCardinality(String)
)
ENGINE = ReplacingMergeTree
ORDER BY (run_id, corruption, severity, frame_index, row_id);
