"""Inputs the detector was never trained on: a novel defect, an empty belt, a foreign object.

Built from the simulator's public :func:`~streams.simulate.render_scene` (a part under lab light)
so the novel frames look like the lab frames except for the one thing that is new.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from numpy.typing import NDArray
from PIL import Image, ImageDraw

from streams.simulate import NOVEL_CLASSES, SceneObject, lab_conditions, render_scene

__all__ = ["NOVEL_INPUTS", "empty_belt", "foreign_object", "novel_defect"]

RGB = NDArray[np.uint8]
_BELT_STRIP = 40  # px at the left/right edge of a frame that show only belt


def novel_defect(rng: np.random.Generator) -> tuple[RGB, list[SceneObject]]:
    """A part with a defect class never seen in the lab (``crack``), under lab light."""
    conditions = lab_conditions(rng, line_id="line-1", shift="day")
    return render_scene(rng, conditions, [NOVEL_CLASSES[0]])


def empty_belt(rng: np.random.Generator) -> tuple[RGB, list[SceneObject]]:
    """The belt with no part on it, under lab light (the part-free edges of a lab frame, tiled)."""
    conditions = lab_conditions(rng, line_id="line-1", shift="day")
    rgb, _ = render_scene(rng, conditions, [])
    w = rgb.shape[1]
    strips = [rgb[:, :_BELT_STRIP], rgb[:, w - _BELT_STRIP :]]
    tiles: list[RGB] = []
    i = 0
    while sum(t.shape[1] for t in tiles) < w:
        strip = strips[i % 2]
        tiles.append(strip if (i // 2) % 2 == 0 else strip[:, ::-1])
        i += 1
    return np.ascontiguousarray(np.concatenate(tiles, axis=1)[:, :w]), []


def _glove(
    draw: ImageDraw.ImageDraw, cx: float, cy: float, s: float, colour: tuple[int, ...]
) -> None:
    draw.ellipse((cx - 28 * s, cy - 20 * s, cx + 28 * s, cy + 34 * s), fill=colour)
    for k, dx in enumerate((-21, -8, 5, 18)):
        length = (34, 42, 40, 30)[k] * s
        x = cx + dx * s
        draw.rounded_rectangle(
            (x - 6 * s, cy - 20 * s - length, x + 6 * s, cy - 10 * s), 6 * s, fill=colour
        )
    draw.rounded_rectangle((cx + 22 * s, cy - 4 * s, cx + 52 * s, cy + 10 * s), 7 * s, fill=colour)


def _wrench(
    draw: ImageDraw.ImageDraw, cx: float, cy: float, s: float, colour: tuple[int, ...]
) -> None:
    draw.rounded_rectangle((cx - 60 * s, cy - 7 * s, cx + 40 * s, cy + 7 * s), 6 * s, fill=colour)
    draw.ellipse((cx + 30 * s, cy - 20 * s, cx + 70 * s, cy + 20 * s), fill=colour)
    draw.rectangle((cx + 52 * s, cy - 7 * s, cx + 72 * s, cy + 7 * s), fill=(0, 0, 0, 0))


def foreign_object(rng: np.random.Generator) -> tuple[RGB, list[SceneObject]]:
    """A glove or a wrench lying on the empty belt (no part, no defect)."""
    belt, _ = empty_belt(rng)
    h, w = belt.shape[:2]
    layer = Image.new("RGBA", (w, h), (0, 0, 0, 0))
    draw = ImageDraw.Draw(layer)
    cx, cy = float(rng.uniform(0.35, 0.65) * w), float(rng.uniform(0.4, 0.6) * h)
    scale = float(rng.uniform(0.9, 1.3))
    if rng.random() < 0.5:
        colour = (
            int(rng.integers(30, 70)),
            int(rng.integers(90, 140)),
            int(rng.integers(170, 230)),
            255,
        )
        _glove(draw, cx, cy, scale, colour)
    else:
        grey = int(rng.integers(110, 190))
        _wrench(draw, cx, cy, scale, (grey, grey, grey + 10, 255))
    layer = layer.rotate(
        float(rng.uniform(0, 360)), center=(cx, cy), resample=Image.Resampling.BILINEAR
    )
    out = Image.fromarray(belt, mode="RGB").convert("RGBA")
    out.alpha_composite(layer)
    return np.asarray(out.convert("RGB"), dtype=np.uint8).copy(), []


NOVEL_INPUTS: dict[str, Callable[[np.random.Generator], tuple[RGB, list[SceneObject]]]] = {
    "novel_crack": novel_defect,
    "empty_belt": empty_belt,
    "foreign_object": foreign_object,
}
"""Every novel input by name: a generator of (frame, its ground-truth objects)."""
