"""Colour temperature from the red/blue balance of a frame.

The mapping is a table of blackbody (Planckian) illuminants: for each temperature T the
chromaticity (Kim et al. cubic approximation of the Planckian locus) is converted to XYZ, then
to linear sRGB, scaled to a 0.8 peak and sRGB gamma-encoded. ``ln(R/B)`` of the encoded values is
tabulated against the reciprocal temperature in mired (1e6/T); between table points the mired
value is interpolated linearly in ``ln(R/B)``, beyond them the end segments are extrapolated,
and the result is clipped to 1500..15000 K. A neutral grey (R = B) maps to ~6500 K (D65).

This assumes the scene is on average neutral (grey-world); coloured products bias the estimate,
but a *change* of the estimate on a fixed product still tracks a change of the light.

>>> round(colour_temp_from_rb(100.0, 100.0), -2)
6500.0
>>> colour_temp_from_rb(250.0, 1.0), colour_temp_from_rb(10.0, 250.0)
(1500.0, 15000.0)
>>> colour_temp_from_rb(150.0, 100.0) < colour_temp_from_rb(100.0, 100.0)
True
"""

from __future__ import annotations

import math
from bisect import bisect_right

__all__ = ["MAX_TEMP_K", "MIN_TEMP_K", "colour_temp_from_rb"]

MIN_TEMP_K = 1500.0
MAX_TEMP_K = 15000.0

# (ln(R/B) of the gamma-encoded blackbody white, temperature in K), ascending in ln(R/B).
_TABLE: tuple[tuple[float, float], ...] = (
    (-0.347, 15000.0),
    (-0.285, 12000.0),
    (-0.220, 10000.0),
    (-0.118, 8000.0),
    (0.003, 6500.0),
    (0.206, 5000.0),
    (0.437, 4000.0),
    (0.610, 3500.0),
    (0.853, 3000.0),
    (1.252, 2500.0),
    (2.516, 2000.0),
)
_LOG_RB = tuple(p[0] for p in _TABLE)
_MIRED = tuple(1e6 / p[1] for p in _TABLE)


def colour_temp_from_rb(mean_r: float, mean_b: float) -> float:
    """Estimated correlated colour temperature (K) from the mean red and blue channel values."""
    lr = math.log(max(mean_r, 0.5) / max(mean_b, 0.5))
    i = min(max(bisect_right(_LOG_RB, lr), 1), len(_LOG_RB) - 1)
    x0, x1 = _LOG_RB[i - 1], _LOG_RB[i]
    m0, m1 = _MIRED[i - 1], _MIRED[i]
    mired = m0 + (m1 - m0) * (lr - x0) / (x1 - x0)
    if mired <= 1e6 / MAX_TEMP_K:
        return MAX_TEMP_K
    return min(max(1e6 / mired, MIN_TEMP_K), MAX_TEMP_K)
