"""Lab-split accuracy: COCO AP@0.5 per class from every stored lab detection (all scores ≥ the
score floor), the figure pycocotools reports for the same boxes (``tests/test_lab_judge.py``).

>>> preds = [PredictedBox("dent", 0.9, (0, 0, 10, 10)), PredictedBox("dent", 0.3, (20, 20, 30, 30))]
>>> frames = [LabFrame(gt=[TruthBox("dent", (0, 0, 10, 10))], preds=preds)]
>>> r = mean_average_precision(frames, ["dent", "scratch"])
>>> r.map50, r.per_class
(1.0, {'dent': 1.0, 'scratch': None})
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from streams.evaluation.ap import average_precision
from streams.evaluation.boxes import PredictedBox, TruthBox
from streams.readiness.matching import match_boxes
from streams.readiness.stats import mean_or_none

__all__ = [
    "COCO_MAX_DETECTIONS",
    "COCO_RECALL_POINTS",
    "LabFrame",
    "MapResult",
    "mean_average_precision",
]

COCO_RECALL_POINTS = 101
"""COCO reads the precision envelope at recall 0, 0.01, ..., 1."""
COCO_MAX_DETECTIONS = 100
"""COCO keeps a frame's 100 most confident detections of a class (``maxDets``)."""


@dataclass(frozen=True)
class LabFrame:
    """TruthBox and predictions of one lab frame."""

    gt: Sequence[TruthBox]
    preds: Sequence[PredictedBox]


@dataclass(frozen=True)
class MapResult:
    """AP per class (``None``: no ground truth of that class) and their mean."""

    map50: float | None
    per_class: dict[str, float | None] = field(default_factory=dict)
    ground_truth: dict[str, int] = field(default_factory=dict)


def mean_average_precision(
    frames: Iterable[LabFrame], classes: Sequence[str], iou_threshold: float = 0.5
) -> MapResult:
    """COCO's mAP@``iou_threshold`` over ``classes``, as pycocotools computes it.

    Per frame and class, the (at most 100) most confident predictions take their best
    still-free ground-truth box by confidence (:func:`~streams.readiness.matching.match_boxes`,
    COCO's matching); AP is the precision envelope at 101 recall points. A class without ground
    truth has AP ``None`` and stays out of the mean.
    """
    scores: dict[str, list[float]] = {c: [] for c in classes}
    hits: dict[str, list[bool]] = {c: [] for c in classes}
    n_gt: dict[str, int] = dict.fromkeys(classes, 0)
    for frame in frames:
        for c in classes:
            ranked = sorted(
                (p for p in frame.preds if p.class_name == c), key=lambda p: -p.confidence
            )
            preds = ranked[:COCO_MAX_DETECTIONS]
            truths = [t for t in frame.gt if t.class_name == c]
            n_gt[c] += len(truths)
            if not preds:
                continue
            m = match_boxes(preds, truths, iou_threshold)
            scores[c].extend(p.confidence for p in preds)
            hits[c].extend(bool(x) for x in m.pred_tp)
    per_class = {
        c: average_precision(scores[c], hits[c], n_gt[c], recall_points=COCO_RECALL_POINTS)
        for c in classes
    }
    return MapResult(
        map50=mean_or_none(list(per_class.values())), per_class=per_class, ground_truth=n_gt
    )
