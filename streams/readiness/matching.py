"""Match predicted boxes to ground truth, and decide each frame's outcome.

Matching is class-aware (a ``dent`` never matches a ``scratch``), needs IoU ≥ 0.5 (float64
:func:`~streams.inference.nms.box_iou`, so a box at exactly 0.5 matches) and is greedy
by confidence: the most confident prediction takes its best still-free ground-truth box first.

>>> preds = [PredictedBox("dent", 0.9, (0, 0, 10, 10)), PredictedBox("dent", 0.8, (0, 0, 10, 10))]
>>> gts = [TruthBox("dent", (0, 0, 10, 10))]
>>> m = match_boxes(preds, gts)
>>> m.pred_tp.tolist(), m.gt_matched.tolist()
([True, False], [True])
>>> frame_outcome(preds, gts, threshold=0.5).outcome
'TP'
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import NDArray

from streams.evaluation.boxes import PredictedBox, TruthBox
from streams.inference.nms import box_iou

__all__ = [
    "FrameOutcome",
    "MatchResult",
    "Outcome",
    "frame_outcome",
    "match_boxes",
]

Outcome = Literal["TP", "FP", "FN", "TN"]
Box = tuple[float, float, float, float]


@dataclass(frozen=True)
class MatchResult:
    """Which predictions and ground-truth boxes found a partner (in their input order)."""

    pred_tp: NDArray[np.bool_]
    pred_gt: NDArray[np.int64]
    """Index of the matched ground-truth box per prediction, -1 if none."""
    gt_matched: NDArray[np.bool_]

    @property
    def tp(self) -> int:
        return int(self.pred_tp.sum())

    @property
    def fp(self) -> int:
        return int((~self.pred_tp).sum())

    @property
    def fn(self) -> int:
        return int((~self.gt_matched).sum())


def match_boxes(
    preds: Sequence[PredictedBox], truths: Sequence[TruthBox], iou_threshold: float = 0.5
) -> MatchResult:
    """Greedy, class-aware matching by descending confidence (ties keep input order)."""
    n_pred, n_gt = len(preds), len(truths)
    if n_pred == 1 and n_gt == 1 and _finite(preds[0].box, truths[0].box):
        # the common labelled defect: one box each; the same float64 IoU without numpy arrays
        hit = preds[0].class_name == truths[0].class_name and (
            _iou(preds[0].box, truths[0].box) >= iou_threshold
        )
        return MatchResult(
            pred_tp=np.array([hit]),
            pred_gt=np.array([0 if hit else -1], dtype=np.int64),
            gt_matched=np.array([hit]),
        )
    pred_gt = np.full(n_pred, -1, dtype=np.int64)
    gt_matched = np.zeros(n_gt, dtype=np.bool_)
    if n_pred and n_gt:
        iou = box_iou([p.box for p in preds], [t.box for t in truths], np.float64)
        same = np.array(
            [[p.class_name == t.class_name for t in truths] for p in preds], dtype=np.bool_
        )
        iou = np.where(same & (iou >= iou_threshold), iou, -1.0)
        order = np.argsort(-np.array([p.confidence for p in preds]), kind="stable")
        for i in order:
            row = np.where(gt_matched, -1.0, iou[i])
            j = int(np.argmax(row))
            if row[j] >= 0.0:
                gt_matched[j] = True
                pred_gt[i] = j
    return MatchResult(pred_tp=pred_gt >= 0, pred_gt=pred_gt, gt_matched=gt_matched)


def _finite(*boxes: Sequence[float]) -> bool:
    return all(math.isfinite(v) for box in boxes for v in box)


def _iou(a: Sequence[float], b: Sequence[float]) -> float:
    """:func:`box_iou` of two finite boxes in float64, as plain floats (the same operations in
    the same order, so the same value: ``test_single_box_iou_equals_box_iou``)."""
    ax1, ay1, ax2, ay2 = (float(v) for v in a)
    bx1, by1, bx2, by2 = (float(v) for v in b)
    inter = max(min(ax2, bx2) - max(ax1, bx1), 0.0) * max(min(ay2, by2) - max(ay1, by1), 0.0)
    area_a = max(ax2 - ax1, 0.0) * max(ay2 - ay1, 0.0)
    area_b = max(bx2 - bx1, 0.0) * max(by2 - by1, 0.0)
    union = area_a + area_b - inter
    return inter / union if union > 0 else 0.0


@dataclass(frozen=True)
class FrameOutcome:
    """The unit-level and box-level result of one labelled frame at the operating threshold."""

    outcome: Outcome
    gt_defective: bool
    pred_defective: bool
    gt_classes: tuple[str, ...]
    gt_matched: tuple[bool, ...]
    pred_classes: tuple[str, ...]
    pred_tp: tuple[bool, ...]
    max_confidence: float

    @property
    def tp_boxes(self) -> int:
        return sum(self.pred_tp)

    @property
    def fp_boxes(self) -> int:
        return len(self.pred_tp) - sum(self.pred_tp)

    @property
    def fn_boxes(self) -> int:
        return len(self.gt_matched) - sum(self.gt_matched)


def frame_outcome(
    preds: Sequence[PredictedBox],
    truths: Sequence[TruthBox],
    threshold: float,
    iou_threshold: float = 0.5,
) -> FrameOutcome:
    """Outcome of a frame: flagged good unit = ``FP``, passed defective unit = ``FN``.

    Only predictions with confidence ≥ ``threshold`` count; a defective unit that is flagged
    for the wrong class is still a ``TP`` frame (the unit is pulled) but its box is an FP and
    the true box an FN.
    """
    kept = [p for p in preds if p.confidence >= threshold]
    gt_def, pred_def = bool(truths), bool(kept)
    outcome: Outcome = ("TP" if pred_def else "FN") if gt_def else ("FP" if pred_def else "TN")
    if gt_def and pred_def:
        m = match_boxes(kept, truths, iou_threshold)
        gt_matched = tuple(bool(x) for x in m.gt_matched)
        pred_tp = tuple(bool(x) for x in m.pred_tp)
    else:  # nothing to match (most labelled frames): what match_boxes returns, without numpy
        gt_matched, pred_tp = (False,) * len(truths), (False,) * len(kept)
    return FrameOutcome(
        outcome=outcome,
        gt_defective=gt_def,
        pred_defective=pred_def,
        gt_classes=tuple(t.class_name for t in truths),
        gt_matched=gt_matched,
        pred_classes=tuple(p.class_name for p in kept),
        pred_tp=pred_tp,
        max_confidence=max((p.confidence for p in preds), default=0.0),
    )
