"""VOC-style average precision (all-point interpolation) and recall at an operating threshold.

Matching follows PASCAL VOC: per class, predictions are taken in descending score over all
frames; each is a true positive when its best-IoU ground-truth box of that class in the same
frame has IoU >= ``iou_threshold`` and is not matched yet, else a false positive.

>>> t = [[Truth("dent", (10, 10, 30, 30))], [Truth("dent", (50, 50, 70, 70))]]
>>> p = [[Prediction("dent", 0.9, (11, 11, 30, 30))], [Prediction("dent", 0.4, (0, 0, 5, 5))]]
>>> r = evaluate_detections(p, t, ["dent"], operating_threshold=0.5)
>>> r.per_class["dent"].ap, r.per_class["dent"].recall, r.map
(0.5, 0.5, 0.5)
>>> average_precision([True, False, True], 2)  # doctest: +ELLIPSIS
0.833...
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

__all__ = [
    "ClassEval",
    "DetectorEval",
    "Prediction",
    "Truth",
    "average_precision",
    "best_f1_threshold",
    "evaluate_detections",
    "iou_matrix",
]

Box = tuple[float, float, float, float]


@dataclass(frozen=True, slots=True)
class Prediction:
    """A predicted box ``[x1, y1, x2, y2]`` with its class and confidence."""

    class_name: str
    score: float
    box: Box


@dataclass(frozen=True, slots=True)
class Truth:
    """A ground-truth box ``[x1, y1, x2, y2]`` with its class."""

    class_name: str
    box: Box


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


def iou_matrix(a: npt.ArrayLike, b: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """IoU of every box in ``a`` (N, 4) with every box in ``b`` (M, 4), as (N, M).

    >>> iou_matrix([[0, 0, 2, 2]], [[1, 0, 3, 2], [5, 5, 6, 6]]).round(3).tolist()
    [[0.333, 0.0]]
    """
    aa = np.asarray(a, dtype=np.float64).reshape(-1, 4)
    bb = np.asarray(b, dtype=np.float64).reshape(-1, 4)
    ix1 = np.maximum(aa[:, None, 0], bb[None, :, 0])
    iy1 = np.maximum(aa[:, None, 1], bb[None, :, 1])
    ix2 = np.minimum(aa[:, None, 2], bb[None, :, 2])
    iy2 = np.minimum(aa[:, None, 3], bb[None, :, 3])
    inter = np.clip(ix2 - ix1, 0, None) * np.clip(iy2 - iy1, 0, None)
    area_a = (aa[:, 2] - aa[:, 0]) * (aa[:, 3] - aa[:, 1])
    area_b = (bb[:, 2] - bb[:, 0]) * (bb[:, 3] - bb[:, 1])
    union = area_a[:, None] + area_b[None, :] - inter
    return np.where(union > 0, inter / np.maximum(union, 1e-12), 0.0)


def average_precision(tp_in_score_order: Sequence[bool], n_truth: int) -> float:
    """All-point interpolated AP (VOC 2010+) of predictions sorted by descending score."""
    if n_truth == 0:
        return float("nan")
    tp = np.asarray(tp_in_score_order, dtype=np.float64)
    if tp.size == 0:
        return 0.0
    ctp = np.cumsum(tp)
    cfp = np.cumsum(1.0 - tp)
    recall = ctp / n_truth
    precision = ctp / np.maximum(ctp + cfp, 1e-12)
    mrec = np.concatenate([[0.0], recall, [1.0]])
    mpre = np.concatenate([[0.0], precision, [0.0]])
    mpre = np.maximum.accumulate(mpre[::-1])[::-1]
    steps = np.flatnonzero(mrec[1:] != mrec[:-1])
    return float(np.sum((mrec[steps + 1] - mrec[steps]) * mpre[steps + 1]))


def _match_class(
    predictions: Sequence[Sequence[Prediction]],
    truths: Sequence[Sequence[Truth]],
    class_name: str,
    iou_threshold: float,
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.bool_], int]:
    """Scores (descending) and TP flags of one class's predictions, and its truth count."""
    gt = [np.asarray([t.box for t in ts if t.class_name == class_name]) for ts in truths]
    n_truth = sum(len(g) for g in gt)
    flat = [
        (p.score, i, p.box)
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
        ious = iou_matrix([box], gt[frame])[0]
        best = int(np.argmax(ious))
        if ious[best] >= iou_threshold and not used[frame][best]:
            used[frame][best] = True
            flags[k] = True
    scores = np.asarray([f[0] for f in flat], dtype=np.float64)
    return scores, flags, n_truth


def evaluate_detections(
    predictions: Sequence[Sequence[Prediction]],
    truths: Sequence[Sequence[Truth]],
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
        per_class[name] = ClassEval(
            ap=average_precision(flags.tolist(), n_truth),
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
    predictions: Sequence[Sequence[Prediction]],
    truths: Sequence[Sequence[Truth]],
    class_names: Sequence[str],
    *,
    iou_threshold: float = 0.5,
) -> tuple[float, float]:
    """The score threshold maximising the pooled F1 over all classes, and that F1.

    >>> t = [[Truth("a", (0, 0, 10, 10))], [Truth("a", (0, 0, 10, 10))]]
    >>> p = [[Prediction("a", 0.9, (0, 0, 10, 10))], [Prediction("a", 0.3, (0, 0, 10, 10)),
    ...       Prediction("a", 0.6, (20, 20, 30, 30))]]
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
