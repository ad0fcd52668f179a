"""Offline detector evaluation: VOC-style AP/mAP, recall at a threshold, best-F1 threshold.

Decoding raw network outputs and NMS are :mod:`streams.inference`'s
(:class:`~streams.inference.decoders.YoloV8Decoder`, :func:`~streams.inference.nms.nms`); box IoU
is :func:`streams.inference.nms.box_iou`.
"""

from __future__ import annotations

from streams.evaluation.ap import (
    ClassEval,
    DetectorEval,
    average_precision,
    best_f1_threshold,
    evaluate_detections,
)
from streams.evaluation.boxes import PredictedBox, TruthBox

__all__ = [
    "ClassEval",
    "DetectorEval",
    "PredictedBox",
    "TruthBox",
    "average_precision",
    "best_f1_threshold",
    "evaluate_detections",
]
