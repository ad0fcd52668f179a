"""Pair labels with frames and store each labelled frame's outcome (``frame_outcomes``).

``reconcile`` is incremental: it processes only labelled frames whose current outcome is
missing or stale (a newer label arrived, or the operating threshold changed). A label that
arrived before its frame simply waits: the next ``reconcile`` after the frame lands pairs them.
It runs after label ingestion (runners) and before ``linewatch metrics`` / ``report``. When it
reconciled new labels, it replays the outcomes through the label-driven drift detectors
(:mod:`streams.readiness.label_drift`: ``fnr`` / ``fpr`` drift events).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from schemas.records import stable_id
from streams.config import Settings
from streams.evaluation.boxes import PredictedBox, TruthBox
from streams.inference.threshold import operating_threshold
from streams.readiness.label_drift import detect_label_drift
from streams.readiness.matching import frame_outcome
from streams.readiness.records import FrameOutcomeRecord
from streams.sinks import ClickHouseStore

__all__ = ["IOU_THRESHOLD", "PRODUCTION_SPLIT", "ReconcileSummary", "reconcile"]

log = logging.getLogger(__name__)

IOU_THRESHOLD = 0.5
PRODUCTION_SPLIT = "production"
_CHUNK = 5000

PENDING_SQL = """
WITH pending AS (
    -- the latest label of each event, unless its outcome at this threshold is stored already:
    -- in steady state a handful of rows, whatever the size of the store
    SELECT l.event_id AS event_id, l.label_id AS label_id, l.source AS source,
           l.labelled_at AS labelled_at, l.class_names AS class_names, l.boxes AS boxes
    FROM (
        SELECT event_id, label_id, source, labelled_at, class_names, boxes
        FROM linewatch.labels FINAL
        ORDER BY event_id, labelled_at DESC, label_id DESC
        LIMIT 1 BY event_id
    ) AS l
    LEFT ANTI JOIN (
        SELECT event_id, label_id FROM linewatch.v_frame_outcomes
        WHERE threshold = {threshold:Float64}
    ) AS o ON o.event_id = l.event_id AND o.label_id = l.label_id
)
SELECT
    l.event_id, l.label_id, l.source, l.labelled_at, l.class_names, l.boxes,
    k.line_id, k.captured_at
FROM pending AS l
-- where each pending label's frame is (line, capture time), from event_keys by primary key:
-- labels whose frame has not arrived drop out here
INNER JOIN (
    SELECT event_id, line_id, captured_at FROM linewatch.event_keys
    WHERE event_id IN (SELECT event_id FROM pending)
) AS k ON k.event_id = l.event_id
LIMIT 1 BY l.event_id
"""

FRAMES_SQL = """
SELECT event_id, line_id, camera_id, shift, lighting, product_variant, captured_at,
       model_version, max_confidence, latency_ms, inference_ms
FROM linewatch.frames
WHERE line_id IN {lines:Array(String)}
  AND captured_at >= {lo:DateTime64(3, 'UTC')} AND captured_at <= {hi:DateTime64(3, 'UTC')}
  AND event_id IN {ids:Array(String)}
LIMIT 1 BY event_id
"""

DETECTIONS_SQL = """
SELECT DISTINCT event_id, det_index, class_name, confidence, x1, y1, x2, y2
FROM linewatch.detections
WHERE line_id IN {lines:Array(String)}
  AND captured_at >= {lo:DateTime64(3, 'UTC')} AND captured_at <= {hi:DateTime64(3, 'UTC')}
  AND event_id IN {ids:Array(String)} AND confidence >= {threshold:Float64}
"""


ORPHANS_SQL = """
SELECT labels_without_frames FROM linewatch.v_labels_without_frames
"""
"""``v_label_coverage``'s ``labels_without_frames`` alone (without its count of all frames)."""


@dataclass(frozen=True)
class ReconcileSummary:
    """What one ``reconcile`` did."""

    threshold: float
    reconciled: int
    labels_without_frames: int
    label_drift_events: int = 0
    """fnr / fpr drift events found over all reconciled units (:mod:`.label_drift`)."""


def _window(pending: Sequence[tuple[Any, ...]]) -> dict[str, Any]:
    """Event ids, lines and capture-time range of pending rows (``frames``/``detections`` are
    sorted by line and capture time, so a query bounded by them reads only that window)."""
    return {
        "ids": [r[0] for r in pending],
        "lines": sorted({r[6] for r in pending}),
        "lo": min(r[7] for r in pending),
        "hi": max(r[7] for r in pending),
    }


def _frames(
    store: ClickHouseStore, pending: Sequence[tuple[Any, ...]]
) -> dict[str, tuple[Any, ...]]:
    """``event_id -> (line_id, camera_id, …, inference_ms)`` of the pending rows' frames."""
    rows = store.query(FRAMES_SQL, _window(pending)).result_rows
    return {str(r[0]): tuple(r[1:]) for r in rows}


def _detections(
    store: ClickHouseStore, pending: Sequence[tuple[Any, ...]], threshold: float
) -> dict[str, list[PredictedBox]]:
    """Detections at ``threshold`` of the ``pending`` rows' frames, within their window."""
    found: dict[str, list[PredictedBox]] = defaultdict(list)
    params = {**_window(pending), "threshold": threshold}
    rows = store.query(DETECTIONS_SQL, params).result_rows
    for event_id, _idx, cls, conf, x1, y1, x2, y2 in rows:
        found[event_id].append(PredictedBox(cls, float(conf), (x1, y1, x2, y2)))
    return found


def _outcome_record(
    row: tuple[Any, ...], preds: list[PredictedBox], threshold: float, now: datetime
) -> FrameOutcomeRecord:
    (event_id, label_id, source, labelled_at, class_names, boxes) = row[:6]
    (line_id, camera_id, shift, lighting, variant, captured_at) = row[6:12]
    (model_version, max_conf, latency_ms, inference_ms) = row[12:]
    truths = [
        TruthBox(c, (b[0], b[1], b[2], b[3])) for c, b in zip(class_names, boxes, strict=True)
    ]
    fo = frame_outcome(preds, truths, threshold, IOU_THRESHOLD)
    return FrameOutcomeRecord(
        outcome_id=stable_id(event_id, label_id, threshold, model_version),
        event_id=event_id,
        label_id=label_id,
        line_id=line_id,
        camera_id=camera_id,
        shift=shift,
        lighting=lighting,
        product_variant=variant,
        split=PRODUCTION_SPLIT,
        captured_at=captured_at,
        labelled_at=labelled_at,
        label_source=source,
        model_version=model_version,
        threshold=threshold,
        iou_threshold=IOU_THRESHOLD,
        outcome=fo.outcome,
        gt_defective=fo.gt_defective,
        pred_defective=fo.pred_defective,
        gt_classes=list(fo.gt_classes),
        gt_matched=[int(m) for m in fo.gt_matched],
        pred_classes=list(fo.pred_classes),
        pred_tp=[int(t) for t in fo.pred_tp],
        tp_boxes=fo.tp_boxes,
        fp_boxes=fo.fp_boxes,
        fn_boxes=fo.fn_boxes,
        max_confidence=float(max_conf),
        latency_ms=float(latency_ms),
        inference_ms=float(inference_ms),
        reconciled_at=now,
    )


def reconcile(
    store: ClickHouseStore, settings: Settings, *, threshold: float | None = None
) -> ReconcileSummary:
    """Match detections to ground truth for every labelled frame not yet (or stale) reconciled.

    The frame's *unit* outcome uses the frame's detections at ``threshold`` (default: the
    operating threshold); the per-box matching is class-aware at IoU ≥ 0.5, greedy by confidence.
    """
    thr = operating_threshold(settings) if threshold is None else float(threshold)
    pending = store.query(PENDING_SQL, {"threshold": thr}).result_rows
    pending.sort(key=lambda r: (r[6], r[7]))  # line, capture time: each chunk a narrow window
    now = datetime.now(UTC)
    written = 0
    for start in range(0, len(pending), _CHUNK):
        chunk = pending[start : start + _CHUNK]
        frames = _frames(store, chunk)
        preds = _detections(store, chunk, thr)
        records = [
            _outcome_record((*r[:6], *frames[r[0]]), preds.get(r[0], []), thr, now)
            for r in chunk
            if r[0] in frames
        ]
        # known_new: a pending row has no outcome at this threshold (the anti-join above), and
        # its outcome_id is a hash of (event, label, threshold, model version): none is stored
        written += store.insert(records, known_new=True)
    orphans = store.query(ORPHANS_SQL).result_rows[0][0]
    drifts = 0
    if written:
        log.info("reconciled %d labelled frames at threshold %.3f", written, thr)
        drifts = detect_label_drift(store, settings, thr)
    return ReconcileSummary(
        threshold=thr,
        reconciled=written,
        labels_without_frames=int(orphans),
        label_drift_events=drifts,
    )
