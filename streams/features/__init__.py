"""Cheap per-frame image statistics (the input signals of drift monitoring) and per-camera
health signals (a frozen stream, occlusion, loss of detail).

>>> import numpy as np
>>> stats = compute_image_stats(np.full((8, 8, 3), 128, dtype=np.uint8))
>>> round(stats.brightness, 3), stats.contrast, stats.sharpness
(0.502, 0.0, 0.0)
"""

from __future__ import annotations

from streams.features.camera_health import CAMERA_HEALTH_SIGNALS, CameraHealth
from streams.features.colour import colour_temp_from_rb
from streams.features.image_stats import SUBSAMPLE, ImageStats, compute_image_stats

__all__ = [
    "CAMERA_HEALTH_SIGNALS",
    "SUBSAMPLE",
    "CameraHealth",
    "ImageStats",
    "colour_temp_from_rb",
    "compute_image_stats",
]
