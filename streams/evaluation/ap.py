"""VOC-style average precision (all-point interpolation) and recall at an operating threshold.

Matching follows PASCAL VOC: per class, predictions are taken in descending score over all
frames; each is a true positive when its best-IoU ground-truth box of that class in the same
frame has IoU >= ``iou_threshold`` and is not matched yet, else a false positive.

>>> t = [[TruthBox("dent", (10, 10, 30, 30))], [TruthBox("dent", (50, 50, 70, 70))]]
>>> p = [[PredictedBox("dent", 0.9, (11, 11, 30, 30))], [PredictedBox("dent", 0.4, (0, 0, 5, 5))]]
>>> r = evaluate_detections(p, t, ["dent"], operating_threshold=0.5)
>>> r.per_class["dent"].ap, r.per_class["dent"].recall, r.map
(0.5, 0.5, 0.5)
>>> average_precision([0.9, 0.8, 0.7], [True, False, True], 2)  # doctest: +ELLIPSIS
0.833...
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from streams.evaluation.boxes import PredictedBox, TruthBox
from streams.inference.nms import box_iou

__all__ = [
    "ClassEval",
    "DetectorEval",
    "average_precision",
    "best_f1_threshold",
    "evaluate_detections",
]


@dataclass(frozen=True, slots=True)
class ClassEval:
    """Per-class result: AP over all scores; recall/precision at the operating threshold."""

    ap: float
    recall: float
    precision: float
    n_truth: int
    n_predicted: int


@dataclass(frozen=True, slots=True)
class DetectorEval:
    """Per-class results and their mean AP (over classes with ground truth)."""

    per_class: dict[str, ClassEval]
    map: float
    operating_threshold: float


def average_precision(
    scores: npt.ArrayLike,
    is_tp: npt.ArrayLike,
    n_ground_truth: int,
    *,
    recall_points: int | None = None,
) -> float | None:
    """Interpolated average precision: all-point (VOC 2010+) or at ``recall_points`` recalls.

    The single AP of linewatch: all-point for the offline evaluation here; 101 recall points
    (``recall_points=101``, COCO's definition, what pycocotools reports as AP@0.5) for the lab
    mAP of ``streams.readiness.lab``. ``scores`` and ``is_tp`` describe every prediction of one
    class (matched greedily by confidence beforehand), in any order: they are ranked by
    descending score, ties keeping their input order. ``n_ground_truth`` is the number of true
    objects of that class. Returns ``None`` when the class has no ground truth.

    With ``recall_points=n`` the precision envelope (the best precision at any recall at least
    ``r``) is read at ``r = 0, 1/(n-1), ..., 1`` and averaged, 0 where the recall never reaches
    ``r``; that is how pycocotools' ``COCOeval.accumulate`` computes it.

    >>> average_precision([0.9, 0.8, 0.7], [1, 0, 1], 2)  # P=1 at R=.5, P=2/3 at R=1
    0.8333333333333333
    >>> average_precision([], [], 3)
    0.0
    >>> average_precision([0.5], [0], 0) is None
    True
    >>> ap = average_precision([0.9, 0.8, 0.7], [1, 0, 1], 2, recall_points=101)
    >>> round(ap, 6), round((51 * 1 + 50 * 2 / 3) / 101, 6)  # P=1 up to R=.5, 2/3 above
    (0.834983, 0.834983)
    """
    if n_ground_truth <= 0:
        return None
    s = np.asarray(scores, dtype=np.float64).reshape(-1)
    tp = np.asarray(is_tp, dtype=np.float64).reshape(-1)
    if s.shape != tp.shape:
        raise ValueError("scores and is_tp must have the same length")
    if s.size == 0:
        return 0.0
    order = np.argsort(-s, kind="stable")
    tp_cum = np.cumsum(tp[order])
    fp_cum = np.cumsum(1.0 - tp[order])
    recall = tp_cum / n_ground_truth
    precision = tp_cum / np.maximum(tp_cum + fp_cum, np.finfo(np.float64).eps)
    if recall_points is not None:
        if recall_points < 2:
            raise ValueError(f"recall_points must be at least 2, got {recall_points}")
        envelope = np.maximum.accumulate(precision[::-1])[::-1]
        at = np.searchsorted(recall, np.linspace(0.0, 1.0, recall_points), side="left")
        reached = at < recall.size
        return float(np.where(reached, envelope[np.minimum(at, recall.size - 1)], 0.0).mean())
    mrec = np.concatenate(([0.0], recall, [1.0]))
    mpre = np.concatenate(([0.0], precision, [0.0]))
    mpre = np.maximum.accumulate(mpre[::-1])[::-1]
    steps = np.nonzero(mrec[1:] != mrec[:-1])[0]
    return float(np.sum((mrec[steps + 1] - mrec[steps]) * mpre[steps + 1]))


def _match_class(
    predictions: Sequence[Sequence[PredictedBox]],
    truths: Sequence[Sequence[TruthBox]],
    class_name: str,
    iou_threshold: float,
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.bool_], int]:
    """Scores (descending) and TP flags of one class's predictions, and its truth count."""
    gt = [np.asarray([t.box for t in ts if t.class_name == class_name]) for ts in truths]
    n_truth = sum(len(g) for g in gt)
    flat = [
        (p.confidence, i, p.box)
        for i, ps in enumerate(predictions)
        for p in ps
        if p.class_name == class_name
    ]
    flat.sort(key=lambda x: -x[0])
    used = [np.zeros(len(g), dtype=bool) for g in gt]
    flags = np.zeros(len(flat), dtype=bool)
    for k, (_, frame, box) in enumerate(flat):
        if len(gt[frame]) == 0:
            continue
        ious = box_iou([box], gt[frame], np.float64)[0]
        best = int(np.argmax(ious))
        if ious[best] >= iou_threshold and not used[frame][best]:
            used[frame][best] = True
            flags[k] = True
    scores = np.asarray([f[0] for f in flat], dtype=np.float64)
    return scores, flags, n_truth


def evaluate_detections(
    predictions: Sequence[Sequence[PredictedBox]],
    truths: Sequence[Sequence[TruthBox]],
    class_names: Sequence[str],
    *,
    iou_threshold: float = 0.5,
    operating_threshold: float = 0.5,
) -> DetectorEval:
    """AP per class and mAP@``iou_threshold``; recall and precision at ``operating_threshold``.

    ``predictions[i]`` and ``truths[i]`` belong to frame ``i``.
    """
    if len(predictions) != len(truths):
        raise ValueError(f"{len(predictions)} prediction lists for {len(truths)} frames")
    per_class: dict[str, ClassEval] = {}
    for name in class_names:
        scores, flags, n_truth = _match_class(predictions, truths, name, iou_threshold)
        keep = scores >= operating_threshold
        tp_at = int(flags[keep].sum())
        ap = average_precision(scores, flags, n_truth)
        per_class[name] = ClassEval(
            ap=float("nan") if ap is None else ap,
            recall=tp_at / n_truth if n_truth else float("nan"),
            precision=tp_at / int(keep.sum()) if keep.any() else float("nan"),
            n_truth=n_truth,
            n_predicted=int(keep.sum()),
        )
    aps = [c.ap for c in per_class.values() if c.n_truth > 0]
    return DetectorEval(
        per_class=per_class,
        map=float(np.mean(aps)) if aps else float("nan"),
        operating_threshold=operating_threshold,
    )


def best_f1_threshold(
    predictions: Sequence[Sequence[PredictedBox]],
    truths: Sequence[Sequence[TruthBox]],
    class_names: Sequence[str],
    *,
    iou_threshold: float = 0.5,
) -> tuple[float, float]:
    """The score threshold maximising the pooled F1 over all classes, and that F1.

    >>> t = [[TruthBox("a", (0, 0, 10, 10))], [TruthBox("a", (0, 0, 10, 10))]]
    >>> p = [[PredictedBox("a", 0.9, (0, 0, 10, 10))], [PredictedBox("a", 0.3, (0, 0, 10, 10)),
    ...       PredictedBox("a", 0.6, (20, 20, 30, 30))]]
    >>> best_f1_threshold(p, t, ["a"])
    (0.3, 0.8)
    """
    all_scores: list[npt.NDArray[np.float64]] = []
    all_flags: list[npt.NDArray[np.bool_]] = []
    total = 0
    for name in class_names:
        scores, flags, n_truth = _match_class(predictions, truths, name, iou_threshold)
        all_scores.append(scores)
        all_flags.append(flags)
        total += n_truth
    scores = np.concatenate(all_scores) if all_scores else np.zeros(0)
    if scores.size == 0 or total == 0:
        return 0.5, 0.0
    flags = np.concatenate(all_flags)
    order = np.argsort(-scores, kind="stable")
    scores, flags = scores[order], flags[order]
    ctp = np.cumsum(flags)
    n_pred = np.arange(1, scores.size + 1)
    # Only cut between distinct scores: a threshold keeps every prediction with that score.
    last = np.r_[scores[1:] != scores[:-1], True]
    f1 = np.where(last, 2 * ctp / (n_pred + total), -1.0)
    best = int(np.argmax(f1))
    return float(scores[best]), float(f1[best])
