"""The simulated camera's frame size and the constant textures every frame is rendered from:
the conveyor belt, sensor noise, vignette and the brushed-metal profile."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import numpy.typing as npt

__all__ = ["BELT_EXTRA", "FRAME_HEIGHT", "FRAME_WIDTH", "NOISE_H", "NOISE_W", "Assets", "assets"]

FRAME_WIDTH = 320
FRAME_HEIGHT = 240
BELT_EXTRA = 256
"""Belt columns beyond the frame width: each frame shows the belt at a random offset."""
NOISE_H, NOISE_W = 480, 640
"""Size of the noise field each frame takes a random window of."""

F32 = npt.NDArray[np.float32]


@dataclass(frozen=True, slots=True)
class Assets:
    """Textures rendered once per process and shared by every frame."""

    belt: F32  # (3, H, W + extra) reflectance
    noise: F32  # (3, NH, NW) standard normal
    vignette: F32  # (H, W)
    streaks: F32  # (512,) brushed-metal profile
    ys: F32  # (H, 1)
    xs: F32  # (1, W)


def _smooth(field: F32, passes: int) -> F32:
    out = field
    for _ in range(passes):
        out = (out + np.roll(out, 1, 0) + np.roll(out, -1, 0)) / 3.0
        out = (out + np.roll(out, 1, 1) + np.roll(out, -1, 1)) / 3.0
    return out.astype(np.float32)


@lru_cache(maxsize=1)
def assets() -> Assets:
    """The constant textures (a fixed seed: part of the simulator, not of a run)."""
    rng = np.random.default_rng(20_261_129)  # constant textures: part of the simulator, not a seed
    h, w = FRAME_HEIGHT, FRAME_WIDTH + BELT_EXTRA
    mottle = _smooth(rng.standard_normal((h, w)).astype(np.float32), 6)
    mottle /= float(np.abs(mottle).max())
    grain = rng.standard_normal((h, w)).astype(np.float32)
    belt = 0.47 + 0.035 * mottle + 0.012 * grain
    cols = np.arange(w)
    belt[:, cols % 9 == 0] *= 0.9  # transverse ridges
    belt[:, cols % 9 == 1] *= 0.96
    belt[:12] = 0.28 + 0.01 * grain[:12]  # side rails
    belt[-12:] = 0.28 + 0.01 * grain[-12:]
    belt[12:14] *= 0.7
    belt[-14:-12] *= 0.7
    noise = rng.standard_normal((3, NOISE_H, NOISE_W)).astype(np.float32)
    ys = np.arange(FRAME_HEIGHT, dtype=np.float32)[:, None]
    xs = np.arange(FRAME_WIDTH, dtype=np.float32)[None, :]
    r2 = ((xs - 150.0) / 200.0) ** 2 + ((ys - 100.0) / 170.0) ** 2
    vignette = (1.0 - 0.22 * r2).astype(np.float32)
    streaks = _smooth(rng.standard_normal((512, 1)).astype(np.float32), 1)[:, 0]
    belt3 = belt[None] * np.asarray([0.93, 1.0, 0.95], np.float32)[:, None, None]
    return Assets(belt3.astype(np.float32), noise, vignette, streaks, ys, xs)
