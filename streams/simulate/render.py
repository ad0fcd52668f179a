"""Render one 320x240 RGB frame: a metal part on a conveyor belt, its defects, the lighting.

All random draws come from the ``rng`` argument and none depends on ``conditions``: the same
seed rendered under two different :class:`SceneConditions` gives the same part, pose and
defects (same boxes) under different light — what a corruption suite needs.

>>> import numpy as np
>>> from streams.simulate.lighting import lab_conditions
>>> cond = lab_conditions(np.random.default_rng(1), line_id="line-1", shift="day")
>>> rgb, objects = render_scene(np.random.default_rng(2), cond, ["dent"], variant="plate-b")
>>> rgb.shape, rgb.dtype, [o.class_name for o in objects]
((240, 320, 3), dtype('uint8'), ['dent'])
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import numpy.typing as npt

from streams.simulate.classes import ALL_CLASSES
from streams.simulate.lighting import SceneConditions, kelvin_to_rgb_gain
from streams.simulate.part_shapes import erode, part_mask
from streams.simulate.textures import (
    BELT_EXTRA,
    FRAME_HEIGHT,
    FRAME_WIDTH,
    NOISE_H,
    NOISE_W,
    assets,
)

__all__ = ["VARIANTS", "SceneObject", "render_scene"]

VARIANTS = ("bracket-a", "plate-b")

F32 = npt.NDArray[np.float32]
_LIGHT = (-0.6, -0.8)  # direction towards the hall lamps (top-left), image coordinates
_WINDOW = 95  # half-size of the window holding the part
_MARGIN = 2  # label box margin around the visible defect pixels


@dataclass(frozen=True, slots=True)
class SceneObject:
    """One rendered defect and its box ``[x1, y1, x2, y2]`` in frame pixels."""

    class_name: str
    box: tuple[float, float, float, float]

    def as_dict(self) -> dict[str, object]:
        """The ``GroundTruthObject`` JSON form."""
        return {"class_name": self.class_name, "box": list(self.box)}


def _box_from_alpha(alpha: F32, y0: int, x0: int) -> tuple[float, float, float, float] | None:
    rows = np.flatnonzero((alpha > 0.3).any(axis=1))
    cols = np.flatnonzero((alpha > 0.3).any(axis=0))
    if rows.size == 0 or cols.size == 0:
        return None
    # A labeller's box: the visible pixels plus a 2 px margin.
    x1 = max(float(x0 + cols[0] - _MARGIN), 0.0)
    y1 = max(float(y0 + rows[0] - _MARGIN), 0.0)
    x2 = min(float(x0 + cols[-1] + 1 + _MARGIN), float(FRAME_WIDTH))
    y2 = min(float(y0 + rows[-1] + 1 + _MARGIN), float(FRAME_HEIGHT))
    return (x1, y1, x2, y2)


def _window(cx: float, cy: float, half: float) -> tuple[int, int, int, int]:
    x0 = max(int(cx - half), 0)
    y0 = max(int(cy - half), 0)
    x1 = min(int(cx + half) + 1, FRAME_WIDTH)
    y1 = min(int(cy + half) + 1, FRAME_HEIGHT)
    return y0, y1, x0, x1


def _segment_distance(
    xs: F32, ys: F32, segments: Sequence[tuple[float, float, float, float]]
) -> F32:
    best = np.full(np.broadcast_shapes(xs.shape, ys.shape), 1e9, dtype=np.float32)
    for ax, ay, bx, by in segments:
        dx, dy = bx - ax, by - ay
        ll = dx * dx + dy * dy or 1e-6
        t = np.clip(((xs - ax) * dx + (ys - ay) * dy) / ll, 0.0, 1.0)
        px = xs - (ax + t * dx)
        py = ys - (ay + t * dy)
        np.minimum(best, px * px + py * py, out=best)
    return np.sqrt(best)


# A defect painter gets (rng, refl, mask, cx, cy) and paints in place, returning the box.
_Painter = Callable[
    [np.random.Generator, F32, npt.NDArray[np.bool_], float, float],
    "tuple[float, float, float, float] | None",
]


def _paint_line(
    refl: F32,
    mask: npt.NDArray[np.bool_],
    segments: Sequence[tuple[float, float, float, float]],
    *,
    width: float,
    value: float,
    strength: float,
) -> tuple[float, float, float, float] | None:
    pts_x = [p for s in segments for p in (s[0], s[2])]
    pts_y = [p for s in segments for p in (s[1], s[3])]
    x0 = max(int(min(pts_x)) - 3, 0)
    x1 = min(int(max(pts_x)) + 4, FRAME_WIDTH)
    y0 = max(int(min(pts_y)) - 3, 0)
    y1 = min(int(max(pts_y)) + 4, FRAME_HEIGHT)
    if x1 <= x0 or y1 <= y0:
        return None
    a = assets()
    dist = _segment_distance(a.xs[:, x0:x1], a.ys[y0:y1], segments)
    alpha = np.clip(0.5 + width - dist, 0.0, 1.0) * mask[y0:y1, x0:x1]
    win = refl[:, y0:y1, x0:x1]
    k = (alpha * strength).astype(np.float32)
    win *= 1.0 - k
    win += k * value
    return _box_from_alpha(alpha.astype(np.float32), y0, x0)


def _scratch(
    rng: np.random.Generator, refl: F32, mask: npt.NDArray[np.bool_], cx: float, cy: float
) -> tuple[float, float, float, float] | None:
    length, theta, width, bright, strength = (
        rng.uniform(18, 44),
        rng.uniform(0, math.pi),
        rng.uniform(0.6, 1.1),
        rng.random() < 0.65,
        rng.uniform(0.7, 0.95),
    )
    dx, dy = math.cos(theta) * length / 2, math.sin(theta) * length / 2
    value = 0.98 if bright else 0.2
    segment = (cx - dx, cy - dy, cx + dx, cy + dy)
    return _paint_line(refl, mask, [segment], width=width, value=value, strength=strength)


def _crack(
    rng: np.random.Generator, refl: F32, mask: npt.NDArray[np.bool_], cx: float, cy: float
) -> tuple[float, float, float, float] | None:
    total, main, width = rng.uniform(26, 50), rng.uniform(0, math.pi), rng.uniform(0.35, 0.7)
    step = 3.5
    n = max(int(total / step), 4)
    jitter = rng.normal(0.0, 0.55, n)
    nodes = [(cx - math.cos(main) * total / 2, cy - math.sin(main) * total / 2)]
    for j in range(n):
        px, py = nodes[-1]
        heading = main + float(jitter[j])
        nodes.append((px + step * math.cos(heading), py + step * math.sin(heading)))
    segments = [(*nodes[j], *nodes[j + 1]) for j in range(n)]
    for _ in range(int(rng.integers(1, 3))):
        at = nodes[int(rng.integers(1, n))]
        heading = main + float(rng.choice([-1.0, 1.0])) * rng.uniform(0.5, 1.1)
        bjit = rng.normal(0.0, 0.5, max(int(total * rng.uniform(0.25, 0.45) / step), 2))
        px, py = at
        for jj in bjit:
            qx = px + step * math.cos(heading + float(jj))
            qy = py + step * math.sin(heading + float(jj))
            segments.append((px, py, qx, qy))
            px, py = qx, qy
    return _paint_line(refl, mask, segments, width=width, value=0.05, strength=0.92)


def _dent(
    rng: np.random.Generator, refl: F32, mask: npt.NDArray[np.bool_], cx: float, cy: float
) -> tuple[float, float, float, float] | None:
    ax = rng.uniform(6, 11)
    bx = ax * rng.uniform(0.6, 1.0)
    phi = rng.uniform(0, math.pi)
    depth = rng.uniform(0.45, 0.7)
    y0, y1, x0, x1 = _window(cx, cy, ax + 3)
    a = assets()
    xs = a.xs[:, x0:x1] - cx
    ys = a.ys[y0:y1] - cy
    c, s = math.cos(phi), math.sin(phi)
    p = (xs * c + ys * s) / ax
    q = (-xs * s + ys * c) / bx
    r = np.sqrt(p * p + q * q)
    inside = np.clip((1.0 - r) * bx / 1.5, 0.0, 1.0) * mask[y0:y1, x0:x1]
    lp = _LIGHT[0] * c + _LIGHT[1] * s
    lq = -_LIGHT[0] * s + _LIGHT[1] * c
    facing = p * lp + q * lq
    highlight = 0.5 * np.exp(-((p + 0.45 * lp) ** 2 + (q + 0.45 * lq) ** 2) / 0.04)
    rim = -0.18 * np.exp(-((r - 1.0) ** 2) / 0.03) * mask[y0:y1, x0:x1]
    factor = 1.0 + inside * (-depth * facing + highlight) + rim
    refl[:, y0:y1, x0:x1] *= np.maximum(factor, 0.05)
    return _box_from_alpha(np.maximum(inside, np.abs(rim) * 3).astype(np.float32), y0, x0)


_STAIN_COLOURS = ((0.55, 0.40, 0.22), (0.78, 0.38, 0.2), (0.35, 0.55, 0.62), (0.3, 0.3, 0.28))


def _stain(
    rng: np.random.Generator, refl: F32, mask: npt.NDArray[np.bool_], cx: float, cy: float
) -> tuple[float, float, float, float] | None:
    radius = rng.uniform(7, 14)
    k = int(rng.integers(4, 8))
    centres = rng.normal(0.0, radius * 0.45, (k, 2))
    sigmas = radius * rng.uniform(0.3, 0.6, k)
    colour = np.asarray(_STAIN_COLOURS[int(rng.integers(len(_STAIN_COLOURS)))], np.float32)
    colour = np.clip(colour + rng.normal(0.0, 0.04, 3).astype(np.float32), 0.05, 0.95)
    opacity = rng.uniform(0.55, 0.85)
    y0, y1, x0, x1 = _window(cx, cy, radius * 2.2)
    a = assets()
    xs = a.xs[:, x0:x1] - cx
    ys = a.ys[y0:y1] - cy
    field = np.zeros((y1 - y0, x1 - x0), dtype=np.float32)
    for (ox, oy), sg in zip(centres, sigmas, strict=True):
        field += np.exp(-((xs - ox) ** 2 + (ys - oy) ** 2) / (2 * sg * sg))
    field /= max(float(field.max()), 1e-6)
    alpha = np.clip((field - 0.35) * 4.0, 0.0, 1.0) * mask[y0:y1, x0:x1]
    refl[:, y0:y1, x0:x1] *= 1.0 - (alpha * opacity)[None] * (1.0 - colour)[:, None, None]
    return _box_from_alpha(alpha.astype(np.float32), y0, x0)


_PAINTERS: dict[str, _Painter] = {
    "scratch": _scratch,
    "dent": _dent,
    "stain": _stain,
    "crack": _crack,
}
assert set(_PAINTERS) == set(ALL_CLASSES)


def _iou(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    iw = min(a[2], b[2]) - max(a[0], b[0])
    ih = min(a[3], b[3]) - max(a[1], b[1])
    if iw <= 0 or ih <= 0:
        return 0.0
    inter = iw * ih
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


def _apply_light(refl: F32, conditions: SceneConditions, rng: np.random.Generator) -> F32:
    a = assets()
    ny = int(rng.integers(0, NOISE_H - FRAME_HEIGHT))
    nx = int(rng.integers(0, NOISE_W - FRAME_WIDTH))
    tint = np.asarray(kelvin_to_rgb_gain(conditions.colour_temp_k), np.float32) * np.float32(
        conditions.gain * 255.0
    )
    img = refl
    img *= a.vignette
    img *= tint[:, None, None]
    for g in conditions.glare:
        gx = np.exp(-(((a.xs - g.x) / g.rx) ** 2))
        gy = np.exp(-(((a.ys - g.y) / g.ry) ** 2))
        patch = (255.0 * g.strength) * gy * gx
        for c, w in enumerate((1.0, 0.98, 0.93)):
            img[c] += patch * w
    b = np.float32(conditions.blur / 4.0)
    side = img[:, :, :-2] + img[:, :, 2:]
    side *= b
    img[:, :, 1:-1] *= 1 - 2 * b
    img[:, :, 1:-1] += side
    side = img[:, :-2] + img[:, 2:]
    side *= b
    img[:, 1:-1] *= 1 - 2 * b
    img[:, 1:-1] += side
    noise = a.noise[:, ny : ny + FRAME_HEIGHT, nx : nx + FRAME_WIDTH] * np.float32(
        conditions.noise * 255.0
    )
    img += noise
    img += 0.5
    np.clip(img, 0.0, 255.0, out=img)
    return img


_ANGLE_STEPS = 14  # rotation jitter: -7..7 degrees in 0.5 degree steps


@lru_cache(maxsize=2 * (2 * _ANGLE_STEPS + 1))
def _part_sprite(variant: str, angle_step: int) -> tuple[npt.NDArray[np.bool_], F32]:
    """The part's mask and metal shading in a (2*_WINDOW+1)^2 window around its centre."""
    size = 2 * _WINDOW + 1
    grid = np.arange(size, dtype=np.float32) - _WINDOW
    xs, ys = grid[None, :], grid[:, None]
    angle = math.radians(angle_step * 0.5)
    c, s = np.float32(math.cos(angle)), np.float32(math.sin(angle))
    u = xs * c + ys * s
    v = -xs * s + ys * c
    local = part_mask(variant, u, v)
    a = assets()
    streak = a.streaks[(v.astype(np.int32) * 3) % a.streaks.shape[0]]
    metal = (0.9 + 0.18 * (u + 80.0) / 160.0) * (1.0 + 0.04 * streak)
    rim = local & ~erode(local, 2)
    metal = (metal * (1.0 - 0.28 * rim.astype(np.float32))).astype(np.float32)
    local.setflags(write=False)
    metal.setflags(write=False)
    return local, metal


def _place_part(
    refl: F32, variant: str, angle_step: int, cx: int, cy: int
) -> npt.NDArray[np.bool_]:
    """Paint the part (and its drop shadow) onto the belt ``refl`` in place; return its mask."""
    local, metal = _part_sprite(variant, angle_step)
    y0, x0 = cy - _WINDOW, cx - _WINDOW
    y1, x1 = y0 + local.shape[0], x0 + local.shape[1]
    mask = np.zeros((FRAME_HEIGHT, FRAME_WIDTH), dtype=bool)
    mask[y0:y1, x0:x1] = local
    # drop shadow down-right of the part
    shadow = np.zeros_like(local)
    shadow[5:, 6:] = local[:-5, :-6]
    win = refl[:, y0:y1, x0:x1]
    win *= 1.0 - 0.38 * shadow.astype(np.float32)
    base = (0.66, 0.68, 0.72) if variant == "bracket-a" else (0.74, 0.74, 0.74)
    for ch, level in enumerate(base):
        win[ch] = np.where(local, metal * np.float32(level), win[ch])
    return mask


def _paint_defects(
    rng: np.random.Generator, refl: F32, mask: npt.NDArray[np.bool_], defects: Sequence[str]
) -> tuple[F32, list[SceneObject]]:
    """Paint each defect at a random spot well inside the part (up to six tries, none
    overlapping another); return the painted reflectance and the defects placed."""
    inner = erode(erode(mask, 5), 5)
    candidates = np.flatnonzero(inner)
    objects: list[SceneObject] = []
    for name in defects:
        for _attempt in range(6):
            idx = int(candidates[int(rng.integers(candidates.size))])
            dcy, dcx = divmod(idx, FRAME_WIDTH)
            trial = refl.copy()
            box = _PAINTERS[name](rng, trial, mask, float(dcx), float(dcy))
            if box is None or (box[2] - box[0]) * (box[3] - box[1]) < 30:
                continue
            if any(_iou(box, o.box) > 0.0 for o in objects):
                continue
            refl = trial
            objects.append(SceneObject(name, box))
            break
    return refl, objects


def render_scene(
    rng: np.random.Generator,
    conditions: SceneConditions,
    defects: Sequence[str],
    *,
    variant: str | None = None,
) -> tuple[npt.NDArray[np.uint8], list[SceneObject]]:
    """Render a part with ``defects`` (class names) under ``conditions``.

    Returns the ``(240, 320, 3)`` uint8 RGB frame and the visible defects with their boxes
    (a defect that cannot be placed visibly on the part is dropped, which is rare).
    """
    if variant is None:
        variant = VARIANTS[int(rng.integers(len(VARIANTS)))]
    if variant not in VARIANTS:
        raise ValueError(f"unknown variant {variant!r}; expected one of {VARIANTS}")
    unknown = [d for d in defects if d not in _PAINTERS]
    if unknown:
        raise ValueError(f"unknown defect classes {unknown}; expected some of {ALL_CLASSES}")
    cx = FRAME_WIDTH // 2 + int(rng.integers(-14, 15))
    cy = FRAME_HEIGHT // 2 + int(rng.integers(-10, 11))
    angle_step = int(rng.integers(-_ANGLE_STEPS, _ANGLE_STEPS + 1))
    belt_off = int(rng.integers(0, BELT_EXTRA))

    refl = assets().belt[:, :, belt_off : belt_off + FRAME_WIDTH].copy()  # (3, H, W)
    mask = _place_part(refl, variant, angle_step, cx, cy)
    refl, objects = _paint_defects(rng, refl, mask, defects)
    img = _apply_light(refl, conditions, rng).astype(np.uint8)
    rgb = np.empty((FRAME_HEIGHT, FRAME_WIDTH, 3), dtype=np.uint8)
    for ch in range(3):
        rgb[:, :, ch] = img[ch]
    return rgb, objects
