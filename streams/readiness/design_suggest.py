"""Which audit would narrow a slice's widest design-weighted interval most.

For the wider of a slice's FNR and FPR intervals, :func:`suggest` names the cell (score band)
where :data:`SUGGEST_STEP` more labels shrink the rate's linearised standard deviation most
(:mod:`streams.readiness.design` holds the cells and the rates).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
import numpy.typing as npt

if TYPE_CHECKING:
    from streams.readiness.design import DesignRate

__all__ = ["SUGGEST_STEP", "AuditSuggestion", "CellLike", "suggest"]

SUGGEST_STEP = 10
"""Labels per suggestion: "label 10 more units of this cell"."""


class CellLike(Protocol):
    """What a suggestion reads of a design cell."""

    band: str
    frames: int

    @property
    def labelled(self) -> int: ...

    @property
    def census(self) -> bool: ...

    def alpha(self, push: tuple[int, int] | None = None) -> npt.NDArray[np.float64]: ...

    def point(self) -> npt.NDArray[np.float64]: ...


@dataclass(frozen=True)
class AuditSuggestion:
    """Where ``units`` more labels would narrow a slice's widest interval most."""

    metric: str
    band: str
    units: int
    unlabelled: int
    sd_before: float
    sd_after: float

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def linear_sd(cells: Sequence[CellLike], num: int, other: int, extra: Mapping[int, int]) -> float:
    """Linearised standard deviation of ``num / (num + other)`` with ``extra[i]`` more labels in
    cell ``i`` (smoothed shares, so a cell without hits still counts)."""
    total = np.sum([c.point() for c in cells], axis=0)
    den = total[num] + total[other]
    if den <= 0:
        return 0.0
    ratio = total[num] / den
    var = 0.0
    for i, c in enumerate(cells):
        if c.census:
            continue
        share = c.alpha() / c.alpha().sum()
        resid = np.zeros(4)
        resid[num] = 1.0 - ratio
        resid[other] = -ratio
        mean = float(share @ resid)
        s2 = float(share @ (resid - mean) ** 2)
        n = min(c.labelled + extra.get(i, 0), c.frames)
        var += c.frames**2 * (1.0 - n / c.frames) * s2 / max(n, 1)
    return float(np.sqrt(var) / den)


def suggest(cells: Sequence[CellLike], fnr: DesignRate, fpr: DesignRate) -> AuditSuggestion | None:
    """The cell where :data:`SUGGEST_STEP` more labels shrink the wider interval's spread most."""
    metric, (num, other) = ("fnr", (2, 0))
    if (fpr.width or 0.0) > (fnr.width or 0.0):
        metric, (num, other) = ("fpr", (1, 3))
    before = linear_sd(cells, num, other, {})
    best: AuditSuggestion | None = None
    for i, c in enumerate(cells):
        unlabelled = c.frames - c.labelled
        if unlabelled <= 0:
            continue
        units = min(SUGGEST_STEP, unlabelled)
        after = linear_sd(cells, num, other, {i: units})
        if best is None or after < best.sd_after:
            best = AuditSuggestion(metric, c.band, units, unlabelled, before, after)
    return best
