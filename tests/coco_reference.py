"""pycocotools' AP@0.5 per class of the same boxes linewatch scores: the reference the lab mAP is
checked against (tests only; pycocotools is a dev dependency)."""

from __future__ import annotations

import contextlib
import io
from collections.abc import Sequence
from typing import Any

import numpy as np

from streams.evaluation.boxes import PredictedBox, TruthBox

__all__ = ["coco_ap50"]


def coco_ap50(
    truths: Sequence[Sequence[TruthBox]],
    preds: Sequence[Sequence[PredictedBox]],
    classes: Sequence[str],
    sizes: Sequence[tuple[int, int]] | None = None,
) -> dict[str, float | None]:
    """AP@0.5 per class by pycocotools' ``COCOeval`` (``None``: no ground truth of the class).

    ``truths[i]`` and ``preds[i]`` belong to image ``i`` (image ids in that order); ``sizes``
    are the images' ``(width, height)``.
    """
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    cats = [{"id": k + 1, "name": c} for k, c in enumerate(classes)]
    cat_id = {c: k + 1 for k, c in enumerate(classes)}
    images: list[dict[str, Any]] = []
    annotations: list[dict[str, Any]] = []
    results: list[dict[str, Any]] = []
    for i, (ts, ps) in enumerate(zip(truths, preds, strict=True)):
        w, h = sizes[i] if sizes is not None else (10_000, 10_000)
        images.append({"id": i + 1, "width": w, "height": h, "file_name": f"{i}.png"})
        for t in ts:
            if t.class_name not in cat_id:
                continue
            x1, y1, x2, y2 = t.box
            annotations.append(
                {
                    "id": len(annotations) + 1,
                    "image_id": i + 1,
                    "category_id": cat_id[t.class_name],
                    "bbox": [x1, y1, x2 - x1, y2 - y1],
                    "area": (x2 - x1) * (y2 - y1),
                    "iscrowd": 0,
                }
            )
        for p in ps:
            if p.class_name not in cat_id:
                continue
            x1, y1, x2, y2 = p.box
            results.append(
                {
                    "image_id": i + 1,
                    "category_id": cat_id[p.class_name],
                    "bbox": [x1, y1, x2 - x1, y2 - y1],
                    "score": p.confidence,
                }
            )
    with contextlib.redirect_stdout(io.StringIO()):
        gt = COCO()
        gt.dataset = {"images": images, "annotations": annotations, "categories": cats}
        gt.createIndex()
        dt = gt.loadRes(results) if results else COCO()
        if not results:  # pycocotools cannot load an empty result list: nothing found, AP 0
            return {
                c: (0.0 if any(t.class_name == c for ts in truths for t in ts) else None)
                for c in classes
            }
        ev = COCOeval(gt, dt, "bbox")
        ev.evaluate()
        ev.accumulate()
    out: dict[str, float | None] = {}
    for k, c in enumerate(classes):
        p = ev.eval["precision"][0, :, k, 0, 2]  # IoU 0.5, every recall, class, all areas, 100
        p = p[p > -1]
        out[c] = float(np.mean(p)) if p.size else None
    return out
