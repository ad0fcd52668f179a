"""The shifts ``bench/estimate_shift_world.py`` can put on a line after the run's midpoint.

Each kind maps the frame the camera should have sent (RGB uint8, before the production JPEG)
and a generator to the one it sends. :data:`SHIFT_SETS` names the three lines' shifts of each
set; ``--shifts`` also takes three kinds of :data:`KINDS` joined by commas (line-1, line-2,
line-3).

What the lab (``linewatch assess``: the suite at severities 1, 3, 5 and the dense grid of gain
and Gaussian defocus) shows of each kind:

- ``darkened`` (gain 0.45, the lux sensor blind), ``defocus`` (box blur radius 3), ``glare``
  (a bright patch on 30 % of frames): the ``tuned`` set, the estimator's development set;
- ``noise`` (Gaussian sigma 10; the suite has 4, 14, 40), ``haze`` (40 % warm grey),
  ``smudge`` (the camera-faults scenario's dirty lens): the ``unseen`` set;
- ``overexposed``: gain 1.9, highlights clipped (the grid's brightest gain is 1.6, the suite's
  brightening severities are even and not rendered by default);
- ``motion``: a horizontal motion smear of 9 px (a line kernel; the grid blurs with a round
  Gaussian);
- ``jpeg``: the camera's encoder at quality 15 before the production path's quality 85 (the
  suite's JPEG rows: 60, 20, 7);
- ``contrast``: every pixel pulled half-way towards the frame's mean (the suite's contrast
  rows keep 80, 40 and 15 %);
- ``cool``: a cool white-balance drift, channel gains 0.75 / 1.0 / 1.25 (the suite's colour
  casts at severities 1, 3, 5 are all warm);
- ``vignette``: the corners fall to 35 % of the light, the middle keeps it (a lamp or lens
  that lights unevenly; nothing like it in the suite);
- ``dark``: gain 0.15, below the grid's darkest level (0.2);
- ``autogain``: a dim lamp (gain 0.3) that the camera's auto-gain brings back (x 3.0): the
  brightness is kept, the read noise (sigma 2.5 before the gain) and the 8-bit steps are
  multiplied (nothing like it in the lab: its noise rows are at lab light, its dark rows
  noise-free).
"""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

import numpy as np
import numpy.typing as npt
from PIL import Image

from streams.simulate.camera_faults import apply_fault

__all__ = ["KINDS", "SHIFT_SETS", "apply_shift", "jpeg_round_trip", "resolve_set"]

RGB = npt.NDArray[np.uint8]
DARKEN = 0.45
GLARE_SHARE = 0.3
NOISE_SIGMA = 10.0
HAZE = (0.4, np.asarray([215.0, 200.0, 175.0], np.float32))


def _u8(img: npt.NDArray[Any]) -> RGB:
    out: RGB = np.clip(img + 0.5, 0, 255).astype(np.uint8)
    return out


def jpeg_round_trip(rgb: RGB, quality: int) -> RGB:
    """``rgb`` encoded as JPEG at ``quality`` and decoded again."""
    buf = io.BytesIO()
    Image.fromarray(rgb, mode="RGB").save(buf, format="JPEG", quality=quality)
    buf.seek(0)
    return np.asarray(Image.open(buf).convert("RGB"), dtype=np.uint8)


def _glare(rgb: RGB, rng: np.random.Generator) -> RGB:
    """An additive bright patch, the simulator's glare model, at a random place, on
    ``GLARE_SHARE`` of the frames."""
    if rng.random() >= GLARE_SHARE:
        return rgb
    h, w = rgb.shape[:2]
    g = rng.random(5)
    x, y = 40 + 240 * g[0], 20 + 200 * g[1]
    rx, ry, strength = 25 + 50 * g[2], 15 + 35 * g[3], 0.25 + 0.35 * g[4]
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    patch = 255.0 * strength * np.exp(-(((xs - x) / rx) ** 2) - ((ys - y) / ry) ** 2)
    return _u8(
        rgb.astype(np.float32) + patch[..., None] * np.asarray([1.0, 0.98, 0.93], np.float32)
    )


def _gain(gain: float) -> Callable[[RGB, np.random.Generator], RGB]:
    return lambda rgb, rng: _u8(rgb.astype(np.float32) * gain)


def _motion(rgb: RGB, rng: np.random.Generator) -> RGB:
    """A horizontal smear: the mean of 9 neighbours along each row."""
    img = rgb.astype(np.float32)
    c = np.cumsum(np.pad(img, ((0, 0), (5, 4), (0, 0)), mode="edge"), axis=1)
    return _u8((c[:, 9:] - c[:, :-9]) / 9.0)


def _contrast(rgb: RGB, rng: np.random.Generator) -> RGB:
    x = rgb.astype(np.float32)
    mean = x.mean(axis=(0, 1), keepdims=True)
    return _u8(mean + 0.5 * (x - mean))


def _vignette(rgb: RGB, rng: np.random.Generator) -> RGB:
    h, w = rgb.shape[:2]
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    r2 = ((xs - w / 2) / (w / 2)) ** 2 + ((ys - h / 2) / (h / 2)) ** 2
    light = 1.0 - 0.65 * np.clip(r2 / 2.0, 0.0, 1.0)
    return _u8(rgb.astype(np.float32) * light[..., None])


def _autogain(rgb: RGB, rng: np.random.Generator) -> RGB:
    dim = _u8(rgb.astype(np.float32) * 0.3 + rng.normal(0.0, 2.5, rgb.shape))
    return _u8(dim.astype(np.float32) * 3.0)


def _blur_box(rgb: RGB, rng: np.random.Generator) -> RGB:
    return apply_fault("defocus", rgb)


KINDS: dict[str, Callable[[RGB, np.random.Generator], RGB]] = {
    "darkened": _gain(DARKEN),
    "defocus": _blur_box,
    "glare": _glare,
    "noise": lambda rgb, rng: _u8(rgb.astype(np.float32) + rng.normal(0, NOISE_SIGMA, rgb.shape)),
    "haze": lambda rgb, rng: _u8(rgb.astype(np.float32) * (1 - HAZE[0]) + HAZE[0] * HAZE[1]),
    "smudge": lambda rgb, rng: apply_fault("smudge", rgb),
    "overexposed": _gain(1.9),
    "motion": _motion,
    "jpeg": lambda rgb, rng: jpeg_round_trip(rgb, 15),
    "contrast": _contrast,
    "cool": lambda rgb, rng: _u8(
        rgb.astype(np.float32) * np.asarray([0.75, 1.0, 1.25], np.float32)
    ),
    "vignette": _vignette,
    "dark": _gain(0.15),
    "autogain": _autogain,
}
"""Every shift kind by name (see the module's docstring)."""

SHIFT_SETS: dict[str, dict[str, str]] = {
    "tuned": {"line-1": "darkened", "line-2": "defocus", "line-3": "glare"},
    "unseen": {"line-1": "noise", "line-2": "haze", "line-3": "smudge"},
    "exposure": {"line-1": "overexposed", "line-2": "motion", "line-3": "jpeg"},
    "optics": {"line-1": "contrast", "line-2": "cool", "line-3": "vignette"},
    "lowlight": {"line-1": "dark", "line-2": "autogain", "line-3": "noise"},
}
"""Per set, the shift of each line after the midpoint. ``tuned`` is the estimator's
development set; the others were added after its features were chosen."""


def resolve_set(name: str) -> dict[str, str]:
    """The lines' shifts of a set name, or of three kinds joined by commas.

    >>> resolve_set("cool,dark,jpeg")
    {'line-1': 'cool', 'line-2': 'dark', 'line-3': 'jpeg'}
    """
    if name in SHIFT_SETS:
        return SHIFT_SETS[name]
    kinds = name.split(",")
    unknown = [k for k in kinds if k not in KINDS]
    if len(kinds) != 3 or unknown:
        raise ValueError(
            f"--shifts {name!r}: give a set ({', '.join(SHIFT_SETS)}) or three kinds joined by "
            f"commas, one per line, from {', '.join(KINDS)}"
        )
    return dict(zip(("line-1", "line-2", "line-3"), kinds, strict=True))


def apply_shift(kind: str, rgb: RGB, rng: np.random.Generator) -> RGB:
    """The frame a line under shift ``kind`` sends instead of ``rgb``."""
    return KINDS[kind](rgb, rng)
