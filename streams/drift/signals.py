"""The per-frame signals that drift monitoring watches.

Input signals describe the image (what the camera sees); output signals describe what the
detector says. Binary signals (0/1 per frame) are tested with a Bernoulli CUSUM, all others with
a Gaussian self-starting CUSUM (see :mod:`streams.drift.detectors`).

>>> from streams.features import ImageStats
>>> from schemas.results import Detection
>>> stats = ImageStats(0.5, 0.2, 0.1, 0.0, 6500.0, 0.0, 0.0)
>>> dets = [Detection(class_name="dent", confidence=0.3, box=(0, 0, 5, 5))]
>>> s = frame_signals(stats, dets, operating_threshold=0.6, review_band=(0.15, 0.5))
>>> s["max_confidence"], s["detections_per_frame"], s["predicted_defective"], s["review_band"]
(0.3, 0.0, 0.0, 1.0)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from schemas.results import Detection
from streams.features import ImageStats

__all__ = [
    "ALL_SIGNALS",
    "BINARY_SIGNALS",
    "INPUT_SIGNALS",
    "OUTPUT_SIGNALS",
    "SignalKind",
    "frame_signals",
    "signal_kind",
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
ALL_SIGNALS: tuple[str, ...] = INPUT_SIGNALS + OUTPUT_SIGNALS
BINARY_SIGNALS: frozenset[str] = frozenset({"predicted_defective", "review_band"})


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
