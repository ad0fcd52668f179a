"""Drift event records, built in one place for every detector (frame signals, mixes, labels)."""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import UTC, datetime

from river import base

from schemas.records import DriftEventRecord, stable_id
from streams.drift.cause import attribute_signals
from streams.drift.spec import detector_label
from streams.slicing import SliceKey

__all__ = ["MIX_MARKER", "drift_event"]

MIX_MARKER = "*"
"""The ``lighting`` of mix drift events (lighting or product mix: all buckets of a line-shift)."""


def drift_event(
    key: SliceKey,
    signal: str,
    det: base.DriftDetector | base.BinaryDriftDetector,
    *,
    event_id: str,
    captured_at: datetime,
    events: int,
    scale: float = 1.0,
    offset: float = 0.0,
    inverse: Callable[[float], float] | None = None,
    suffix: str = "",
) -> DriftEventRecord:
    """The one place drift events are built: frame signals, lighting mix and labels (fnr/fpr).

    ``det`` has just alarmed. linewatch's CUSUMs report their statistic, threshold, direction
    and the baseline before / after the change point (in standardised units: ``scale`` and
    ``offset`` map them back, then ``inverse`` undoes a variance-stabilising transform, the
    std through a symmetric difference); River's other detectors do not, so those fields are
    NaN and the name is the class name. ``detector_params`` names class and parameters.
    """
    nan = math.nan
    stats = []
    for std_mean, std_std in (
        (getattr(det, "before_mean", nan), getattr(det, "before_std", nan)),
        (getattr(det, "after_mean", nan), getattr(det, "after_std", nan)),
    ):
        m, s = std_mean * scale + offset, std_std * scale
        if inverse is not None and m == m:  # noqa: PLR0124 - NaN test
            m, s = inverse(m), abs(inverse(m + s) - inverse(m - s)) / 2.0
        stats.append((m, s))
    (before_mean, before_std), (after_mean, after_std) = stats
    name = getattr(det, "name", type(det).__name__)
    direction = getattr(det, "direction", "")
    detector = f"{name}{suffix}:{direction}" if direction else f"{name}{suffix}"
    threshold = getattr(det, "h", getattr(det, "threshold", nan))
    # The signal's own cause; the pipeline refines it from the alarms that moved with it.
    cause, evidence = attribute_signals(signal, ())
    return DriftEventRecord(
        drift_id=stable_id(key.line_id, key.lighting, key.shift, signal, detector, event_id),
        line_id=key.line_id,
        shift=key.shift,
        lighting=key.lighting,
        signal=signal,
        detector=detector,
        detector_params=detector_label(det),
        detected_at=captured_at.astimezone(UTC),
        trigger_event_id=event_id,
        statistic=float(getattr(det, "statistic", nan)),
        threshold=float(threshold),
        events_in_slice=events,
        before_mean=before_mean,
        before_std=before_std,
        after_mean=after_mean,
        after_std=after_std,
        cause=cause,
        evidence=evidence,
    )
