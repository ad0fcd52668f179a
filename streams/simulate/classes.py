"""Defect classes of the simulated plant.

>>> TRAINED_CLASSES
('scratch', 'dent', 'stain')
>>> NOVEL_CLASSES
('crack',)
"""

from __future__ import annotations

__all__ = ["ALL_CLASSES", "NOVEL_CLASSES", "TRAINED_CLASSES"]

TRAINED_CLASSES: tuple[str, ...] = ("scratch", "dent", "stain")
"""Classes in the lab data the detector is trained on (in this order)."""
NOVEL_CLASSES: tuple[str, ...] = ("crack",)
"""Classes that never appear in the lab split: a new failure mode on the line."""
ALL_CLASSES: tuple[str, ...] = TRAINED_CLASSES + NOVEL_CLASSES
