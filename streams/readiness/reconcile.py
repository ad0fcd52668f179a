"""Pair labels with frames and store each labelled frame's outcome (``frame_outcomes``).

``reconcile`` is incremental: it processes only labelled frames whose current outcome is
missing or stale (a newer label arrived, or the operating threshold changed). A label that
arrived before its frame simply waits: the next ``reconcile`` after the frame lands pairs them.
It runs after label ingestion (runners) and before ``linewatch metrics`` / ``report``. When it
reconciled new labels, it replays the outcomes through the label-driven drift detectors
(:mod:`streams.readiness.label_drift`: ``fnr`` / ``fpr`` drift events). Its reads are the
typed queries of :mod:`streams.sinks.reads.reconcile`.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
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
from streams.sinks.reads import reconcile as reads

__all__ = ["IOU_THRESHOLD", "PRODUCTION_SPLIT", "ReconcileSummary", "outcome_record", "reconcile"]

log = logging.getLogger(__name__)

IOU_THRESHOLD = 0.5
PRODUCTION_SPLIT = "production"
_CHUNK = 10_000

SCAN_FROM = 20_000
"""Pending labels from which ``reconcile`` reads the frames of all of them in one scan of
``frames``/``detections`` (``event_id IN pending``) instead of finding each frame through
``event_keys`` and reading it by sort key, chunk by chunk: when labels are spread over the whole
store, both paths read every granule, and the scan reads each once."""


@dataclass(frozen=True)
class ReconcileSummary:
    """What one ``reconcile`` did."""

    threshold: float
    reconciled: int
    labels_without_frames: int
    label_drift_events: int = 0
    """fnr / fpr drift events found over all reconciled units (:mod:`.label_drift`)."""


_Found = dict[str, tuple[tuple[Any, ...], list[PredictedBox]]]
"""``event_id -> ((line_id, camera_id, …, inference_ms), detections at the threshold)``."""


def _found(rows: Sequence[tuple[Any, ...]]) -> _Found:
    """``event_id -> ((line_id, camera_id, …, inference_ms), detections)`` of lookup rows."""
    found: _Found = {}
    for row in rows:
        preds = [
            PredictedBox(c, float(conf), (x1, y1, x2, y2))
            for _i, c, conf, x1, y1, x2, y2 in row[11]
        ]
        found[str(row[0])] = (tuple(row[1:11]), preds)
    return found


def _lookups(
    store: ClickHouseStore, pending: Sequence[tuple[Any, ...]], threshold: float
) -> _Found:
    """``event_id -> ((line_id, camera_id, …, inference_ms), detections at threshold)`` of the
    frames of one chunk of pending rows."""
    return _found(reads.frames_of(store, [(r[0], r[6], r[7]) for r in pending], threshold))


def _outcome_row(
    row: tuple[Any, ...], preds: list[PredictedBox], threshold: float, now: datetime
) -> tuple[Any, ...]:
    """The ``frame_outcomes`` row of one pending label (values in :class:`FrameOutcomeRecord`
    field order, each already of its field's type: :func:`outcome_record` validates one)."""
    (event_id, label_id, source, labelled_at, class_names, boxes) = row[:6]
    (line_id, camera_id, shift, lighting, variant, captured_at) = row[6:12]
    (model_version, max_conf, latency_ms, inference_ms) = row[12:]
    truths = [
        TruthBox(c, (b[0], b[1], b[2], b[3])) for c, b in zip(class_names, boxes, strict=True)
    ]
    fo = frame_outcome(preds, truths, threshold, IOU_THRESHOLD)
    return (
        stable_id(event_id, label_id, threshold, model_version),  # outcome_id
        str(event_id),
        str(label_id),
        str(line_id),
        str(camera_id),
        str(shift),
        str(lighting),
        str(variant),  # product_variant
        PRODUCTION_SPLIT,  # split
        captured_at,
        labelled_at,
        str(source),  # label_source
        str(model_version),
        float(threshold),
        IOU_THRESHOLD,
        fo.outcome,
        fo.gt_defective,
        fo.pred_defective,
        list(fo.gt_classes),
        [int(m) for m in fo.gt_matched],
        list(fo.pred_classes),
        [int(t) for t in fo.pred_tp],
        fo.tp_boxes,
        fo.fp_boxes,
        fo.fn_boxes,
        float(max_conf),  # max_confidence
        float(latency_ms),
        float(inference_ms),
        now,  # reconciled_at
    )


def outcome_record(row: tuple[Any, ...]) -> FrameOutcomeRecord:
    """A validated record of one ``frame_outcomes`` row (tests: the rows need no validation)."""
    return FrameOutcomeRecord(**dict(zip(FrameOutcomeRecord.model_fields, row, strict=True)))


def reconcile(
    store: ClickHouseStore, settings: Settings, *, threshold: float | None = None
) -> ReconcileSummary:
    """Match detections to ground truth for every labelled frame not yet (or stale) reconciled.

    The frame's *unit* outcome uses the frame's detections at ``threshold`` (default: the
    operating threshold); the per-box matching is class-aware at IoU ≥ 0.5, greedy by confidence.
    """
    thr = operating_threshold(settings) if threshold is None else float(threshold)
    labels = reads.pending_labels(store, thr)
    now = datetime.now(UTC)
    written = 0

    def write(chunk: Sequence[tuple[Any, ...]], found: _Found) -> int:
        rows = [
            _outcome_row((*r[:6], *found[r[0]][0]), found[r[0]][1], thr, now)
            for r in chunk
            if r[0] in found
        ]
        # known_new: a pending row has no outcome at this threshold (the anti-join above), and
        # its outcome_id is a hash of (event, label, threshold, model version): none is stored
        return store.insert_new_rows(FrameOutcomeRecord, rows)

    if len(labels) >= SCAN_FROM:
        found = _found(reads.all_pending_frames(store, thr))
        for start in range(0, len(labels), _CHUNK):
            written += write(labels[start : start + _CHUNK], found)
    elif labels:
        keys = reads.pending_frame_keys(store, thr)
        pending = [(*r, *keys[r[0]]) for r in labels if r[0] in keys]
        pending.sort(key=lambda r: (r[6], r[7]))  # line, capture time: each chunk a narrow window
        chunks = [pending[start : start + _CHUNK] for start in range(0, len(pending), _CHUNK)]
        # the next chunk's frames and detections are read (chDB / the server work outside the
        # GIL) while this chunk's outcomes are built and written
        with ThreadPoolExecutor(max_workers=1) as pool:
            ahead = pool.submit(_lookups, store, chunks[0], thr) if chunks else None
            for i, chunk in enumerate(chunks):
                assert ahead is not None
                found = ahead.result()
                if i + 1 < len(chunks):
                    ahead = pool.submit(_lookups, store, chunks[i + 1], thr)
                written += write(chunk, found)
    orphans = reads.labels_without_frames(store)
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
