"""Camera faults for the ``camera-faults`` scenario: a frozen stream, focus loss, a smudge.

Each fault turns the frame the camera *should* have sent into the one it does send:

- ``frozen``: the camera repeats the first frame it sent after the fault began (a hung encoder
  or a stuck frame buffer: identical images, while the units on the belt go on).
- ``defocus``: a box blur of radius 3 (the lens knocked out of focus).
- ``smudge``: a soft milky blob over ~40 % of the frame (dirt or condensation on the lens):
  contrast and fine detail drop there while the mean brightness barely moves.

>>> import numpy as np
>>> rgb = (np.arange(240 * 320 * 3) % 251).astype(np.uint8).reshape(240, 320, 3)
>>> def detail(a: np.ndarray) -> float:
...     return float(np.abs(np.diff(a.astype(int), axis=1)).mean())
>>> detail(apply_fault("defocus", rgb)) < detail(rgb)
True
>>> apply_fault("smudge", rgb).shape
(240, 320, 3)
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import numpy.typing as npt

__all__ = ["CAMERA_FAULTS", "CameraFault", "apply_fault", "box_blur"]

CameraFault = Literal["frozen", "defocus", "smudge"]
CAMERA_FAULTS: dict[str, CameraFault] = {
    "line-1": "frozen",
    "line-2": "defocus",
    "line-3": "smudge",
}
"""Which line's camera gets which fault in the ``camera-faults`` scenario."""

_BLUR_RADIUS = 3


def box_blur(channel: npt.NDArray[np.float32], radius: int) -> npt.NDArray[np.float32]:
    """A separable box blur with edge padding, by cumulative sums (no SciPy)."""
    k = 2 * radius + 1
    out = channel
    for axis in (0, 1):
        pad = [(0, 0), (0, 0)]
        pad[axis] = (radius + 1, radius)
        c = np.cumsum(np.pad(out, pad, mode="edge"), axis=axis, dtype=np.float64)
        hi = np.take(c, np.arange(k, c.shape[axis]), axis=axis)
        lo = np.take(c, np.arange(0, c.shape[axis] - k), axis=axis)
        out = ((hi - lo) / k).astype(np.float32)
    return out


def _smudge_mask(height: int, width: int) -> npt.NDArray[np.float32]:
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    cy, cx = 0.45 * height, 0.4 * width
    r = np.sqrt(((yy - cy) / (0.42 * height)) ** 2 + ((xx - cx) / (0.38 * width)) ** 2)
    mask: npt.NDArray[np.float32] = (np.clip(1.0 - r, 0.0, 1.0) ** 0.7 * 0.75).astype(np.float32)
    return mask


def apply_fault(fault: CameraFault, rgb: npt.NDArray[np.uint8]) -> npt.NDArray[np.uint8]:
    """The frame a camera with ``fault`` sends instead of ``rgb`` (``frozen`` is the caller's:
    it needs the stream's earlier frame, so here it returns ``rgb`` unchanged)."""
    if fault == "frozen":
        return rgb
    img = rgb.astype(np.float32)
    if fault == "defocus":
        for ch in range(3):
            img[..., ch] = box_blur(img[..., ch], _BLUR_RADIUS)
    elif fault == "smudge":
        alpha = _smudge_mask(rgb.shape[0], rgb.shape[1])[..., None]
        mean = img.mean(axis=(0, 1), keepdims=True)
        soft = np.stack([box_blur(img[..., ch], 2) for ch in range(3)], axis=-1)
        milky = 0.35 * soft + 0.65 * (mean * np.float32(1.08))
        img = img * (1 - alpha) + milky * alpha
    else:  # pragma: no cover - the Literal type rules it out
        raise ValueError(f"unknown camera fault {fault!r}")
    out: npt.NDArray[np.uint8] = np.clip(img + 0.5, 0, 255).astype(np.uint8)
    return out
