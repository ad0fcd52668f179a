"""The boxes every evaluation compares: ground truth and predictions, in original-frame pixels.

One pair of types for the offline AP of :mod:`streams.evaluation.ap` and the readiness matching
of :mod:`streams.readiness.matching`.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Box", "PredictedBox", "TruthBox"]

Box = tuple[float, float, float, float]
"""``(x1, y1, x2, y2)``."""


@dataclass(frozen=True, slots=True)
class PredictedBox:
    """A predicted box with its class and confidence."""

    class_name: str
    confidence: float
    box: Box


@dataclass(frozen=True, slots=True)
class TruthBox:
    """A ground-truth box with its class."""

    class_name: str
    box: Box
