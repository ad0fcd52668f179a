"""The second world's scenes: painted metal plates on a textured conveyor mat.

Nothing here comes from :mod:`streams.simulate`: the plant, its look, its defects and its
lighting are this module's own. A scene is one light-grey painted plate (brushed streaks) on a dark
brown-grey textured mat, lit at ``lux`` with a colour temperature ``colour_temp_k``, with up to
three defects:

- ``burr``: a small warm (orange-yellow) raised spot, an ellipse 8-20 px across;
- ``chip``: a small dark blue-grey notch with a ragged edge, where the paint flaked off;
- ``scratch`` (the novel class, never in the detector's classes): a thin long dark-grey line.

Boxes are integer pixel corners ``(x1, y1, x2, y2)`` of the defect's pixels (``x2``/``y2``
exclusive), so every label format writes them exactly.

>>> import numpy as np
>>> scene = render_scene(np.random.default_rng(1), defects=("burr", "chip"), lux=700.0,
...                      colour_temp_k=5000.0)
>>> scene.pixels.shape, [d.class_name for d in scene.defects]
((150, 200, 3), ['burr', 'chip'])
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from PIL import Image

__all__ = [
    "CLASSES",
    "FRAME_SIZE",
    "NOVEL_CLASS",
    "Defect",
    "Scene",
    "encode_jpeg",
    "random_lighting",
    "random_scene",
    "render_scene",
]

CLASSES = ("burr", "chip")
"""The classes the world's detector knows, in its class-index order."""
NOVEL_CLASS = "scratch"
"""A defect the detector was never built for (for novel-class tests)."""
FRAME_SIZE = (200, 150)
"""``(W, H)`` of every frame."""

Pixels = npt.NDArray[np.float32]

_MAT = np.array([0.28, 0.26, 0.22], np.float32)
_PAINT = np.array([0.68, 0.69, 0.71], np.float32)
_LOOK = {
    "burr": np.array([0.92, 0.62, 0.20], np.float32),
    "chip": np.array([0.20, 0.26, 0.40], np.float32),
    "scratch": np.array([0.38, 0.38, 0.40], np.float32),
}


@dataclass(frozen=True, slots=True)
class Defect:
    """One defect: its class and integer pixel box ``(x1, y1, x2, y2)``, ``x2``/``y2`` exclusive."""

    class_name: str
    box: tuple[int, int, int, int]


@dataclass(frozen=True, slots=True)
class Scene:
    """One rendered frame (``H x W x 3`` uint8 RGB) with its defects and lighting."""

    pixels: npt.NDArray[np.uint8]
    defects: tuple[Defect, ...]
    lux: float
    colour_temp_k: float

    def jpeg(self, quality: int = 92) -> bytes:
        """The frame as JPEG bytes (deterministic for the same pixels and quality)."""
        return encode_jpeg(self.pixels, quality)


def encode_jpeg(pixels: npt.NDArray[np.uint8], quality: int = 92) -> bytes:
    """Encode RGB pixels as JPEG."""
    buf = io.BytesIO()
    Image.fromarray(pixels, "RGB").save(buf, format="JPEG", quality=quality)
    return buf.getvalue()


def _smooth_noise(rng: np.random.Generator, h: int, w: int, cell: int) -> Pixels:
    """Low-frequency noise in about -1..1: a coarse random grid, bilinearly upsampled."""
    gh, gw = h // cell + 2, w // cell + 2
    grid = rng.standard_normal((gh, gw)).astype(np.float32)
    ys = np.arange(h, dtype=np.float32) / cell
    xs = np.arange(w, dtype=np.float32) / cell
    y0, x0 = ys.astype(int), xs.astype(int)
    fy, fx = (ys - y0)[:, None], (xs - x0)[None, :]
    top = grid[y0][:, x0] * (1 - fx) + grid[y0][:, x0 + 1] * fx
    bottom = grid[y0 + 1][:, x0] * (1 - fx) + grid[y0 + 1][:, x0 + 1] * fx
    return np.asarray(top * (1 - fy) + bottom * fy, np.float32)


def _background(rng: np.random.Generator, h: int, w: int) -> Pixels:
    """The conveyor mat: dark brown-grey, woven diagonal ribs and blotchy wear."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    ribs = 0.035 * np.sin((xx + yy) * (2 * np.pi / rng.uniform(5.0, 8.0)))
    wear = 0.05 * _smooth_noise(rng, h, w, 12)
    grain = 0.02 * rng.standard_normal((h, w)).astype(np.float32)
    shade = (ribs + wear + grain)[..., None]
    return np.asarray(_MAT[None, None, :] + shade, np.float32)


def _plate(rng: np.random.Generator, img: Pixels) -> tuple[int, int, int, int]:
    """Paint the plate (brushed streaks along x) onto ``img``; returns its box."""
    h, w = img.shape[:2]
    x1, y1 = int(rng.integers(6, 28)), int(rng.integers(6, 22))
    x2, y2 = w - int(rng.integers(6, 28)), h - int(rng.integers(6, 22))
    ph, pw = y2 - y1, x2 - x1
    streaks = 0.025 * _smooth_noise(rng, ph, 1, 2)  # one value per row...
    streaks = streaks + 0.012 * _smooth_noise(rng, ph, pw, 3) * 0.5  # ...with a little texture
    img[y1:y2, x1:x2] = _PAINT[None, None, :] + streaks[..., None]
    return x1, y1, x2, y2


def _alpha_blob(
    rng: np.random.Generator,
    *,
    h: int,
    w: int,
    cx: float,
    cy: float,
    rx: float,
    ry: float,
    ragged: float,
) -> Pixels:
    """Soft elliptic mask (1 inside); ``ragged`` > 0 frays its edge."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    r = np.sqrt(((xx - cx) / rx) ** 2 + ((yy - cy) / ry) ** 2)
    if ragged:
        angle = np.arctan2(yy - cy, xx - cx)
        phase = rng.uniform(0, 2 * np.pi, 3)
        r = r * (
            1
            + ragged * sum(np.sin(k * angle + p) for k, p in zip((3, 5, 7), phase, strict=True)) / 3
        )
    return np.asarray(np.clip((1.15 - r) / 0.3, 0.0, 1.0), np.float32)


def _alpha_line(
    size: tuple[int, int], start: tuple[float, float], end: tuple[float, float]
) -> Pixels:
    """A 2 px wide line from ``start`` to ``end`` (``(x, y)``) on an ``(H, W)`` canvas."""
    (h, w), (x0, y0), (x1, y1) = size, start, end
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    dx, dy = x1 - x0, y1 - y0
    t = np.clip(((xx - x0) * dx + (yy - y0) * dy) / (dx * dx + dy * dy), 0.0, 1.0)
    dist = np.hypot(xx - (x0 + t * dx), yy - (y0 + t * dy))
    return np.asarray(np.clip(1.6 - dist, 0.0, 1.0), np.float32)


def _box_of(alpha: Pixels) -> tuple[int, int, int, int]:
    ys, xs = np.nonzero(alpha > 0.5)
    return int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1


def _place(
    rng: np.random.Generator, plate: tuple[int, int, int, int], taken: list[tuple[float, float]]
) -> tuple[float, float]:
    """A defect centre on the plate, 14 px inside its edge and 40 px from every other defect."""
    x1, y1, x2, y2 = plate
    for _ in range(200):
        cx, cy = rng.uniform(x1 + 14, x2 - 14), rng.uniform(y1 + 14, y2 - 14)
        if all(np.hypot(cx - tx, cy - ty) >= 40 for tx, ty in taken):
            return float(cx), float(cy)
    raise RuntimeError("no room for another defect on this plate")


def _light(img: Pixels, rng: np.random.Generator, lux: float, colour_temp_k: float) -> Pixels:
    """Exposure from ``lux`` (700 lux is nominal), a warm/cool tint, vignetting and sensor noise."""
    h, w = img.shape[:2]
    gain = (lux / 700.0) ** 0.7
    warm = float(np.clip((5000.0 - colour_temp_k) / 2000.0, -1.0, 1.0))
    tint = np.array([1 + 0.14 * warm, 1.0, 1 - 0.14 * warm], np.float32)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    vignette = 1 - 0.18 * (((xx - w / 2) / w) ** 2 + ((yy - h / 2) / h) ** 2) * 4
    out = img * gain * tint[None, None, :] * vignette[..., None]
    out = out + rng.normal(0.0, 0.012 + 0.01 / gain, img.shape).astype(np.float32)
    return np.asarray(np.clip(out, 0.0, 1.0), np.float32)


def render_scene(
    rng: np.random.Generator,
    *,
    defects: Sequence[str],
    lux: float,
    colour_temp_k: float,
    size: tuple[int, int] = FRAME_SIZE,
) -> Scene:
    """Render one plate with ``defects`` (classes, each ``burr``, ``chip`` or ``scratch``).

    Each defect's strength (how far it departs from the paint) is drawn from 0.45..1, so faint
    ones exist: the world's detector misses some of them, as a real one would.
    """
    w, h = size
    img = _background(rng, h, w)
    plate = _plate(rng, img)
    taken: list[tuple[float, float]] = []
    placed = []
    for name in defects:
        if name not in _LOOK:
            raise ValueError(f"unknown defect class {name!r}; one of {sorted(_LOOK)}")
        cx, cy = _place(rng, plate, taken)
        taken.append((cx, cy))
        if name == "scratch":
            length, angle = rng.uniform(22, 40), rng.uniform(0, np.pi)
            dx, dy = 0.5 * length * np.cos(angle), 0.5 * length * np.sin(angle)
            alpha = _alpha_line((h, w), (cx - dx, cy - dy), (cx + dx, cy + dy))
        else:
            rx, ry = rng.uniform(4.0, 9.0), rng.uniform(4.0, 9.0)
            ragged = 0.25 if name == "chip" else 0.0
            alpha = _alpha_blob(rng, h=h, w=w, cx=cx, cy=cy, rx=rx, ry=ry, ragged=ragged)
        strength = rng.uniform(0.45, 1.0)
        a = (alpha * strength)[..., None]
        img = img * (1 - a) + _LOOK[name][None, None, :] * a
        placed.append(Defect(name, _box_of(alpha)))
    lit = _light(img, rng, lux, colour_temp_k)
    pixels = np.asarray(np.round(lit * 255.0), np.uint8)
    return Scene(pixels, tuple(placed), float(lux), float(colour_temp_k))


def random_lighting(rng: np.random.Generator, *, night: bool = False) -> tuple[float, float]:
    """``(lux, colour_temp_k)``: day light is bright and neutral, the night lamps dim and warm."""
    if night:
        return round(float(rng.uniform(260, 480)), 1), round(float(rng.uniform(2900, 3600)), 0)
    return round(float(rng.uniform(550, 1000)), 1), round(float(rng.uniform(4600, 6000)), 0)


def random_scene(
    rng: np.random.Generator,
    *,
    defect_rate: float = 0.7,
    novel_rate: float = 0.0,
    night: bool = False,
) -> Scene:
    """A plate that is defective with probability ``defect_rate`` (1-3 burrs/chips), and with
    probability ``novel_rate`` also carries a scratch."""
    names: list[str] = []
    if rng.random() < defect_rate:
        n = int(rng.choice([1, 1, 2, 3]))
        names = [str(rng.choice(CLASSES)) for _ in range(n)]
    if rng.random() < novel_rate:
        names.append(NOVEL_CLASS)
    lux, ct = random_lighting(rng, night=night)
    return render_scene(rng, defects=names, lux=lux, colour_temp_k=ct)
