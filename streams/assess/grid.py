"""The dense grid of global conditions: many levels of a lamp's gain and of a lens's defocus.

The corruption suite's severities (1, 3, 5) sample each corruption at three points; between
them a detector's recall can fall off a cliff (a lamp at 55 % light: recall 0.92; at 30 %:
0.05). The label-free estimate re-weights the lab frames to a production window's image
statistics (:mod:`streams.estimation.shift`), so it can only be as fine as the conditions the
lab frames were seen under. The grid renders the lab frames at many levels of the two global
changes a line camera meets most, each level a fixed step from the last:

- ``gain``: every channel times a gain, 16 levels from 1.6 down to 0.2 (each 13 % below the
  last): a brighter or dimmer lamp, or a sensor that darkens without the lux sensor seeing it;
- ``defocus``: a Gaussian blur, 8 levels of radius from 0.5 to 4 px (each 35 % wider);
- ``gain+defocus`` (:data:`COMPOSED`): both at once, every gain level with every defocus level
  from 1.2 px on (80 cells), each on a deterministic eighth of the frames
  (:func:`composed_frames`).

The levels are spaced evenly in log scale over the whole range a camera can meet, not placed
at any line's condition. The composed cells exist because the two do not act apart: on the
second world of the tests a 3 px blur leaves recall at 0.78 in full light and 0.53 at half
light, which neither the lab's blurred frames (lab light) nor its darkened ones (sharp)
show (docs/estimation.md). Blurs below 1.2 px are not composed
(:data:`COMPOSED_FIRST_DEFOCUS`). A cell renders an eighth of the frames (about 38 of 300),
so the 80 cells add about 3,000 frames where all of them would add 24,000; a window's frames
match the lab frames of the few cells around their own brightness and focus.

The grid's frames are stored with their truth, scores and image statistics in ``lab_eval``
(``corruption`` = ``gain`` / ``defocus`` / ``gain+defocus``, ``severity`` = the level's
number from 1, a cell's ``(gain level - 1) * 8 + defocus level``) for the estimator; they
are not summarised in ``corruption_results`` (the report's robustness table keeps the
suite's severities).

>>> [round(v, 3) for v in GRID["gain"][:3]], len(GRID["gain"]), len(GRID["defocus"])
([1.6, 1.393, 1.213], 16, 8)
>>> [c.corruption for c in grid_conditions(40)][:2], grid_conditions(40)[0].index
(['gain', 'gain'], 40)
>>> cell = grid_conditions(0)[-1]
>>> cell.corruption, cell.severity, cell.levels, [round(v, 2) for v in cell.parameters]
('gain+defocus', 128, (16, 8), [0.2, 4.0])
>>> len(composed_frames(cell, 300, seed=0)), composed_frames(cell, 300, seed=0)[:3]
(38, [21, 31, 36])
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from streams.assess.corruptions import blurred, scaled

__all__ = [
    "COMPOSED",
    "COMPOSED_FIRST_DEFOCUS",
    "COMPOSED_SHARE",
    "GRID",
    "GRID_VERSION",
    "GridCondition",
    "apply_grid",
    "composed_frames",
    "grid_conditions",
]


def _geometric(first: float, last: float, levels: int) -> tuple[float, ...]:
    return tuple(float(first * (last / first) ** (i / (levels - 1))) for i in range(levels))


GRID: dict[str, tuple[float, ...]] = {
    "gain": _geometric(1.6, 0.2, 16),
    "defocus": _geometric(0.5, 4.0, 8),
}
"""Per grid condition, its parameter at each level (``severity`` ``i`` is level ``i - 1``)."""

COMPOSED = "gain+defocus"
"""The composed grid condition: a gain level, then a defocus level, on the same frame."""

COMPOSED_FIRST_DEFOCUS = 4
"""The first defocus level (1.2 px) a composed cell uses: a slighter blur barely moves the
detail ratio out of the clean lab's band, so sharp dimmed windows would match dim cells that
are slightly blurred (on bench seed 100 a darkened window read 0.662 for a realized 0.814
with every level composed, 0.774 without cells)."""

COMPOSED_SHARE = 8
"""A composed cell renders one in this many of the lab frames (:func:`composed_frames`)."""

GRID_VERSION = 2
"""Part of the suite's run id: a changed grid is a new assessment (2: the composed cells)."""


@dataclass(frozen=True)
class GridCondition:
    """One level of the grid, numbered after the suite's conditions."""

    index: int
    kind: str  # always "grid"
    corruption: str
    severity: int

    @property
    def parameter(self) -> float:
        """The gain or the blur radius of this level (not of a composed cell)."""
        return GRID[self.corruption][self.severity - 1]

    @property
    def levels(self) -> tuple[int, ...]:
        """The level (from 1) of each condition this one applies: ``(severity,)``, or for a
        composed cell its gain level and its defocus level."""
        if self.corruption != COMPOSED:
            return (self.severity,)
        per = len(GRID["defocus"])
        return (self.severity - 1) // per + 1, (self.severity - 1) % per + 1

    @property
    def parameters(self) -> tuple[float, ...]:
        """The gain and / or blur radius this condition applies, in :attr:`levels` order."""
        if self.corruption != COMPOSED:
            return (self.parameter,)
        gain, radius = self.levels
        return GRID["gain"][gain - 1], GRID["defocus"][radius - 1]


def grid_conditions(first_index: int) -> list[GridCondition]:
    """Every level of :data:`GRID`, then every composed cell (:data:`COMPOSED`), indexed from
    ``first_index``."""
    out: list[GridCondition] = []
    for name, levels in GRID.items():
        for level in range(1, len(levels) + 1):
            out.append(GridCondition(first_index + len(out), "grid", name, level))
    per = len(GRID["defocus"])
    for cell in range(1, len(GRID["gain"]) * per + 1):
        if (cell - 1) % per + 1 >= COMPOSED_FIRST_DEFOCUS:
            out.append(GridCondition(first_index + len(out), "grid", COMPOSED, cell))
    return out


def composed_frames(cond: GridCondition, frames: int, *, seed: int) -> list[int]:
    """The indices of the ``frames`` lab frames a grid condition renders: all of them, or for
    a composed cell ``ceil(frames / COMPOSED_SHARE)`` of them drawn without replacement from
    ``(seed, cell)`` (so every frame lands in about one cell in :data:`COMPOSED_SHARE`, each
    cell holds a mix of the lab's scenes, and the same seed gives the same frames).

    >>> composed_frames(GridCondition(0, "grid", "gain", 3), 4, seed=0)
    [0, 1, 2, 3]
    """
    if cond.corruption != COMPOSED or frames <= 0:
        return list(range(frames))
    size = -(-frames // COMPOSED_SHARE)
    rng = np.random.default_rng([seed, 0x6D, cond.severity])
    return sorted(int(i) for i in rng.choice(frames, size, replace=False))


def apply_grid(cond: GridCondition, rgb: NDArray[np.uint8]) -> NDArray[np.uint8]:
    """The frame under the grid condition ``cond`` (deterministic; ``rgb`` is not modified).

    >>> frame = np.full((4, 4, 3), 200, np.uint8)
    >>> int(apply_grid(GridCondition(0, "grid", "gain", 16), frame)[0, 0, 0])
    40
    """
    if cond.corruption == "gain":
        return scaled(rgb, cond.parameter)
    if cond.corruption == "defocus":
        return blurred(rgb, cond.parameter)
    if cond.corruption == COMPOSED:
        gain, radius = cond.parameters
        return blurred(scaled(rgb, gain), radius)
    raise ValueError(
        f"unknown grid condition {cond.corruption!r}; choose from {', '.join(GRID)}, {COMPOSED}"
    )
