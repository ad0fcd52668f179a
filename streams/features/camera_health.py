"""Camera-health signals: is the camera itself still sending a live, sharp, clean picture?

Per camera, :class:`CameraHealth` keeps a 30x40 luma thumbnail of the previous frame, one byte
(level 0..255) per pixel (1.2 KB; a partition snapshot stores exactly these bytes, so a restored
camera compares its next frame with the same thumbnail), and compares each new frame with it.
Cost: one strided subsample and a few sums, 0.026 ms of CPU per frame
(``bench/bench_monitoring.py``, shared 2-core machine at load ~13; 0.041 ms with the former
matrix-product luma and ``ndarray.mean``).

Signals per frame (``None`` for a camera's first frame, which has nothing to compare with):

- ``frame_change``: mean |thumbnail - previous thumbnail| / 255. Consecutive units on a belt
  differ; a frozen stream sends the same picture again and this falls to 0.
- ``repeated_frame``: 1.0 when the thumbnail is identical to the previous one (mean change under
  1e-3: at most one level in about every 4th pixel), else 0.0 (a 0/1 signal: tested with the
  Bernoulli CUSUM).
- ``static_share``: share of the 4x4 grid cells whose content did not change (mean change under
  one level, 1/255) while the frame as a whole did: a part of the view stopped changing
  (occlusion by a cable, a label stuck on the housing, a dead region of the sensor).
- ``detail_ratio``: sharpness / contrast (see :mod:`streams.features.image_stats`). Dimming
  scales both alike; focus loss, a smudge or haze remove fine detail far more than contrast.

>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> health = CameraHealth()
>>> a = rng.integers(0, 255, (240, 320, 3), dtype=np.uint8)
>>> health.observe("cam-1", a, sharpness=0.1, contrast=0.2)["frame_change"] is None
True
>>> s = health.observe("cam-1", a, sharpness=0.1, contrast=0.2)
>>> s["frame_change"], s["repeated_frame"], s["detail_ratio"]
(0.0, 1.0, 0.5)
"""

from __future__ import annotations

import base64
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = [
    "CAMERA_HEALTH_SIGNALS",
    "CameraHealth",
    "thumbnail",
]

CAMERA_HEALTH_SIGNALS: tuple[str, ...] = (
    "frame_change",
    "repeated_frame",
    "static_share",
    "detail_ratio",
)
"""The signals :meth:`CameraHealth.observe` returns, in order."""

_THUMB = (30, 40)
_GRID = 4
_REPEAT_EPS = 1e-3
_LEVEL = 1.0 / 255.0
_STATIC_EPS = _LEVEL
_CONTRAST_FLOOR = 1e-3
_LUMA = (np.float32(0.299), np.float32(0.587), np.float32(0.114))
_LEVEL32 = np.float32(_LEVEL)


def thumbnail(rgb: npt.NDArray[np.uint8]) -> npt.NDArray[np.uint8]:
    """A luma thumbnail (levels 0..255, rounded to the nearest) of at most ``30x40`` by strided
    sampling (a view, then one float32 plane).

    Luma is ``0.299 R + 0.587 G + 0.114 B`` in float32, summed in that order (as
    :func:`~streams.features.image_stats.compute_image_stats` computes it). Frames smaller
    than that give a smaller thumbnail; thumbnails of different shapes are never compared.

    >>> thumbnail(np.full((60, 80, 3), (255, 128, 0), dtype=np.uint8))[0, :3]
    array([151, 151, 151], dtype=uint8)
    """
    h, w = rgb.shape[0], rgb.shape[1]
    sy, sx = max(h // _THUMB[0], 1), max(w // _THUMB[1], 1)
    sub = rgb[::sy, ::sx][: _THUMB[0], : _THUMB[1]]
    luma = sub[..., 0] * _LUMA[0]
    luma += sub[..., 1] * _LUMA[1]
    luma += sub[..., 2] * _LUMA[2]
    np.rint(luma, out=luma)
    return luma.clip(0, 255).astype(np.uint8)


class CameraHealth:
    """Per-camera state for the camera-health signals; bounded to ``max_cameras`` cameras."""

    def __init__(self, max_cameras: int = 10_000) -> None:
        self._max = max_cameras
        self._previous: OrderedDict[str, npt.NDArray[np.uint8]] = OrderedDict()

    @property
    def cameras(self) -> int:
        """Cameras with a remembered frame."""
        return len(self._previous)

    def observe(
        self, camera_id: str, rgb: npt.NDArray[np.uint8], *, sharpness: float, contrast: float
    ) -> dict[str, float | None]:
        """The camera-health signals of this frame; remembers it as the camera's latest."""
        thumb = thumbnail(rgb)
        previous = self._previous.pop(camera_id, None)
        self._previous[camera_id] = thumb
        if len(self._previous) > self._max:
            self._previous.popitem(last=False)
        detail = sharpness / max(contrast, _CONTRAST_FLOOR)
        if previous is None or previous.shape != thumb.shape:
            return {
                "frame_change": None,
                "repeated_frame": None,
                "static_share": None,
                "detail_ratio": detail,
            }
        diff = np.abs(thumb.astype(np.int16) - previous).astype(np.float32)
        diff *= _LEVEL32
        # float32 means as ndarray.mean takes them (a float32 sum, divided in float32),
        # without its per-call overhead
        change = float(np.add.reduce(diff, axis=None) / diff.size)
        gh, gw = max(diff.shape[0] // _GRID, 1), max(diff.shape[1] // _GRID, 1)
        cells = np.add.reduce(
            diff[: gh * _GRID, : gw * _GRID].reshape(-1, gh, _GRID, gw), axis=(1, 3)
        )
        cells /= gh * gw
        static = float(np.count_nonzero(cells < _STATIC_EPS)) / max(cells.size, 1)
        repeated = change < _REPEAT_EPS
        return {
            "frame_change": change,
            "repeated_frame": 1.0 if repeated else 0.0,
            # a frozen frame is "all static" by construction: occlusion means part of it
            "static_share": 0.0 if repeated else static,
            "detail_ratio": detail,
        }

    def snapshot(self) -> list[dict[str, Any]]:
        """Each camera's thumbnail exactly as kept, least recently seen first.

        Per camera ``camera_id``, ``height``, ``width`` and ``luma``: base64 of the one-byte
        luma levels (row-major), so a restored camera compares its next frame with the very
        same array (a partition snapshot's ``cameras``,
        :class:`~streams.drift.state.CameraSnapshot`).
        """
        return [
            {
                "camera_id": camera,
                "height": thumb.shape[0],
                "width": thumb.shape[1],
                "luma": base64.b64encode(thumb.tobytes()).decode(),
            }
            for camera, thumb in self._previous.items()
        ]

    @classmethod
    def restore(
        cls, cameras: Iterable[Mapping[str, Any]], max_cameras: int = 10_000
    ) -> CameraHealth:
        """The state :meth:`snapshot` saved; raises ``ValueError`` for a thumbnail that is not
        ``height x width`` one-byte levels of at most 30x40."""
        health = cls(max_cameras)
        for cam in cameras:
            h, w = int(cam["height"]), int(cam["width"])
            luma = np.frombuffer(base64.b64decode(cam["luma"], validate=True), dtype=np.uint8)
            if not (0 < h <= _THUMB[0] and 0 < w <= _THUMB[1]) or luma.size != h * w:
                raise ValueError(
                    f"camera {cam['camera_id']!r}: a {h}x{w} thumbnail needs {h * w} one-byte "
                    f"levels, the snapshot has {luma.size}"
                )
            health._previous[str(cam["camera_id"])] = luma.reshape(h, w).copy()
            if len(health._previous) > max_cameras:
                health._previous.popitem(last=False)
        return health
