-- Readiness metrics as views (see streams.readiness.metrics; `linewatch metrics` reads them).
-- Rates are NULL (never 0 or NaN) when their denominator is 0; every rate comes with its
-- denominator and a 95 % Wilson score interval (<rate>_lo, <rate>_hi).
-- Frame level: a good unit flagged is an FP frame, a defective unit passed is an FN frame.

-- The current outcome of every labelled production frame (latest label and threshold).
CREATE VIEW IF NOT EXISTS linewatch.v_frame_outcomes AS
SELECT * FROM linewatch.frame_outcomes FINAL;

-- Frame-level confusion per slice (line x shift x lighting): counts add up across slices.
CREATE VIEW IF NOT EXISTS linewatch.v_slice_metrics AS
SELECT
    line_id, shift, lighting,
    count() AS frames,
    countIf(outcome = 'TP') AS tp,
    countIf(outcome = 'FP') AS fp,
    countIf(outcome = 'FN') AS fn,
    countIf(outcome = 'TN') AS tn,
    tp + fn AS defective,
    fp + tn AS good,
    tp + fp AS flagged,
    if((flagged) = 0, NULL, (tp) / (flagged)) AS precision,
    if((flagged) = 0, NULL, if((tp) = 0, 0., greatest(0., ((((tp) / (flagged)) + (1.959963984540054 * 1.959963984540054) / (2 * (flagged))) - 1.959963984540054 * sqrt(((tp) / (flagged)) * (1 - ((tp) / (flagged))) / (flagged) + (1.959963984540054 * 1.959963984540054) / (4 * (flagged) * (flagged)))) / (1 + (1.959963984540054 * 1.959963984540054) / (flagged))))) AS precision_lo,
    if((flagged) = 0, NULL, if((tp) = (flagged), 1., least(1., ((((tp) / (flagged)) + (1.959963984540054 * 1.959963984540054) / (2 * (flagged))) + 1.959963984540054 * sqrt(((tp) / (flagged)) * (1 - ((tp) / (flagged))) / (flagged) + (1.959963984540054 * 1.959963984540054) / (4 * (flagged) * (flagged)))) / (1 + (1.959963984540054 * 1.959963984540054) / (flagged))))) AS precision_hi,
    if((defective) = 0, NULL, (tp) / (defective)) AS recall,
    if((defective) = 0, NULL, if((tp) = 0, 0., greatest(0., ((((tp) / (defective)) + (1.959963984540054 * 1.959963984540054) / (2 * (defective))) - 1.959963984540054 * sqrt(((tp) / (defective)) * (1 - ((tp) / (defective))) / (defective) + (1.959963984540054 * 1.959963984540054) / (4 * (defective) * (defective)))) / (1 + (1.959963984540054 * 1.959963984540054) / (defective))))) AS recall_lo,
    if((defective) = 0, NULL, if((tp) = (defective), 1., least(1., ((((tp) / (defective)) + (1.959963984540054 * 1.959963984540054) / (2 * (defective))) + 1.959963984540054 * sqrt(((tp) / (defective)) * (1 - ((tp) / (defective))) / (defective) + (1.959963984540054 * 1.959963984540054) / (4 * (defective) * (defective)))) / (1 + (1.959963984540054 * 1.959963984540054) / (defective))))) AS recall_hi,
    if((good) = 0, NULL, (fp) / (good)) AS fpr,
    if((good) = 0, NULL, if((fp) = 0, 0., greatest(0., ((((fp) / (good)) + (1.959963984540054 * 1.959963984540054) / (2 * (good))) - 1.959963984540054 * sqrt(((fp) / (good)) * (1 - ((fp) / (good))) / (good) + (1.959963984540054 * 1.959963984540054) / (4 * (good) * (good)))) / (1 + (1.959963984540054 * 1.959963984540054) / (good))))) AS fpr_lo,
    if((good) = 0, NULL, if((fp) = (good), 1., least(1., ((((fp) / (good)) + (1.959963984540054 * 1.959963984540054) / (2 * (good))) + 1.959963984540054 * sqrt(((fp) / (good)) * (1 - ((fp) / (good))) / (good) + (1.959963984540054 * 1.959963984540054) / (4 * (good) * (good)))) / (1 + (1.959963984540054 * 1.959963984540054) / (good))))) AS fpr_hi
FROM linewatch.v_frame_outcomes
GROUP BY line_id, shift, lighting;

-- The same over all production frames, with the measured defect prevalence.
CREATE VIEW IF NOT EXISTS linewatch.v_overall_metrics AS
SELECT
    count() AS frames,
    countIf(outcome = 'TP') AS tp,
    countIf(outcome = 'FP') AS fp,
    countIf(outcome = 'FN') AS fn,
    countIf(outcome = 'TN') AS tn,
    tp + fn AS defective,
    fp + tn AS good,
    tp + fp AS flagged,
    if((flagged) = 0, NULL, (tp) / (flagged)) AS precision,
    if((flagged) = 0, NULL, if((tp) = 0, 0., greatest(0., ((((tp) / (flagged)) + (1.959963984540054 * 1.959963984540054) / (2 * (flagged))) - 1.959963984540054 * sqrt(((tp) / (flagged)) * (1 - ((tp) / (flagged))) / (flagged) + (1.959963984540054 * 1.959963984540054) / (4 * (flagged) * (flagged)))) / (1 + (1.959963984540054 * 1.959963984540054) / (flagged))))) AS precision_lo,
    if((flagged) = 0, NULL, if((tp) = (flagged), 1., least(1., ((((tp) / (flagged)) + (1.959963984540054 * 1.959963984540054) / (2 * (flagged))) + 1.959963984540054 * sqrt(((tp) / (flagged)) * (1 - ((tp) / (flagged))) / (flagged) + (1.959963984540054 * 1.959963984540054) / (4 * (flagged) * (flagged)))) / (1 + (1.959963984540054 * 1.959963984540054) / (flagged))))) AS precision_hi,
    if((defective) = 0, NULL, (tp) / (defective)) AS recall,
    if((defective) = 0, NULL, if((tp) = 0, 0., greatest(0., ((((tp) / (defective)) + (1.959963984540054 * 1.959963984540054) / (2 * (defective))) - 1.959963984540054 * sqrt(((tp) / (defective)) * (1 - ((tp) / (defective))) / (defective) + (1.959963984540054 * 1.959963984540054) / (4 * (defective) * (defective)))) / (1 + (1.959963984540054 * 1.959963984540054) / (defective))))) AS recall_lo,
    if((defective) = 0, NULL, if((tp) = (defective), 1., least(1., ((((tp) / (defective)) + (1.959963984540054 * 1.959963984540054) / (2 * (defective))) + 1.959963984540054 * sqrt(((tp) / (defective)) * (1 - ((tp) / (defective))) / (defective) + (1.959963984540054 * 1.959963984540054) / (4 * (defective) * (defective)))) / (1 + (1.959963984540054 * 1.959963984540054) / (defective))))) AS recall_hi,
    if((good) = 0, NULL, (fp) / (good)) AS fpr,
    if((good) = 0, NULL, if((fp) = 0, 0., greatest(0., ((((fp) / (good)) + (1.959963984540054 * 1.959963984540054) / (2 * (good))) - 1.959963984540054 * sqrt(((fp) / (good)) * (1 - ((fp) / (good))) / (good) + (1.959963984540054 * 1.959963984540054) / (4 * (good) * (good)))) / (1 + (1.959963984540054 * 1.959963984540054) / (good))))) AS fpr_lo,
    if((good) = 0, NULL, if((fp) = (good), 1., least(1., ((((fp) / (good)) + (1.959963984540054 * 1.959963984540054) / (2 * (good))) + 1.959963984540054 * sqrt(((fp) / (good)) * (1 - ((fp) / (good))) / (good) + (1.959963984540054 * 1.959963984540054) / (4 * (good) * (good)))) / (1 + (1.959963984540054 * 1.959963984540054) / (good))))) AS fpr_hi,
    if((frames) = 0, NULL, (defective) / (frames)) AS prevalence,
    if((frames) = 0, NULL, if((defective) = 0, 0., greatest(0., ((((defective) / (frames)) + (1.959963984540054 * 1.959963984540054) / (2 * (frames))) - 1.959963984540054 * sqrt(((defective) / (frames)) * (1 - ((defective) / (frames))) / (frames) + (1.959963984540054 * 1.959963984540054) / (4 * (frames) * (frames)))) / (1 + (1.959963984540054 * 1.959963984540054) / (frames))))) AS prevalence_lo,
    if((frames) = 0, NULL, if((defective) = (frames), 1., least(1., ((((defective) / (frames)) + (1.959963984540054 * 1.959963984540054) / (2 * (frames))) + 1.959963984540054 * sqrt(((defective) / (frames)) * (1 - ((defective) / (frames))) / (frames) + (1.959963984540054 * 1.959963984540054) / (4 * (frames) * (frames)))) / (1 + (1.959963984540054 * 1.959963984540054) / (frames))))) AS prevalence_hi
FROM linewatch.v_frame_outcomes;

-- Per defect class and slice: true objects, objects missed (no same-class box with IoU >= 0.5
-- at the threshold), frames containing the class, and of those the units passed unflagged.
CREATE VIEW IF NOT EXISTS linewatch.v_class_slice_counts AS
SELECT
    line_id, shift, lighting, class_name,
    count() AS objects,
    countIf(matched = 0) AS missed,
    uniqExact(event_id) AS frames,
    uniqExactIf(event_id, pred_defective = 0) AS frames_passed
FROM linewatch.v_frame_outcomes
ARRAY JOIN gt_classes AS class_name, gt_matched AS matched
GROUP BY line_id, shift, lighting, class_name;

-- False-negative rate per defect class (box level, class-aware) incl. classes never trained
-- on, and the unit-level miss rate (the unit passed although it has this defect).
CREATE VIEW IF NOT EXISTS linewatch.v_class_fnr AS
SELECT
    class_name,
    count() AS objects,
    countIf(matched = 0) AS missed,
    if((objects) = 0, NULL, (missed) / (objects)) AS fnr,
    if((objects) = 0, NULL, if((missed) = 0, 0., greatest(0., ((((missed) / (objects)) + (1.959963984540054 * 1.959963984540054) / (2 * (objects))) - 1.959963984540054 * sqrt(((missed) / (objects)) * (1 - ((missed) / (objects))) / (objects) + (1.959963984540054 * 1.959963984540054) / (4 * (objects) * (objects)))) / (1 + (1.959963984540054 * 1.959963984540054) / (objects))))) AS fnr_lo,
    if((objects) = 0, NULL, if((missed) = (objects), 1., least(1., ((((missed) / (objects)) + (1.959963984540054 * 1.959963984540054) / (2 * (objects))) + 1.959963984540054 * sqrt(((missed) / (objects)) * (1 - ((missed) / (objects))) / (objects) + (1.959963984540054 * 1.959963984540054) / (4 * (objects) * (objects)))) / (1 + (1.959963984540054 * 1.959963984540054) / (objects))))) AS fnr_hi,
    uniqExact(event_id) AS frames,
    uniqExactIf(event_id, pred_defective = 0) AS frames_passed,
    if((frames) = 0, NULL, (frames_passed) / (frames)) AS unit_fnr,
    if((frames) = 0, NULL, if((frames_passed) = 0, 0., greatest(0., ((((frames_passed) / (frames)) + (1.959963984540054 * 1.959963984540054) / (2 * (frames))) - 1.959963984540054 * sqrt(((frames_passed) / (frames)) * (1 - ((frames_passed) / (frames))) / (frames) + (1.959963984540054 * 1.959963984540054) / (4 * (frames) * (frames)))) / (1 + (1.959963984540054 * 1.959963984540054) / (frames))))) AS unit_fnr_lo,
    if((frames) = 0, NULL, if((frames_passed) = (frames), 1., least(1., ((((frames_passed) / (frames)) + (1.959963984540054 * 1.959963984540054) / (2 * (frames))) + 1.959963984540054 * sqrt(((frames_passed) / (frames)) * (1 - ((frames_passed) / (frames))) / (frames) + (1.959963984540054 * 1.959963984540054) / (4 * (frames) * (frames)))) / (1 + (1.959963984540054 * 1.959963984540054) / (frames))))) AS unit_fnr_hi
FROM linewatch.v_frame_outcomes
ARRAY JOIN gt_classes AS class_name, gt_matched AS matched
GROUP BY class_name;

-- End-to-end and inference latency per line (all production frames); compare with takt.
CREATE VIEW IF NOT EXISTS linewatch.v_latency_by_line AS
SELECT
    line_id,
    count() AS frames,
    quantileExact(0.5)(latency_ms) AS p50_ms,
    quantileExact(0.95)(latency_ms) AS p95_ms,
    quantileExact(0.99)(latency_ms) AS p99_ms,
    max(latency_ms) AS max_ms,
    quantileExact(0.5)(inference_ms) AS inference_p50_ms,
    quantileExact(0.99)(inference_ms) AS inference_p99_ms
FROM linewatch.frames
GROUP BY line_id;

-- Frames for human review: top confidence in [review_low, review_high), unlabelled first.
-- Parameterised: SELECT * FROM linewatch.v_review_queue(review_low = 0.15, review_high = 0.5)
CREATE VIEW IF NOT EXISTS linewatch.v_review_queue AS
SELECT
    f.event_id AS event_id, f.line_id AS line_id, f.camera_id AS camera_id,
    f.captured_at AS captured_at, f.shift AS shift, f.lighting AS lighting,
    f.max_confidence AS max_confidence, f.detection_count AS detection_count,
    f.event_id IN (SELECT event_id FROM linewatch.labels) AS labelled
FROM linewatch.frames AS f
WHERE f.max_confidence >= {review_low:Float64} AND f.max_confidence < {review_high:Float64};

-- Top-confidence histogram of production frames (bins of 0.05).
CREATE VIEW IF NOT EXISTS linewatch.v_confidence_hist_production AS
SELECT line_id, least(floor(max_confidence * 20), 19) / 20 AS bin, count() AS frames
FROM linewatch.frames
GROUP BY line_id, bin;

-- Labels whose frame is not (yet) in the store, and labelled / all frames.
CREATE VIEW IF NOT EXISTS linewatch.v_label_coverage AS
SELECT
    (SELECT count() FROM linewatch.frames) AS frames,
    (SELECT uniqExact(event_id) FROM linewatch.labels) AS labelled_events,
    (SELECT uniqExact(event_id) FROM linewatch.labels
        WHERE event_id NOT IN (SELECT event_id FROM linewatch.frames)) AS labels_without_frames,
    (SELECT count() FROM linewatch.v_frame_outcomes) AS reconciled_frames;

-- The latest assessment run per suite.
CREATE VIEW IF NOT EXISTS linewatch.v_latest_assessment AS
SELECT suite, argMax(run_id, finished_at) AS run_id, max(finished_at) AS latest_finished_at
FROM linewatch.assessment_runs
GROUP BY suite;

-- The clean lab split of the latest corruption-suite run.
CREATE VIEW IF NOT EXISTS linewatch.v_lab_clean AS
SELECT * FROM linewatch.lab_eval FINAL
WHERE corruption = 'clean'
  AND run_id IN (SELECT run_id FROM linewatch.v_latest_assessment WHERE suite = 'corruptions');

-- Lab frame-level TPR / FPR at the operating threshold (for the base-rate arithmetic).
CREATE VIEW IF NOT EXISTS linewatch.v_lab_rates AS
SELECT
    count() AS frames,
    countIf(outcome = 'TP') AS tp,
    countIf(outcome = 'FP') AS fp,
    countIf(outcome = 'FN') AS fn,
    countIf(outcome = 'TN') AS tn,
    tp + fn AS defective,
    fp + tn AS good,
    if((defective) = 0, NULL, (tp) / (defective)) AS tpr,
    if((defective) = 0, NULL, if((tp) = 0, 0., greatest(0., ((((tp) / (defective)) + (1.959963984540054 * 1.959963984540054) / (2 * (defective))) - 1.959963984540054 * sqrt(((tp) / (defective)) * (1 - ((tp) / (defective))) / (defective) + (1.959963984540054 * 1.959963984540054) / (4 * (defective) * (defective)))) / (1 + (1.959963984540054 * 1.959963984540054) / (defective))))) AS tpr_lo,
    if((defective) = 0, NULL, if((tp) = (defective), 1., least(1., ((((tp) / (defective)) + (1.959963984540054 * 1.959963984540054) / (2 * (defective))) + 1.959963984540054 * sqrt(((tp) / (defective)) * (1 - ((tp) / (defective))) / (defective) + (1.959963984540054 * 1.959963984540054) / (4 * (defective) * (defective)))) / (1 + (1.959963984540054 * 1.959963984540054) / (defective))))) AS tpr_hi,
    if((good) = 0, NULL, (fp) / (good)) AS fpr,
    if((good) = 0, NULL, if((fp) = 0, 0., greatest(0., ((((fp) / (good)) + (1.959963984540054 * 1.959963984540054) / (2 * (good))) - 1.959963984540054 * sqrt(((fp) / (good)) * (1 - ((fp) / (good))) / (good) + (1.959963984540054 * 1.959963984540054) / (4 * (good) * (good)))) / (1 + (1.959963984540054 * 1.959963984540054) / (good))))) AS fpr_lo,
    if((good) = 0, NULL, if((fp) = (good), 1., least(1., ((((fp) / (good)) + (1.959963984540054 * 1.959963984540054) / (2 * (good))) + 1.959963984540054 * sqrt(((fp) / (good)) * (1 - ((fp) / (good))) / (good) + (1.959963984540054 * 1.959963984540054) / (4 * (good) * (good)))) / (1 + (1.959963984540054 * 1.959963984540054) / (good))))) AS fpr_hi
FROM linewatch.v_lab_clean;

-- Top-confidence histogram of the clean lab split (bins of 0.05).
CREATE VIEW IF NOT EXISTS linewatch.v_confidence_hist_lab AS
SELECT least(floor(max_confidence * 20), 19) / 20 AS bin, count() AS frames
FROM linewatch.v_lab_clean
GROUP BY bin;

-- Robustness per corruption x severity of the latest corruption-suite run.
CREATE VIEW IF NOT EXISTS linewatch.v_corruption_robustness AS
SELECT *
FROM linewatch.corruption_results FINAL
WHERE run_id IN (SELECT run_id FROM linewatch.v_latest_assessment WHERE suite = 'corruptions');

-- Distance to the lab reference per slice-signal and metric ('psi', 'outside_lab_range'):
-- the largest and the latest window.
CREATE VIEW IF NOT EXISTS linewatch.v_reference_gap_by_slice AS
SELECT
    line_id, shift, lighting, signal, metric,
    count() AS windows,
    max(distance) AS max_distance,
    argMax(distance, window_end) AS latest_distance,
    max(window_end) AS latest_window_end
FROM linewatch.reference_gap FINAL
GROUP BY line_id, shift, lighting, signal, metric;

-- Drift alarms per slice, signal and hour.
CREATE VIEW IF NOT EXISTS linewatch.v_drift_timeline AS
SELECT line_id, shift, lighting, signal, toStartOfHour(detected_at) AS hour, count() AS alarms
FROM linewatch.drift_events FINAL
GROUP BY line_id, shift, lighting, signal, hour;
