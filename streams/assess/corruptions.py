"""Image corruptions of the kind a line camera meets, as pure numpy/PIL functions.

Each corruption maps an RGB uint8 frame, a severity 1..5 and a random generator to a new frame
(the input is never modified). Severities are calibrated so that 1 is barely visible and 5 is
a broken camera / lamp; the same (frame, severity, seed) always gives the same output.

>>> import numpy as np
>>> rgb = np.full((8, 8, 3), 128, dtype=np.uint8)
>>> out = apply_corruption("brightness", rgb, 5, np.random.default_rng(0))
>>> int(out.mean()) < 128, int(rgb.mean()) == 128
(True, True)
"""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.typing import NDArray
from PIL import Image, ImageFilter

__all__ = [
    "CORRUPTIONS",
    "SEVERITIES",
    "Corruption",
    "apply_corruption",
    "blur",
    "blurred",
    "brightness",
    "colour_cast",
    "contrast",
    "gaussian_noise",
    "jpeg",
    "occlusion",
    "scaled",
]

RGB = NDArray[np.uint8]
Corruption = Callable[[RGB, int, np.random.Generator], RGB]
SEVERITIES = (1, 2, 3, 4, 5)


def _level(values: tuple[float, ...], severity: int) -> float:
    if severity not in SEVERITIES:
        raise ValueError(f"severity must be one of {SEVERITIES}, got {severity}")
    return values[severity - 1]


def _to_u8(x: NDArray[Any]) -> RGB:
    out: RGB = np.clip(np.rint(x), 0, 255).astype(np.uint8)
    return out


def gaussian_noise(rgb: RGB, severity: int, rng: np.random.Generator) -> RGB:
    """Sensor noise: additive Gaussian, sigma 4..40 grey levels."""
    sigma = _level((4.0, 8.0, 14.0, 24.0, 40.0), severity)
    return _to_u8(rgb.astype(np.float32) + rng.normal(0.0, sigma, rgb.shape).astype(np.float32))


def blurred(rgb: RGB, radius: float) -> RGB:
    """The frame under a Gaussian blur of ``radius`` px (a defocused lens)."""
    img = Image.fromarray(rgb, mode="RGB").filter(ImageFilter.GaussianBlur(radius))
    return np.asarray(img, dtype=np.uint8).copy()


def scaled(rgb: RGB, gain: float) -> RGB:
    """The frame with every channel multiplied by ``gain`` (a dimmer or brighter lamp), clipped.

    >>> int(scaled(np.full((2, 2, 3), 100, np.uint8), 0.45)[0, 0, 0])
    45
    """
    return _to_u8(rgb.astype(np.float32) * gain)


def blur(rgb: RGB, severity: int, rng: np.random.Generator) -> RGB:
    """Defocus / motion smear: Gaussian blur, radius 0.6..4 px."""
    return blurred(rgb, _level((0.6, 1.2, 2.0, 3.0, 4.0), severity))


def brightness(rgb: RGB, severity: int, rng: np.random.Generator) -> RGB:
    """A dimming lamp (odd severities darker) or glare (even severities brighter)."""
    return scaled(rgb, _level((0.8, 1.25, 0.55, 1.6, 0.3), severity))


def contrast(rgb: RGB, severity: int, rng: np.random.Generator) -> RGB:
    """Haze / a dirty lens: pull every pixel towards the frame's mean, keep 80..15 %."""
    keep = _level((0.8, 0.6, 0.4, 0.25, 0.15), severity)
    x = rgb.astype(np.float32)
    mean = x.mean(axis=(0, 1), keepdims=True)
    return _to_u8(mean + (x - mean) * keep)


def jpeg(rgb: RGB, severity: int, rng: np.random.Generator) -> RGB:
    """Bandwidth-starved camera: JPEG re-encoding at quality 60..7."""
    quality = int(_level((60, 35, 20, 12, 7), severity))
    buf = io.BytesIO()
    Image.fromarray(rgb, mode="RGB").save(buf, format="JPEG", quality=quality)
    buf.seek(0)
    return np.asarray(Image.open(buf).convert("RGB"), dtype=np.uint8).copy()


def occlusion(rgb: RGB, severity: int, rng: np.random.Generator) -> RGB:
    """Something in front of the lens: grey rectangles covering ~3..35 % of the frame."""
    fraction = _level((0.03, 0.08, 0.15, 0.25, 0.35), severity)
    out = rgb.copy()
    h, w = rgb.shape[:2]
    patches = 1 + severity // 2
    area = fraction * h * w / patches
    for _ in range(patches):
        aspect = float(rng.uniform(0.5, 2.0))
        ph = max(1, min(h, int(np.sqrt(area / aspect))))
        pw = max(1, min(w, int(area / ph)))
        y = int(rng.integers(0, max(1, h - ph + 1)))
        x = int(rng.integers(0, max(1, w - pw + 1)))
        out[y : y + ph, x : x + pw] = np.asarray(rng.integers(20, 90, 3), dtype=np.uint8)
    return out


def colour_cast(rgb: RGB, severity: int, rng: np.random.Generator) -> RGB:
    """A replaced lamp of another colour temperature: warm (odd) or cool (even) channel gains."""
    s = _level((0.08, 0.15, 0.25, 0.35, 0.5), severity)
    gains = (1 + s, 1.0, 1 - s) if severity % 2 else (1 - s, 1.0, 1 + s)
    return _to_u8(rgb.astype(np.float32) * np.asarray(gains, dtype=np.float32))


CORRUPTIONS: dict[str, Corruption] = {
    "gaussian_noise": gaussian_noise,
    "blur": blur,
    "brightness": brightness,
    "contrast": contrast,
    "jpeg": jpeg,
    "occlusion": occlusion,
    "colour_cast": colour_cast,
}
"""Every corruption by name, in report order."""


def apply_corruption(name: str, rgb: RGB, severity: int, rng: np.random.Generator) -> RGB:
    """Apply corruption ``name`` at ``severity`` (1..5)."""
    try:
        fn = CORRUPTIONS[name]
    except KeyError:
        raise ValueError(
            f"unknown corruption {name!r}; choose from {', '.join(CORRUPTIONS)}"
        ) from None
    if rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError(f"expected an (H, W, 3) uint8 RGB frame, got {rgb.dtype} {rgb.shape}")
    return fn(rgb, severity, rng)
