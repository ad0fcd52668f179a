"""A second synthetic world, built here and not by ``streams/simulate``: a belt seen by cameras.

Two lines, two cameras each, events round-robin over the cameras one second apart. Each frame is
a 96x128 PNG: a grey belt with sensor noise and one unit (a lighter rectangle of the line's
variant shade) at a random place, so consecutive frames of a camera differ. From event
``fault_at`` on, three things go wrong at once:

- camera ``cam-1a`` freezes: it sends its last picture again and again (camera-health alarms);
- line 2 makes a new product variant (``housing-c`` instead of ``bracket-a`` / ``bracket-b``):
  product-mix alarms;
- line 2's light dims to 60 % (image-statistics and lighting alarms).
"""

from __future__ import annotations

import base64
import io
import json
import uuid
from datetime import UTC, datetime, timedelta

import numpy as np
from PIL import Image

from streams.ingest import RawRecord

__all__ = ["CAMERAS", "START", "belt_records"]

START = datetime(2026, 11, 30, 7, 0, tzinfo=UTC)
CAMERAS = (("line-1", "cam-1a"), ("line-1", "cam-1b"), ("line-2", "cam-2a"), ("line-2", "cam-2b"))
_NS = uuid.UUID("6f0b1c52-27a4-4c9e-9d55-0d0f1e2a3b4c")


def _png(rng: np.random.Generator, shade: float, light: float) -> bytes:
    h, w = 96, 128
    img = 0.45 + 0.04 * rng.standard_normal((h, w))
    y, x = int(rng.integers(0, h - 32)), int(rng.integers(0, w - 40))
    img[y : y + 32, x : x + 40] = shade + 0.02 * rng.standard_normal((32, 40))
    grey = np.clip(img * light * 255.0, 0, 255).astype(np.uint8)
    rgb = np.stack([grey, grey, (grey * 0.95).astype(np.uint8)], axis=-1)
    out = io.BytesIO()
    Image.fromarray(rgb).save(out, format="PNG")
    return out.getvalue()


def belt_records(n: int, *, fault_at: int, seed: int = 0) -> list[RawRecord]:
    """``n`` camera events as raw records (``source`` ``belt:<index>``), in capture order."""
    rng = np.random.default_rng(seed)
    last: dict[str, bytes] = {}
    out = []
    for i in range(n):
        line, camera = CAMERAS[i % len(CAMERAS)]
        faulty = i >= fault_at
        if line == "line-2" and faulty:
            variant, light = "housing-c", 0.6
        else:
            variant, light = ("bracket-a", "bracket-b")[int(rng.integers(0, 2))], 1.0
        shade = {"bracket-a": 0.7, "bracket-b": 0.8, "housing-c": 0.6}[variant]
        image = _png(rng, shade, light)
        if camera == "cam-1a" and faulty:
            image = last[camera]  # frozen stream: the same picture again
        last[camera] = image
        at = START + timedelta(seconds=i)
        event = {
            "event_id": str(uuid.uuid5(_NS, f"{seed}:{i}")),
            "camera_id": camera,
            "line_id": line,
            "captured_at": at.isoformat().replace("+00:00", "Z"),
            "image": {"encoding": "png", "data": base64.b64encode(image).decode()},
            "product_variant": variant,
        }
        out.append(RawRecord(json.dumps(event).encode(), f"belt:{i}", at + timedelta(seconds=1)))
    return out
