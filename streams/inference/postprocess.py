"""Candidates of a batch → detections in frame pixels: validity, NMS, mapping back, rounding.

NMS runs per frame (:func:`~streams.inference.nms.nms`); then the kept boxes of every frame of
the batch are mapped back to their frame's pixels in one array operation, rounded in one, and
validated as :class:`~schemas.results.Detection` in one call. The numbers are the ones a
frame-by-frame pass gives (the same float32 operations on each box; ``bench/bench_pipeline.py``
checks the detections against that pass).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
from pydantic import TypeAdapter

from schemas.results import Detection
from streams.inference.decoders import Candidates
from streams.inference.nms import nms, valid_boxes
from streams.inference.preprocess import LetterboxTransform

__all__ = ["batch_detections", "to_frames"]

_DETECTIONS = TypeAdapter(list[Detection])


def to_frames(
    boxes: npt.NDArray[np.float32],
    transforms: Sequence[LetterboxTransform],
    counts: Sequence[int],
) -> npt.NDArray[np.float32]:
    """:meth:`LetterboxTransform.to_frame` of ``counts[i]`` rows per transform, in one pass.

    The same float32 subtraction, division and clipping per coordinate, so the same numbers.

    >>> t = LetterboxTransform.fit(frame_size=(640, 480), input_size=(320, 320), letterbox=True)
    >>> u = LetterboxTransform.fit(frame_size=(320, 320), input_size=(320, 320), letterbox=True)
    >>> to_frames(np.array([[0, 40, 320, 280], [1, 2, 3, 4]], np.float32), [t, u], [1, 1]).tolist()
    [[0.0, 0.0, 640.0, 480.0], [1.0, 2.0, 3.0, 4.0]]
    """
    rows = np.repeat(np.arange(len(transforms)), counts)
    pad = np.array([(t.pad_x, t.pad_y) * 2 for t in transforms], dtype=np.float32)[rows]
    scale = np.array([(t.scale_x, t.scale_y) * 2 for t in transforms], dtype=np.float32)[rows]
    size = [(t.frame_width, t.frame_height) * 2 for t in transforms]
    top = np.array(size, dtype=np.float32)[rows]
    out: npt.NDArray[np.float32] = (np.asarray(boxes, dtype=np.float32) - pad) / scale
    np.maximum(out, np.float32(0.0), out=out)
    np.minimum(out, top, out=out)
    return out


def batch_detections(
    candidates: Sequence[Candidates],
    transforms: Sequence[LetterboxTransform],
    names: Sequence[str],
    *,
    iou_threshold: float,
    max_detections: int,
) -> tuple[list[list[Detection]], list[tuple[int, int]]]:
    """Detections per frame (best first), and per frame (invalid outputs dropped, outputs given).

    Invalid: an inverted box (non-finite rows never become candidates); they are dropped
    before NMS and counted.
    """
    pairs = list(zip(candidates, transforms, strict=False))
    boxes, scores, labels, counts = [], [], [], []
    for cand, _ in pairs:
        ok = valid_boxes(cand.boxes, cand.scores)
        invalid = cand.invalid
        if ok.all():
            boxes.append(cand.boxes)
            scores.append(cand.scores)
            labels.append(cand.labels)
        else:
            invalid += int(ok.size - np.count_nonzero(ok))
            boxes.append(cand.boxes[ok])
            scores.append(cand.scores[ok])
            labels.append(cand.labels[ok])
        counts.append((invalid, max(cand.outputs, invalid)))
    keeps = [
        nms(b, s, c, iou_threshold=iou_threshold, max_detections=max_detections)
        for b, s, c in zip(boxes, scores, labels, strict=True)
    ]
    sizes = [k.size for k in keeps]
    if not any(sizes):
        return [[] for _ in pairs], counts
    kept_boxes = np.concatenate([b[k] for b, k in zip(boxes, keeps, strict=True)])
    frame_boxes = to_frames(kept_boxes, [t for _, t in pairs], sizes)
    # float32 → float64 and rounded, so JSON shows 0.9, not 0.8999999761581421
    box_rows = frame_boxes.astype(np.float64).round(3).tolist()
    kept_scores = np.concatenate([s[k] for s, k in zip(scores, keeps, strict=True)])
    score_rows = np.clip(kept_scores.astype(np.float64), 0.0, 1.0).round(6).tolist()
    label_rows = np.concatenate([c[k] for c, k in zip(labels, keeps, strict=True)]).tolist()
    n_names = len(names)
    rows = [
        {
            "class_name": names[c] if 0 <= c < n_names else f"class_{c}",
            "confidence": sc,
            "box": bx,
        }
        for bx, sc, c in zip(box_rows, score_rows, label_rows, strict=True)
    ]
    every = _DETECTIONS.validate_python(rows)  # one validation call per batch
    found: list[list[Detection]] = []
    start = 0
    for size in sizes:
        found.append(every[start : start + size])
        start += size
    return found, counts
