"""Decode YOLOv8-style detector output ``[B, 4 + C, N]`` (cx, cy, w, h, class scores) with NMS.

This is the evaluation-side decoder (training reports, tests); the production path is
``streams.inference``.

>>> out = np.zeros((1, 5, 3), np.float32)
>>> out[0, :, 0] = [20, 20, 10, 10, 0.9]; out[0, :, 1] = [21, 20, 10, 10, 0.8]
>>> out[0, :, 2] = [60, 60, 10, 10, 0.7]
>>> [(c, round(s, 1)) for c, s, _ in decode_yolov8(out, score_threshold=0.05)[0]]
[(0, 0.9), (0, 0.7)]
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

__all__ = ["decode_yolov8", "nms"]


def nms(
    boxes: npt.NDArray[np.float32], scores: npt.NDArray[np.float32], iou_threshold: float
) -> list[int]:
    """Greedy non-maximum suppression; returns kept indices by descending score."""
    order = np.argsort(-scores, kind="stable")
    x1, y1, x2, y2 = boxes[:, 0], boxes[:, 1], boxes[:, 2], boxes[:, 3]
    areas = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    keep: list[int] = []
    while order.size:
        i = int(order[0])
        keep.append(i)
        rest = order[1:]
        iw = np.clip(np.minimum(x2[i], x2[rest]) - np.maximum(x1[i], x1[rest]), 0, None)
        ih = np.clip(np.minimum(y2[i], y2[rest]) - np.maximum(y1[i], y1[rest]), 0, None)
        inter = iw * ih
        iou = inter / np.maximum(areas[i] + areas[rest] - inter, 1e-9)
        order = rest[iou < iou_threshold]
    return keep


def decode_yolov8(
    output: npt.NDArray[np.float32],
    *,
    score_threshold: float = 0.05,
    iou_threshold: float = 0.5,
    max_detections: int = 50,
) -> list[list[tuple[int, float, tuple[float, float, float, float]]]]:
    """Per image: ``(class_index, score, (x1, y1, x2, y2))`` in input pixels after class-aware
    NMS (best class per candidate), sorted by descending score."""
    results: list[list[tuple[int, float, tuple[float, float, float, float]]]] = []
    for pred in output:
        boxes_cxcywh = pred[:4].T
        cls_scores = pred[4:].T
        cls = cls_scores.argmax(axis=1)
        score = cls_scores[np.arange(cls.size), cls]
        ok = score >= score_threshold
        if not ok.any():
            results.append([])
            continue
        b, s, c = boxes_cxcywh[ok], score[ok], cls[ok]
        half = b[:, 2:4] / 2
        xyxy = np.concatenate([b[:, 0:2] - half, b[:, 0:2] + half], axis=1)
        offset = xyxy + (c.astype(np.float32) * 10_000.0)[:, None]  # class-aware NMS
        keep = nms(offset, s, iou_threshold)[:max_detections]
        frame = []
        for k in keep:
            x1, y1, x2, y2 = (float(v) for v in xyxy[k])
            frame.append((int(c[k]), float(s[k]), (x1, y1, x2, y2)))
        results.append(frame)
    return results
