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

from typing import Any, TypeVar, overload

import numpy as np
import numpy.typing as npt

__all__ = ["box_iou", "nms", "valid_boxes"]

MAX_CANDIDATES = 10_000
"""At most this many highest-scoring boxes enter NMS (the rest could not make the top-k anyway
in any realistic output)."""

_F = TypeVar("_F", np.float32, np.float64)


def valid_boxes(
    boxes: npt.NDArray[np.floating[Any]], scores: npt.ArrayLike
) -> npt.NDArray[np.bool_]:
    """Which candidates may enter NMS: finite corners and score, ``x2 >= x1`` and ``y2 >= y1``.

    NaN boxes would never overlap anything (NMS would keep every duplicate) and inverted ones
    are not boxes at all; callers drop and count the others.

    >>> valid_boxes(np.array([[0, 0, 1, 1], [np.nan, 0, 1, 1], [2, 0, 1, 1]]), [0.9, 0.9, 0.9])
    array([ True, False, False])
    """
    b = np.asarray(boxes).reshape(-1, 4)
    ok: npt.NDArray[np.bool_] = np.isfinite(b).all(axis=1) & np.isfinite(np.asarray(scores))
    ok &= (b[:, 2] >= b[:, 0]) & (b[:, 3] >= b[:, 1])
    return ok


_BLOCK = 128
"""Candidates whose pairwise overlaps are computed at once."""


@overload
def box_iou(a: npt.ArrayLike, b: npt.ArrayLike) -> npt.NDArray[np.float32]: ...
@overload
def box_iou(a: npt.ArrayLike, b: npt.ArrayLike, dtype: type[_F]) -> npt.NDArray[_F]: ...
def box_iou(
    a: npt.ArrayLike, b: npt.ArrayLike, dtype: type[np.floating[Any]] = np.float32
) -> npt.NDArray[np.floating[Any]]:
    """Pairwise IoU of ``[N, 4]`` and ``[M, 4]`` xyxy boxes → ``[N, M]``, computed in ``dtype``.

    The single IoU of linewatch: NMS-side callers use the float32 default; evaluation and
    readiness matching pass ``np.float64`` so that a match at exactly the IoU threshold does not
    hinge on float32 rounding. Boxes with no area (or inverted corners) overlap nothing.

    >>> iou = box_iou([[0, 0, 2, 2]], [[1, 0, 3, 2], [5, 5, 6, 6]])
    >>> [[round(float(v), 3) for v in row] for row in iou]
    [[0.333, 0.0]]
    >>> box_iou([[0, 0, 10, 10]], [[0, 0, 10, 20]], np.float64).tolist()
    [[0.5]]
    >>> box_iou([], [[0, 0, 1, 1]]).shape
    (0, 1)
    """
    aa: npt.NDArray[np.floating[Any]] = np.asarray(a, dtype=dtype).reshape(-1, 4)
    bb: npt.NDArray[np.floating[Any]] = np.asarray(b, dtype=dtype).reshape(-1, 4)
    lt = np.maximum(aa[:, None, :2], bb[None, :, :2])
    rb = np.minimum(aa[:, None, 2:], bb[None, :, 2:])
    inter = np.clip(rb - lt, 0, None).prod(axis=2)
    area_a = np.clip(aa[:, 2:] - aa[:, :2], 0, None).prod(axis=1)
    area_b = np.clip(bb[:, 2:] - bb[:, :2], 0, None).prod(axis=1)
    union = area_a[:, None] + area_b[None, :] - inter
    iou: npt.NDArray[np.floating[Any]] = np.zeros_like(union)
    np.divide(inter, union, out=iou, where=union > 0)
    return iou


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
    order = np.argsort(-np.asarray(scores), kind="stable")[:MAX_CANDIDATES]
    b = np.asarray(boxes, dtype=np.float32)[order]
    if labels is not None and n > 1:
        lo = float(b.min())
        span = float(b.max()) - lo + 1.0
        b = (b - lo) + (np.asarray(labels)[order].astype(np.float32) * span)[:, None]
    areas = np.maximum(b[:, 2] - b[:, 0], 0) * np.maximum(b[:, 3] - b[:, 1], 0)
    k = len(order)
    if k <= _BLOCK:  # the usual case: one matrix, one walk, a handful of numpy calls
        cols = np.ascontiguousarray(b.T)
        over = _overlaps(cols, areas, cols, areas, iou_threshold)
        return order[_walk(over, k, max_detections)]
    alive = np.ones(k, dtype=bool)
    keep: list[npt.NDArray[np.intp]] = []
    kept = 0
    # Exact greedy NMS, a block of candidates at a time: the block's pairwise overlaps are one
    # matrix, the greedy walk inside it visits kept boxes only, and the boxes kept in the block
    # then strike every later candidate they overlap in one more matrix operation.
    pos = 0
    while kept < max_detections:
        live = pos + np.flatnonzero(alive[pos:])
        if live.size == 0:
            break
        idx, later = live[:_BLOCK], live[_BLOCK:]
        cols = np.ascontiguousarray(b[idx].T)
        over = _overlaps(cols, areas[idx], cols, areas[idx], iou_threshold)
        winners = idx[_walk(over, idx.size, max_detections - kept)]
        keep.append(winners)
        kept += winners.size
        if kept >= max_detections or later.size == 0:
            break
        hit = _overlaps(
            np.ascontiguousarray(b[winners].T),
            areas[winners],
            np.ascontiguousarray(b[later].T),
            areas[later],
            iou_threshold,
        )
        alive[later[hit.any(axis=0)]] = False
        pos = int(later[0])
    return order[np.concatenate(keep)] if keep else np.empty(0, dtype=np.intp)


def _walk(over: npt.NDArray[np.bool_], n: int, limit: int) -> npt.NDArray[np.intp]:
    """The greedy walk over ``n`` candidates in order, ``over[i, j]``: i would suppress j; at
    most ``limit`` kept. On Python integers: row i of ``over`` as a bit mask, read only for the
    boxes kept (a few per frame), so each step is an integer test, not a numpy call."""
    raw = np.packbits(over, axis=1, bitorder="little").tobytes()
    row_bytes = len(raw) // n
    from_bytes = int.from_bytes
    suppressed = 0
    chosen = []
    for i in range(n):
        if suppressed >> i & 1:
            continue
        chosen.append(i)
        if len(chosen) >= limit:
            break
        suppressed |= from_bytes(raw[i * row_bytes : (i + 1) * row_bytes], "little")
    return np.array(chosen, dtype=np.intp)


def _overlaps(
    a: npt.NDArray[np.float32],
    area_a: npt.NDArray[np.float32],
    b: npt.NDArray[np.float32],
    area_b: npt.NDArray[np.float32],
    iou_threshold: float,
) -> npt.NDArray[np.bool_]:
    """``[len(area_a), len(area_b)]``: IoU > threshold, as ``inter > t * union`` (no division).

    ``a`` and ``b`` are ``[4, n]``: the rows x1, y1, x2, y2, each contiguous.
    """
    ax1, ay1, ax2, ay2 = a
    bx1, by1, bx2, by2 = b
    inter = np.minimum.outer(ax2, bx2)  # in place from here: outer products are the cost
    inter -= np.maximum.outer(ax1, bx1)
    np.maximum(inter, 0, out=inter)
    h = np.minimum.outer(ay2, by2)
    h -= np.maximum.outer(ay1, by1)
    np.maximum(h, 0, out=h)
    inter *= h
    union = np.add.outer(area_a, area_b)
    union -= inter
    union *= np.float32(iou_threshold)
    result: npt.NDArray[np.bool_] = inter > union
    return result
