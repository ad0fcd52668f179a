"""Drift monitoring: per-frame signals, the lab reference, calibrated detectors, the monitor.

This package is the online runtime: detectors (their shared arithmetic in
:mod:`streams.drift.cusum`, their analytic thresholds in :mod:`streams.drift.thresholds`, each
line's prototypes in :mod:`streams.drift.line_detectors`), the monitor with its gap windows and
lighting mix, signals, partition state, product mix, causes, drift events, budget, reference.
The Monte-Carlo calibration and ``linewatch drift calibrate`` are in
:mod:`streams.drift.calibration`; they drive these detectors, vectorised (``det.paths(n)``),
and the runtime imports nothing from there.
See ``docs/drift.md`` for the method and its measured delays and false-alarm rates. The
detectors are River detectors (``river.base.DriftDetector`` / ``BinaryDriftDetector``); any
``river.drift`` class can replace them (:mod:`streams.drift.spec`).
"""

from __future__ import annotations

from streams.drift.detectors import BernoulliCusum, GaussianCusum
from streams.drift.events import MIX_MARKER, drift_event
from streams.drift.gap_window import OUTSIDE_LAB_RANGE
from streams.drift.lighting_mix import LIGHTING_MIX_SIGNAL
from streams.drift.monitor import DriftMonitor
from streams.drift.rate_cusum import RateCusum
from streams.drift.reference import ReferenceProfile, SignalReference
from streams.drift.signals import (
    ALL_SIGNALS,
    BINARY_SIGNALS,
    INPUT_SIGNALS,
    OUTPUT_SIGNALS,
    frame_signals,
    signal_kind,
)
from streams.drift.thresholds import (
    arl_per_side,
    bernoulli_threshold,
    gaussian_threshold,
    siegmund_arl,
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
]
