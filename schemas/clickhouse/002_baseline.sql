-- linewatch store, baseline: every table and view of the 0.1.0 schema, created in its final form.
--
-- It replaces the migrations 002..101 written before the first release (none was released; a
-- store they built has the same objects: tests/test_schema_baseline.py compares both, the old
-- files are kept in tests/data/schema_chain_0/). A change to the schema is a NEW file after this
-- one (NNN_name.sql, NNN >= 110, applied once in name order by `linewatch schema apply`); this
-- file, like every applied file, never changes (its checksum is in schema_migrations).
--
-- Conventions:
-- - Idempotent writes: each record type (schemas.records) has a key (`__key__`); its table is a
--   ReplacingMergeTree whose sort key contains it, so a replay that got past the writer's
--   stored-key lookup and its dedup token collapses at merge time, and every view that counts
--   reads FINAL or uniqExact (exact before merges). frames, detections, event_keys,
--   drift_events, reference_gap, dead_letters and labels keep non_replicated_deduplication_window
--   = 1000, so a repeated insert block (same insert_deduplication_token) is dropped; the other
--   tables rely on the lookup and the merge alone.
-- - Retention: no TTL is set here (nothing is deleted unless asked); `linewatch schema retention
--   TABLE DAYS` (ClickHouseStore.set_retention) sets one per table. frames, detections,
--   event_keys, drift_events, labels, dead_letters and the rollups drop whole expired parts only
--   (ttl_only_drop_parts = 1), so their TTL costs no rewrite.
-- - The raw tables frames and detections are partitioned by day (toYYYYMMDD(captured_at)): a TTL
--   drops a whole day at once, FINAL and the key lookups stay within the days they touch.
-- - Compact rows (measured in docs/storage.md, bench/bench_store_scale.py): image statistics,
--   sensor readings and stage timings are Float32 (7 significant digits; FrameRecord rounds them
--   the same way) with ZSTD; max_confidence and detections.confidence stay Float64 so SQL
--   threshold comparisons agree with Python's; timestamps Delta + ZSTD (monotone within a part);
--   ids, hashes and frames.source (one value per event: file:path:line,
--   kafka:topic:partition:offset) plain String with ZSTD.

-- One processed camera event (schemas.records.FrameRecord); idempotency key: event_id.
-- Sorted by line and capture time (the readiness and drill-down queries); the key ends the
-- sort key so ReplacingMergeTree collapses replays. A bloom filter lets a lookup by event_id
-- skip granules. content_hash: blake2b-128 of the raw input event (schemas.records.content_hash;
-- '' = unknown, never reported as a conflict). invalid_outputs: model outputs the detector
-- dropped before NMS for this frame (non-finite or inverted boxes, non-finite scores).
CREATE TABLE IF NOT EXISTS linewatch.frames
(
    event_id             String CODEC(ZSTD(1)),
    line_id              LowCardinality(String),
    camera_id            LowCardinality(String),
    captured_at          DateTime64(3, 'UTC') CODEC(Delta, ZSTD(1)),
    shift                LowCardinality(String),
    lighting             LowCardinality(String),
    product_variant      LowCardinality(String),
    sensor_lux           Nullable(Float32) CODEC(ZSTD(1)),
    sensor_colour_temp_k Nullable(Float32) CODEC(ZSTD(1)),
    brightness           Float32 CODEC(ZSTD(1)),
    contrast             Float32 CODEC(ZSTD(1)),
    sharpness            Float32 CODEC(ZSTD(1)),
    colour_cast          Float32 CODEC(ZSTD(1)),
    est_colour_temp_k    Float32 CODEC(ZSTD(1)),
    clipped_high         Float32 CODEC(ZSTD(1)),
    clipped_low          Float32 CODEC(ZSTD(1)),
    model_name           LowCardinality(String),
    model_version        LowCardinality(String),
    detection_count      UInt32 CODEC(ZSTD(1)),
    max_confidence       Float64 CODEC(ZSTD(1)),
    predicted_defective  UInt8,
    decode_ms            Float32 CODEC(ZSTD(1)),
    inference_ms         Float32 CODEC(ZSTD(1)),
    monitor_ms           Float32 CODEC(ZSTD(1)),
    latency_ms           Float32 CODEC(ZSTD(1)),
    source               String CODEC(ZSTD(1)),
    ingested_at          DateTime64(3, 'UTC') CODEC(Delta, ZSTD(1)),
    content_hash         String DEFAULT '' CODEC(ZSTD(1)),
    invalid_outputs      UInt32 DEFAULT 0,
    INDEX idx_event_id event_id TYPE bloom_filter(0.01) GRANULARITY 1
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMMDD(captured_at)
ORDER BY (line_id, captured_at, event_id)
SETTINGS non_replicated_deduplication_window = 1000, ttl_only_drop_parts = 1;

-- One predicted box (schemas.records.DetectionRecord); idempotency key: (event_id, det_index).
CREATE TABLE IF NOT EXISTS linewatch.detections
(
    event_id    String CODEC(ZSTD(1)),
    det_index   UInt32,
    line_id     LowCardinality(String),
    captured_at DateTime64(3, 'UTC') CODEC(Delta, ZSTD(1)),
    class_name  LowCardinality(String),
    confidence  Float64 CODEC(ZSTD(1)),
    x1          Float32 CODEC(ZSTD(1)),
    y1          Float32 CODEC(ZSTD(1)),
    x2          Float32 CODEC(ZSTD(1)),
    y2          Float32 CODEC(ZSTD(1)),
    INDEX idx_event_id event_id TYPE bloom_filter(0.01) GRANULARITY 1
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMMDD(captured_at)
ORDER BY (line_id, captured_at, event_id, det_index)
SETTINGS non_replicated_deduplication_window = 1000, ttl_only_drop_parts = 1;

-- event_keys: one narrow row per stored frame, sorted by event_id, fed by a materialized view
-- on every insert into frames. The writer's "is this event_id stored already, and with which
-- content?" lookup reads it by primary key: it touches only the granules that can hold the
-- batch's keys (small granules, small compression blocks), so its cost per batch does not grow
-- with the history, and it finds an event_id whatever line or capture time it was stored under
-- (a conflict from another line is still found).
CREATE TABLE IF NOT EXISTS linewatch.event_keys
(
    event_id     String CODEC(ZSTD(1)),
    content_hash String CODEC(ZSTD(1)),
    line_id      LowCardinality(String),
    captured_at  DateTime64(3, 'UTC') CODEC(Delta, ZSTD(1)),
    source       String CODEC(ZSTD(1))
)
ENGINE = ReplacingMergeTree
ORDER BY event_id
SETTINGS index_granularity = 256, min_compress_block_size = 4096,
         non_replicated_deduplication_window = 1000, ttl_only_drop_parts = 1;

CREATE MATERIALIZED VIEW IF NOT EXISTS linewatch.event_keys_mv TO linewatch.event_keys AS
SELECT event_id, content_hash, line_id, captured_at, source
FROM linewatch.frames;

-- Drift alarms (schemas.records.DriftEventRecord); idempotency key: drift_id.
-- A small table: sorted by line then key (detected_at is not in the sort key so a replay
-- that re-derives it differently still collapses onto the same row). detector_params names the
-- detector's class and parameters, e.g. 'streams.drift.GaussianCusum(h=14.85, k=0.5,
-- std_floor=0.01, warmup=30, winsor=2.5)' or 'river.drift.ADWIN(clock=32, delta=0.002, ...)'.
-- cause / evidence (streams.drift.cause): which team to call, and the signals that moved
-- together.
CREATE TABLE IF NOT EXISTS linewatch.drift_events
(
    drift_id         String,
    line_id          LowCardinality(String),
    shift            LowCardinality(String),
    lighting         LowCardinality(String),
    signal           LowCardinality(String),
    detector         LowCardinality(String),
    detector_params  String DEFAULT '',
    detected_at      DateTime64(3, 'UTC'),
    trigger_event_id String,
    statistic        Float64,
    threshold        Float64,
    events_in_slice  UInt64,
    before_mean      Float64,
    before_std       Float64,
    after_mean       Float64,
    after_std        Float64,
    cause            LowCardinality(String) DEFAULT 'unknown',
    evidence         String DEFAULT ''
)
ENGINE = ReplacingMergeTree
ORDER BY (line_id, drift_id)
SETTINGS non_replicated_deduplication_window = 1000, ttl_only_drop_parts = 1;

-- Distance of one slice-signal window to the lab reference (schemas.records.ReferenceGapRecord);
-- idempotency key: gap_id. (Without ttl_only_drop_parts: a TTL set on it deletes rows.)
CREATE TABLE IF NOT EXISTS linewatch.reference_gap
(
    gap_id         String,
    line_id        LowCardinality(String),
    shift          LowCardinality(String),
    lighting       LowCardinality(String),
    signal         LowCardinality(String),
    metric         LowCardinality(String),
    window_start   DateTime64(3, 'UTC'),
    window_end     DateTime64(3, 'UTC'),
    window_events  UInt32,
    distance       Float64,
    reference_mean Float64,
    window_mean    Float64
)
ENGINE = ReplacingMergeTree
ORDER BY (line_id, signal, gap_id)
SETTINGS non_replicated_deduplication_window = 1000;

-- Inputs that could not be processed (schemas.records.DeadLetterRecord); idempotency key:
-- dead_letter_id (a hash of source and payload). Sorted by the key alone: received_at may
-- differ between a delivery and its replay. payload keeps at most a prefix of the input
-- (LINEWATCH_DEAD_LETTER_MAX_PAYLOAD_BYTES); payload_bytes and payload_sha256 (hex) describe
-- the whole input.
CREATE TABLE IF NOT EXISTS linewatch.dead_letters
(
    dead_letter_id String,
    reason         LowCardinality(String),
    detail         String,
    payload        String,
    source         LowCardinality(String),
    received_at    DateTime64(3, 'UTC'),
    payload_bytes  UInt64 DEFAULT length(payload),
    payload_sha256 String DEFAULT lower(hex(SHA256(payload)))
)
ENGINE = ReplacingMergeTree
ORDER BY dead_letter_id
SETTINGS non_replicated_deduplication_window = 1000, ttl_only_drop_parts = 1;

-- Ground truth per event (schemas.records.LabelRecord); idempotency key: label_id.
-- Sorted by event_id first: labels are joined to frames by event.
CREATE TABLE IF NOT EXISTS linewatch.labels
(
    label_id     String,
    event_id     String,
    source       LowCardinality(String),
    labelled_at  DateTime64(3, 'UTC'),
    object_count UInt32,
    class_names  Array(String),
    boxes        Array(Array(Float32)),
    ingested_at  DateTime64(3, 'UTC'),
    INDEX idx_label_id label_id TYPE bloom_filter(0.01) GRANULARITY 1
)
ENGINE = ReplacingMergeTree
ORDER BY (event_id, label_id)
SETTINGS non_replicated_deduplication_window = 1000, ttl_only_drop_parts = 1;

-- Partition state per Kafka partition, saved by workers after each batch is written
-- (streams.runners.partitions). A worker that takes over a partition resumes from the row with
-- the highest offset (ORDER BY offset DESC LIMIT 1) and skips events at or below that offset:
-- their rows are already in the store. Sorted by the partition alone with the offset as the
-- ReplacingMergeTree version, so merges keep one row per partition, the latest; no TTL is set
-- and set_retention does not manage this table.
CREATE TABLE IF NOT EXISTS linewatch.monitor_snapshots
(
    group_id   LowCardinality(String),
    topic      LowCardinality(String),
    partition  UInt32,
    offset     Int64,
    snapshot   String CODEC(ZSTD(3)),
    saved_at   DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree(offset)
ORDER BY (group_id, topic, partition);

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

-- Hourly and daily rollups per slice (line x shift x lighting x period): AggregatingMergeTree fed
-- by materialized views on every insert into frames. Read them with the -Merge combinators,
-- e.g. frames per line and hour:
--   SELECT line_id, hour, countMerge(frames) FROM linewatch.frames_hourly GROUP BY line_id, hour
-- They answer dashboard queries over months from thousands of rows instead of millions. They
-- count what the writer inserted: a duplicate that got past the writer's lookup and its dedup
-- token (two writers racing on one batch) is counted twice here, never in the FINAL views.
-- The averages are Float64 states: the views cast the Float32 columns of frames.
CREATE TABLE IF NOT EXISTS linewatch.frames_hourly
(
    line_id        LowCardinality(String),
    shift          LowCardinality(String),
    lighting       LowCardinality(String),
    hour           DateTime('UTC'),
    frames         AggregateFunction(count),
    flagged        AggregateFunction(sum, UInt8),
    brightness     AggregateFunction(avg, Float64),
    contrast       AggregateFunction(avg, Float64),
    sharpness      AggregateFunction(avg, Float64),
    colour_cast    AggregateFunction(avg, Float64),
    max_confidence AggregateFunction(avg, Float64),
    latency_ms     AggregateFunction(quantilesTDigest(0.5, 0.95, 0.99), Float64)
)
ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMM(hour)
ORDER BY (line_id, shift, lighting, hour)
SETTINGS ttl_only_drop_parts = 1;

CREATE TABLE IF NOT EXISTS linewatch.frames_daily AS linewatch.frames_hourly
ENGINE = AggregatingMergeTree
PARTITION BY toYear(hour)
ORDER BY (line_id, shift, lighting, hour)
SETTINGS ttl_only_drop_parts = 1;

CREATE MATERIALIZED VIEW IF NOT EXISTS linewatch.frames_hourly_mv TO linewatch.frames_hourly AS
SELECT
    line_id, shift, lighting, toStartOfHour(captured_at) AS hour,
    countState() AS frames, sumState(predicted_defective) AS flagged,
    avgState(toFloat64(brightness)) AS brightness, avgState(toFloat64(contrast)) AS contrast,
    avgState(toFloat64(sharpness)) AS sharpness, avgState(toFloat64(colour_cast)) AS colour_cast,
    avgState(max_confidence) AS max_confidence,
    quantilesTDigestState(0.5, 0.95, 0.99)(toFloat64(latency_ms)) AS latency_ms
FROM linewatch.frames
GROUP BY line_id, shift, lighting, hour;

CREATE MATERIALIZED VIEW IF NOT EXISTS linewatch.frames_daily_mv TO linewatch.frames_daily AS
SELECT
    line_id, shift, lighting, toStartOfDay(captured_at) AS hour,
    countState() AS frames, sumState(predicted_defective) AS flagged,
    avgState(toFloat64(brightness)) AS brightness, avgState(toFloat64(contrast)) AS contrast,
    avgState(toFloat64(sharpness)) AS sharpness, avgState(toFloat64(colour_cast)) AS colour_cast,
    avgState(max_confidence) AS max_confidence,
    quantilesTDigestState(0.5, 0.95, 0.99)(toFloat64(latency_ms)) AS latency_ms
FROM linewatch.frames
GROUP BY line_id, shift, lighting, hour;

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
-- quantilesExact keeps one array per column and picks each level from it (nth element).
CREATE VIEW IF NOT EXISTS linewatch.v_latency_by_line AS
SELECT
    line_id, frames,
    latency[1] AS p50_ms, latency[2] AS p95_ms, latency[3] AS p99_ms,
    max_ms,
    inference[1] AS inference_p50_ms, inference[2] AS inference_p99_ms
FROM (
    SELECT
        line_id,
        count() AS frames,
        quantilesExact(0.5, 0.95, 0.99)(latency_ms) AS latency,
        max(latency_ms) AS max_ms,
        quantilesExact(0.5, 0.99)(inference_ms) AS inference
    FROM linewatch.frames FINAL
    GROUP BY line_id
);

-- Frames for human review: top confidence in [review_low, review_high), unlabelled first.
-- Parameterised: SELECT * FROM linewatch.v_review_queue(review_low = 0.15, review_high = 0.5)
CREATE VIEW IF NOT EXISTS linewatch.v_review_queue AS
SELECT
    f.event_id AS event_id, f.line_id AS line_id, f.camera_id AS camera_id,
    f.captured_at AS captured_at, f.shift AS shift, f.lighting AS lighting,
    f.max_confidence AS max_confidence, f.detection_count AS detection_count,
    f.event_id IN (SELECT event_id FROM linewatch.labels) AS labelled
FROM linewatch.frames AS f FINAL
WHERE f.max_confidence >= {review_low:Float64} AND f.max_confidence < {review_high:Float64};

-- Top-confidence histogram of production frames (bins of 0.05).
CREATE VIEW IF NOT EXISTS linewatch.v_confidence_hist_production AS
SELECT line_id, least(floor(max_confidence * 20), 19) / 20 AS bin, count() AS frames
FROM linewatch.frames FINAL
GROUP BY line_id, bin;

-- Labels whose frame is not (yet) stored (reconcile reads this count alone). A labelled event
-- with a reconciled outcome has a frame (reconcile pairs only labels with stored frames), so
-- only the labels not reconciled yet - in steady state a handful - are looked up in event_keys,
-- by its primary key: never a set of every frame, nor a read of the whole key table.
CREATE VIEW IF NOT EXISTS linewatch.v_labels_without_frames AS
SELECT uniqExact(event_id) AS labels_without_frames
FROM linewatch.labels
WHERE event_id NOT IN (SELECT event_id FROM linewatch.frame_outcomes)
  AND event_id NOT IN (
    SELECT event_id FROM linewatch.event_keys
    WHERE event_id IN (
        SELECT event_id FROM linewatch.labels
        WHERE event_id NOT IN (SELECT event_id FROM linewatch.frame_outcomes)));

-- Labelled and all frames, labels without frames, reconciled frames.
CREATE VIEW IF NOT EXISTS linewatch.v_label_coverage AS
SELECT
    (SELECT count() FROM linewatch.frames FINAL) AS frames,
    (SELECT uniqExact(event_id) FROM linewatch.labels) AS labelled_events,
    (SELECT labels_without_frames FROM linewatch.v_labels_without_frames)
        AS labels_without_frames,
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
