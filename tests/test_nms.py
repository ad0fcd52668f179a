"""Class-aware NMS: suppression, class separation, top-k, agreement with a brute-force reference."""

from __future__ import annotations

import numpy as np
import pytest

from streams.inference.nms import box_iou, nms


def _reference_nms(
    boxes: np.ndarray,
    scores: np.ndarray,
    labels: np.ndarray,
    iou_threshold: float,
    max_detections: int,
) -> list[int]:
    """Textbook greedy NMS, one class at a time, merged by score (slow but obvious)."""
    iou = box_iou(boxes, boxes)
    kept: list[int] = []
    for cls in np.unique(labels):
        idx = [int(i) for i in np.argsort(-scores, kind="stable") if labels[i] == cls]
        while idx:
            best = idx.pop(0)
            kept.append(best)
            idx = [j for j in idx if iou[best, j] <= iou_threshold]
    kept.sort(key=lambda i: (-scores[i], i))
    return kept[:max_detections]


def test_box_iou_hand_computed() -> None:
    iou = box_iou([[0, 0, 10, 10]], [[5, 0, 15, 10], [0, 0, 10, 10], [20, 20, 30, 30]])
    # overlap 5x10=50, union 150 -> 1/3; identical -> 1; disjoint -> 0
    assert iou[0].tolist() == pytest.approx([1 / 3, 1.0, 0.0])
    assert iou.dtype == np.float32


def test_box_iou_float64_hand_values_and_empty() -> None:
    iou = box_iou([(0, 0, 10, 10)], [(0, 0, 10, 10), (5, 0, 15, 10), (10, 10, 20, 20)], np.float64)
    # identical = 1; half overlap: 50 / (100 + 100 - 50) = 1/3; corner touch = 0
    assert iou.dtype == np.float64
    assert iou.tolist()[0] == pytest.approx([1.0, 1 / 3, 0.0], abs=1e-15)
    assert box_iou([], [(0, 0, 1, 1)], np.float64).shape == (0, 1)
    # no area, or inverted corners: overlaps nothing (no division by zero)
    assert box_iou([(5, 5, 5, 5), (4, 4, 1, 1)], [(5, 5, 5, 5), (0, 0, 9, 9)]).tolist() == [
        [0.0, 0.0],
        [0.0, 0.0],
    ]


def test_box_iou_is_vectorised_consistently_in_both_dtypes() -> None:
    rng = np.random.default_rng(0)
    xy = rng.uniform(0, 50, size=(20, 2))
    boxes = np.hstack([xy, xy + rng.uniform(1, 20, size=(20, 2))])
    full = box_iou(boxes, boxes, np.float64)
    assert np.allclose(np.diag(full), 1.0)
    assert np.allclose(full, full.T)
    assert np.allclose(box_iou(boxes, boxes), full, atol=1e-6)
    for i in range(5):
        for j in range(5):
            assert full[i, j] == box_iou([boxes[i]], [boxes[j]], np.float64)[0, 0]


def test_overlapping_box_of_same_class_is_suppressed_only_above_threshold() -> None:
    boxes = np.array([[0, 0, 10, 10], [5, 0, 15, 10]], np.float32)  # IoU 1/3
    scores = np.array([0.6, 0.9], np.float32)
    labels = np.array([0, 0])
    assert nms(boxes, scores, labels, iou_threshold=0.3, max_detections=10).tolist() == [1]
    assert nms(boxes, scores, labels, iou_threshold=0.4, max_detections=10).tolist() == [1, 0]


def test_classes_do_not_suppress_each_other() -> None:
    boxes = np.array([[0, 0, 10, 10], [0, 0, 10, 10], [1, 1, 10, 10]], np.float32)
    scores = np.array([0.9, 0.8, 0.7], np.float32)
    labels = np.array([0, 1, 0])
    assert nms(boxes, scores, labels, iou_threshold=0.5, max_detections=10).tolist() == [0, 1]
    # class-agnostic: the identical box of the other class goes too
    assert nms(boxes, scores, None, iou_threshold=0.5, max_detections=10).tolist() == [0]


def test_top_k_keeps_the_best_scores_in_order() -> None:
    boxes = np.array([[i * 20, 0, i * 20 + 10, 10] for i in range(6)], np.float32)
    scores = np.array([0.1, 0.6, 0.3, 0.9, 0.5, 0.2], np.float32)
    keep = nms(boxes, scores, np.zeros(6, int), iou_threshold=0.5, max_detections=3)
    assert keep.tolist() == [3, 1, 4]


def test_empty_input() -> None:
    keep = nms(
        np.empty((0, 4), np.float32),
        np.empty(0, np.float32),
        np.empty(0, int),
        iou_threshold=0.5,
        max_detections=5,
    )
    assert keep.shape == (0,)


def test_negative_coordinates_keep_classes_apart() -> None:
    boxes = np.array([[-50, -50, -10, -10], [-50, -50, -10, -10], [100, 100, 140, 140]], np.float32)
    scores = np.array([0.9, 0.8, 0.7], np.float32)
    labels = np.array([2, 0, 1])
    assert sorted(nms(boxes, scores, labels, iou_threshold=0.5, max_detections=9).tolist()) == [
        0,
        1,
        2,
    ]


@pytest.mark.parametrize(
    ("seed", "n", "max_detections"),
    [(0, 200, 40), (1, 200, 500), (2, 1000, 300), (3, 1000, 1000), (4, 1500, 100), (5, 700, 7)],
)
def test_matches_brute_force_reference(seed: int, n: int, max_detections: int) -> None:
    """Includes sizes above the internal block of candidates (256), across blocks."""
    rng = np.random.default_rng(seed)
    xy = rng.uniform(0, 300, (n, 2))
    wh = rng.uniform(5, 80, (n, 2))
    boxes = np.concatenate([xy, xy + wh], axis=1).astype(np.float32)
    scores = rng.uniform(0, 1, n).astype(np.float32)
    labels = rng.integers(0, 3, n)
    got = nms(boxes, scores, labels, iou_threshold=0.45, max_detections=max_detections).tolist()
    assert got == _reference_nms(boxes, scores, labels, 0.45, max_detections)
