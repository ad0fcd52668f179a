"""Offline detector evaluation: VOC-style AP/mAP, recall at a threshold, YOLO-output decoding."""

from __future__ import annotations

from streams.evaluation.ap import (
    ClassEval,
    DetectorEval,
    Prediction,
    Truth,
    average_precision,
    best_f1_threshold,
    evaluate_detections,
    iou_matrix,
)
from streams.evaluation.decode import decode_yolov8, nms

__all__ = [
    "ClassEval",
    "DetectorEval",
    "Prediction",
    "Truth",
    "average_precision",
    "best_f1_threshold",
    "decode_yolov8",
    "evaluate_detections",
    "iou_matrix",
    "nms",
]
