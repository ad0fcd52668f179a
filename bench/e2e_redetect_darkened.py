"""The recall a darkened window would show on many defects: re-detect the defective frames of
an ``e2e_estimate_shift.py`` run, darkened as that script darkens line-1.

A 500-frame window of the e2e's darkened day slice holds about 5 defective frames, so its
realized recall (e.g. 3 of 5) says little about what the detector does on darkened day frames.
This script takes every defective frame captured in ``--hours`` (before the change, any line:
the frames are still as simulated), darkens it the same way (``DARKEN``, re-encoded at the
simulator's JPEG quality) and runs the shipped detector on it and on the frame as it was. It
prints the frame-level recall at the operating threshold of both, and the darkened frames'
median mean pixel value over 255 (compare with the estimate of the window at that brightness, from
``linewatch estimate --format json``).

Run after ``bench/e2e_estimate_shift.py`` built its store in ``--work``::

    PYTHONPATH=$PWD .venv/bin/python bench/e2e_redetect_darkened.py \\
        --work /tmp/e2e-shift --hours 6-11
"""

from __future__ import annotations

import argparse
import base64
import io
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from streams.config import Settings
from streams.inference import Detector, operating_threshold

sys.path.insert(0, str(Path(__file__).resolve().parent))
from e2e_estimate_shift import DARKEN, JPEG_QUALITY  # a sibling file, not a package

__all__ = ["main"]


def _darkened(img: Image.Image) -> np.ndarray[Any, Any]:
    rgb = np.asarray(img, dtype=np.float32)
    out = Image.fromarray(np.clip(rgb * DARKEN + 0.5, 0, 255).astype(np.uint8), mode="RGB")
    buf = io.BytesIO()
    out.save(buf, format="JPEG", quality=JPEG_QUALITY)
    return np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert("RGB"))


def main() -> None:
    """Re-detect the defective frames of the hours asked, as they were and darkened."""
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    ap.add_argument("--work", type=Path, default=Path("/tmp/e2e-shift"))
    ap.add_argument("--hours", default="6-11", help="capture hours (UTC), first-last")
    args = ap.parse_args()
    first, last = (int(h) for h in args.hours.split("-"))
    settings = Settings()
    detector = Detector.load(settings.inference.model, settings=settings)
    threshold = operating_threshold(settings, detector.spec)
    with (args.work / "labels.jsonl").open() as fin:
        defective = {r["event_id"] for r in map(json.loads, fin) if r["objects"]}
    original: list[np.ndarray[Any, Any]] = []
    darkened: list[np.ndarray[Any, Any]] = []
    with (args.work / "events.jsonl").open() as fin:
        for line in fin:
            event = json.loads(line)
            if event["event_id"] not in defective:
                continue
            if not first <= int(event["captured_at"][11:13]) <= last:
                continue
            raw = base64.b64decode(event["image"]["data"])
            img = Image.open(io.BytesIO(raw)).convert("RGB")
            original.append(np.asarray(img))
            darkened.append(_darkened(img))

    def top(frames: list[np.ndarray[Any, Any]]) -> np.ndarray[Any, Any]:
        found = detector.detect(frames)
        return np.asarray([max((d.confidence for d in ds), default=0.0) for ds in found])

    was, now = top(original), top(darkened)
    bright = float(np.median([f.mean() / 255.0 for f in darkened])) if darkened else float("nan")
    print(
        json.dumps(
            {
                "defective_frames": len(original),
                "hours": args.hours,
                "threshold": round(threshold, 3),
                "recall_as_simulated": round(float((was >= threshold).mean()), 3),
                "recall_darkened": round(float((now >= threshold).mean()), 3),
                "darkened_mean_pixel_median": round(bright, 3),
            }
        )
    )


if __name__ == "__main__":
    main()
