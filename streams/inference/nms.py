"""Class-aware greedy non-maximum suppression in numpy.

Boxes of different classes never suppress each other: each class is shifted to its own region of
the plane (the coordinate-offset trick), so one greedy pass handles all classes.

>>> boxes = np.array([[0, 0, 10, 10], [1, 1, 11, 11], [0, 0, 10, 10], [50, 50, 60, 60]], np.float32)
>>> scores = np.array([0.9, 0.8, 0.7, 0.6], np.float32)
>>> labels = np.array([0, 0, 1, 0])
>>> nms(boxes, scores, labels, iou_threshold=0.5, max_detections=10).tolist()
[0, 2, 3]
>>> nms(boxes, scores, labels, iou_threshold=0.5, max_detections=2).tolist()
[0, 2]
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

__all__ = ["box_iou", "nms"]

MAX_CANDIDATES = 10_000
"""At most this many highest-scoring boxes enter NMS (the rest could not make the top-k anyway
in any realistic output, and the greedy pass is linear in the candidates per kept box)."""


def box_iou(a: npt.ArrayLike, b: npt.ArrayLike) -> npt.NDArray[np.float32]:
    """Pairwise IoU of ``[N, 4]`` and ``[M, 4]`` xyxy boxes → ``[N, M]``.

    >>> iou = box_iou([[0, 0, 2, 2]], [[1, 0, 3, 2], [5, 5, 6, 6]])
    >>> [[round(float(v), 3) for v in row] for row in iou]
    [[0.333, 0.0]]
    """
    a = np.asarray(a, dtype=np.float32).reshape(-1, 4)
    b = np.asarray(b, dtype=np.float32).reshape(-1, 4)
    lt = np.maximum(a[:, None, :2], b[None, :, :2])
    rb = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.clip(rb - lt, 0, None).prod(axis=2)
    area_a = np.clip(a[:, 2:] - a[:, :2], 0, None).prod(axis=1)
    area_b = np.clip(b[:, 2:] - b[:, :2], 0, None).prod(axis=1)
    union = area_a[:, None] + area_b[None, :] - inter
    return np.where(union > 0, inter / np.maximum(union, 1e-12), 0.0).astype(np.float32)


def nms(
    boxes: npt.NDArray[np.floating],
    scores: npt.NDArray[np.floating],
    labels: npt.NDArray[np.integer] | None,
    *,
    iou_threshold: float,
    max_detections: int,
) -> npt.NDArray[np.intp]:
    """Indices of the boxes kept, best score first.

    A box is suppressed when its IoU with a better-scoring kept box of the same class exceeds
    ``iou_threshold``. ``labels=None`` makes it class-agnostic. Stops after ``max_detections``.
    """
    n = len(scores)
    if n == 0 or max_detections <= 0:
        return np.empty(0, dtype=np.intp)
    order = np.argsort(-scores, kind="stable")
    if n > MAX_CANDIDATES:
        order = order[:MAX_CANDIDATES]
    b = np.asarray(boxes, dtype=np.float32)[order]
    if labels is not None and n > 1:
        lo = float(b.min())
        span = float(b.max()) - lo + 1.0
        b = (b - lo) + (np.asarray(labels)[order].astype(np.float32) * span)[:, None]
    x1, y1, x2, y2 = b[:, 0], b[:, 1], b[:, 2], b[:, 3]
    areas = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    alive = np.arange(len(order))
    keep: list[int] = []
    while alive.size:
        i = int(alive[0])
        keep.append(i)
        if len(keep) >= max_detections or alive.size == 1:
            break
        rest = alive[1:]
        w = np.minimum(x2[i], x2[rest]) - np.maximum(x1[i], x1[rest])
        h = np.minimum(y2[i], y2[rest]) - np.maximum(y1[i], y1[rest])
        inter = np.clip(w, 0, None) * np.clip(h, 0, None)
        union = areas[i] + areas[rest] - inter
        # iou <= t  ⇔  inter <= t * union (no division; a zero union has zero overlap)
        alive = rest[inter <= iou_threshold * union]
    return order[np.asarray(keep, dtype=np.intp)]
