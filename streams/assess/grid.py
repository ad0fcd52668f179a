"""The dense grid of global conditions: many levels of a lamp's gain and of a lens's defocus.

The corruption suite's severities (1, 3, 5) sample each corruption at three points; between
them a detector's recall can fall off a cliff (a lamp at 55 % light: recall 0.92; at 30 %:
0.05). The label-free estimate re-weights the lab frames to a production window's image
statistics (:mod:`streams.estimation.shift`), so it can only be as fine as the conditions the
lab frames were seen under. The grid renders the lab frames at many levels of the two global
changes a line camera meets most, each level a fixed step from the last:

- ``gain``: every channel times a gain, 16 levels from 1.6 down to 0.2 (each 13 % below the
  last): a brighter or dimmer lamp, or a sensor that darkens without the lux sensor seeing it;
- ``defocus``: a Gaussian blur, 8 levels of radius from 0.5 to 4 px (each 35 % wider).

The levels are spaced evenly in log scale over the whole range a camera can meet, not placed
at any line's condition. The grid's frames are stored with their truth, scores and image
statistics in ``lab_eval`` (``corruption`` = ``gain`` / ``defocus``, ``severity`` = the level's
number from 1) for the estimator; they are not summarised in ``corruption_results`` (the
report's robustness table keeps the suite's severities).

>>> [round(v, 3) for v in GRID["gain"][:3]], len(GRID["gain"]), len(GRID["defocus"])
([1.6, 1.393, 1.213], 16, 8)
>>> [c.corruption for c in grid_conditions(40)][:2], grid_conditions(40)[0].index
(['gain', 'gain'], 40)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from streams.assess.corruptions import blurred, scaled

__all__ = ["GRID", "GRID_VERSION", "GridCondition", "apply_grid", "grid_conditions"]


def _geometric(first: float, last: float, levels: int) -> tuple[float, ...]:
    return tuple(float(first * (last / first) ** (i / (levels - 1))) for i in range(levels))


GRID: dict[str, tuple[float, ...]] = {
    "gain": _geometric(1.6, 0.2, 16),
    "defocus": _geometric(0.5, 4.0, 8),
}
"""Per grid condition, its parameter at each level (``severity`` ``i`` is level ``i - 1``)."""

GRID_VERSION = 1
"""Part of the suite's run id: a changed grid is a new assessment."""


@dataclass(frozen=True)
class GridCondition:
    """One level of the grid, numbered after the suite's conditions."""

    index: int
    kind: str  # always "grid"
    corruption: str
    severity: int

    @property
    def parameter(self) -> float:
        """The gain or the blur radius of this level."""
        return GRID[self.corruption][self.severity - 1]


def grid_conditions(first_index: int) -> list[GridCondition]:
    """Every level of :data:`GRID`, indexed from ``first_index``."""
    out: list[GridCondition] = []
    for name, levels in GRID.items():
        for level in range(1, len(levels) + 1):
            out.append(GridCondition(first_index + len(out), "grid", name, level))
    return out


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
    raise ValueError(f"unknown grid condition {cond.corruption!r}; choose from {', '.join(GRID)}")
