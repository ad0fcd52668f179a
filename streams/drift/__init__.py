"""Drift monitoring: per-frame signals, the lab reference, calibrated detectors, the monitor.

See ``docs/drift.md`` for the method and its measured delays and false-alarm rates. The
detectors are River detectors (``river.base.DriftDetector`` / ``BinaryDriftDetector``); any
``river.drift`` class can replace them (:mod:`streams.drift.spec`).
"""

from __future__ import annotations

from streams.drift.calibration import (
    arl_per_side,
    bernoulli_threshold,
    gaussian_threshold,
    siegmund_arl,
    simulate_arl,
)
from streams.drift.detectors import BernoulliCusum, GaussianCusum, RateCusum
from streams.drift.monitor import (
    LIGHTING_MIX_SIGNAL,
    MIX_MARKER,
    OUTSIDE_LAB_RANGE,
    DriftMonitor,
    drift_event,
)
from streams.drift.reference import ReferenceProfile, SignalReference
from streams.drift.signals import (
    ALL_SIGNALS,
    BINARY_SIGNALS,
    INPUT_SIGNALS,
    OUTPUT_SIGNALS,
    frame_signals,
    signal_kind,
)

__all__ = [
    "ALL_SIGNALS",
    "BINARY_SIGNALS",
    "INPUT_SIGNALS",
    "LIGHTING_MIX_SIGNAL",
    "MIX_MARKER",
    "OUTPUT_SIGNALS",
    "OUTSIDE_LAB_RANGE",
    "BernoulliCusum",
    "DriftMonitor",
    "GaussianCusum",
    "RateCusum",
    "ReferenceProfile",
    "SignalReference",
    "arl_per_side",
    "bernoulli_threshold",
    "drift_event",
    "frame_signals",
    "gaussian_threshold",
    "siegmund_arl",
    "signal_kind",
    "simulate_arl",
]
