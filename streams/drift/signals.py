"""The per-frame signals that drift monitoring watches.

Input signals describe the image (what the camera sees); output signals describe what the
detector says. Binary signals (0/1 per frame) are tested with a Bernoulli CUSUM, all others with
a Gaussian self-starting CUSUM (see :mod:`streams.drift.detectors`). Skewed signals are first
mapped by a variance-stabilising transform (:data:`STABILISERS`): the arcsine square root for
proportions in [0, 1] (clipped-pixel fractions, the top confidence); the count of detections
per frame by a *randomised probability integral transform* against its lab distribution
(Dunn & Smyth's randomised quantile residual: ``z = Phi^-1(F(x-) + v p(x))``, ``v`` uniform
from a hash of the event id, so replays are identical), which turns the 4-valued count into a
continuous N(0, 1) score under the lab distribution. Their Gaussian CUSUM sees the transformed
values.

>>> from streams.features import ImageStats
>>> from schemas.results import Detection
>>> stats = ImageStats(0.5, 0.2, 0.1, 0.0, 6500.0, 0.0, 0.0)
>>> dets = [Detection(class_name="dent", confidence=0.3, box=(0, 0, 5, 5))]
>>> s = frame_signals(stats, dets, operating_threshold=0.6, review_band=(0.15, 0.5))
>>> s["max_confidence"], s["detections_per_frame"], s["predicted_defective"], s["review_band"]
(0.3, 0.0, 0.0, 1.0)
"""

from __future__ import annotations

import math
import zlib
from bisect import bisect_right
from collections.abc import Callable, Sequence
from statistics import NormalDist
from typing import Literal

import numpy as np

from schemas.results import Detection
from streams.drift.reference import SignalReference
from streams.features import ImageStats

__all__ = [
    "ALL_SIGNALS",
    "BINARY_SIGNALS",
    "CAMERA_SIGNALS",
    "INPUT_SIGNALS",
    "OUTPUT_SIGNALS",
    "PIT_SIGNALS",
    "STABILISERS",
    "RandomisedPit",
    "SignalKind",
    "Stabiliser",
    "detector_scale",
    "frame_signals",
    "pit_of",
    "signal_kind",
    "stabiliser",
    "uniform_of",
]

SignalKind = Literal["gaussian", "bernoulli"]

INPUT_SIGNALS: tuple[str, ...] = (
    "brightness",
    "contrast",
    "sharpness",
    "colour_cast",
    "est_colour_temp_k",
    "clipped_high",
    "clipped_low",
)
OUTPUT_SIGNALS: tuple[str, ...] = (
    "max_confidence",
    "detections_per_frame",
    "predicted_defective",
    "review_band",
)
CAMERA_SIGNALS: tuple[str, ...] = ("frame_change", "repeated_frame", "static_share", "detail_ratio")
"""Camera-health signals (:mod:`streams.features.camera_health`): per camera, against its
previous frame; absent for a camera's first frame and for sources without camera history."""
ALL_SIGNALS: tuple[str, ...] = INPUT_SIGNALS + OUTPUT_SIGNALS + CAMERA_SIGNALS
BINARY_SIGNALS: frozenset[str] = frozenset({"predicted_defective", "review_band", "repeated_frame"})


class Stabiliser:
    """A variance-stabilising transform, its inverse and a vectorised form.

    >>> arcsine = STABILISERS["clipped_high"]
    >>> round(arcsine.inverse(arcsine(0.25)), 12), round(arcsine(1.0), 4)
    (0.25, 1.5708)
    """

    def __init__(
        self,
        name: str,
        forward: Callable[[float], float],
        inverse: Callable[[float], float],
        array: Callable[[np.ndarray], np.ndarray],
    ) -> None:
        self.name, self.forward, self.inverse, self.array = name, forward, inverse, array

    def __call__(self, x: float) -> float:
        return self.forward(x)

    def __repr__(self) -> str:
        return f"Stabiliser({self.name!r})"


_ARCSINE = Stabiliser(
    "arcsine",
    # x clipped to [0, 1] by conditionals: min(max(...)) costs more than the transform per frame
    lambda x: math.asin(math.sqrt(0.0 if x < 0.0 else 1.0 if x > 1.0 else x)),
    lambda y: math.sin(min(max(y, 0.0), math.pi / 2)) ** 2,
    lambda xs: np.arcsin(np.sqrt(np.clip(xs, 0.0, 1.0))),
)
STABILISERS: dict[str, Stabiliser] = {
    "clipped_high": _ARCSINE,
    "clipped_low": _ARCSINE,
    "max_confidence": _ARCSINE,
}
"""Skewed continuous signals and the transform their Gaussian CUSUM sees."""
PIT_SIGNALS: frozenset[str] = frozenset({"detections_per_frame"})
"""Discrete counts scored by a :class:`RandomisedPit` against the lab distribution."""

_NORMAL = NormalDist()
_U_LOW, _U_HIGH = 1e-12, 1.0 - 1e-12
"""The PIT's uniform is kept inside (0, 1)."""


def uniform_of(event_id: str, signal: str) -> float:
    """A uniform number in (0, 1) fixed by the event and the signal (replays are identical).

    >>> uniform_of("ev-1", "x") == uniform_of("ev-1", "x") != uniform_of("ev-2", "x")
    True
    """
    return (zlib.crc32(f"{signal}/{event_id}".encode()) + 0.5) / 4294967296.0


class RandomisedPit:
    """``z = Phi^-1(F(x-) + v p(x))`` for a discrete signal, lab bins ``edges``/``proportions``.

    >>> pit = RandomisedPit((0.5, 1.5), (0.5, 0.3, 0.2), (0.0,) * 50 + (1.0,) * 30 + (2.0,) * 19)
    >>> round(pit(0.0, 0.5), 4), round(pit(2.0, 0.5), 4), pit.inverse(-3.0)
    (-0.6745, 1.2816, 0.0)
    """

    def __init__(
        self, edges: Sequence[float], proportions: Sequence[float], quantiles: Sequence[float]
    ) -> None:
        self.edges = tuple(edges)
        total = float(sum(proportions))
        probs = [p / total for p in proportions]
        self.low = [sum(probs[:i]) for i in range(len(probs))]
        self.mass = probs
        self._levels = np.linspace(0.01, 0.99, len(quantiles))
        self._quantiles = np.asarray(quantiles, dtype=np.float64)

    def __call__(self, x: float, v: float) -> float:
        b = bisect_right(self.edges, x)
        u = self.low[b] + v * self.mass[b]
        return _NORMAL.inv_cdf(_U_LOW if u < _U_LOW else _U_HIGH if u > _U_HIGH else u)

    def array(self, xs: np.ndarray, vs: np.ndarray) -> np.ndarray:
        """Vectorised :meth:`__call__`."""
        from scipy.special import ndtri

        b = np.searchsorted(np.asarray(self.edges), xs, side="right")
        u = np.asarray(self.low)[b] + vs * np.asarray(self.mass)[b]
        return np.asarray(ndtri(np.clip(u, 1e-12, 1.0 - 1e-12)))

    def inverse(self, z: float) -> float:
        """The lab value at the score's quantile (for reporting means in raw units)."""
        return float(np.interp(_NORMAL.cdf(z), self._levels, self._quantiles))


def stabiliser(signal: str) -> Stabiliser | None:
    """The signal's variance-stabilising transform, or None (tested as it is)."""
    return STABILISERS.get(signal)


def detector_scale(signal: str, ref: SignalReference) -> tuple[float, float, Stabiliser | None]:
    """(centre, scale, transform) of what a Gaussian detector sees: ``(g(x) - centre) / scale``.

    Without a transform: the lab mean and std. With one: mean and std of the transformed lab
    percentiles (floored like the reference's std). Randomised-PIT signals: (0, 1, None), their
    scores are standard normal already (:func:`pit_of`).
    """
    if signal in PIT_SIGNALS:
        return 0.0, 1.0, None
    stab = stabiliser(signal)
    if stab is None:
        return ref.mean, ref.std, None
    values = stab.array(np.asarray(ref.quantiles, dtype=np.float64))
    centre = float(values.mean())
    scale = max(float(values.std(ddof=1)), 1e-3 * max(1.0, abs(centre)))
    return centre, scale, stab


def pit_of(signal: str, ref: SignalReference) -> RandomisedPit | None:
    """The randomised PIT of a discrete count signal, or None."""
    if signal not in PIT_SIGNALS:
        return None
    return RandomisedPit(ref.edges, ref.proportions, ref.quantiles)


def signal_kind(signal: str) -> SignalKind:
    """How a signal is tested: ``"bernoulli"`` for 0/1 signals, else ``"gaussian"``."""
    return "bernoulli" if signal in BINARY_SIGNALS else "gaussian"


def frame_signals(
    stats: ImageStats,
    detections: Sequence[Detection],
    operating_threshold: float,
    review_band: tuple[float, float],
) -> dict[str, float]:
    """All signals of one frame: its image statistics and its detector outputs.

    ``max_confidence`` is 0 without detections; ``detections_per_frame`` counts boxes at or above
    the operating threshold; ``predicted_defective`` is 1 when there is at least one;
    ``review_band`` is 1 when the top confidence lies in ``[low, high)`` (its mean over frames is
    the fraction of frames sent to review).
    """
    out = stats.as_dict()
    top = 0.0
    count = 0
    for det in detections:
        conf = det.confidence
        top = max(top, conf)
        if conf >= operating_threshold:
            count += 1
    low, high = review_band
    out["max_confidence"] = top
    out["detections_per_frame"] = float(count)
    out["predicted_defective"] = 1.0 if count else 0.0
    out["review_band"] = 1.0 if low <= top < high else 0.0
    return out
