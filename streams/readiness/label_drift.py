"""Label-driven drift: "this slice now misses defects" (``fnr``) or "flags good units" (``fpr``).

Once labels are reconciled (``frame_outcomes``), every labelled production unit feeds binary
detectors in capture order: its slice's (line x lighting x shift) and its line's
(``lighting = shift = "*"``, which sees enough units when a line-wide change is spread over
several slices). Every labelled *defect* (ground-truth box) updates the ``fnr`` detector of
its class with "missed?" (class-aware, as the per-class FNR: a novel ``crack`` boxed as a
``scratch`` is still a missed crack, though the unit was pulled; the class is in the
detector name, ``rate-cusum[crack]:up``); every labelled *good* unit updates the ``fpr``
detectors with "flagged?". Each labelled item updates one stream, so per-class streams cost no
extra false alarms. An alarm is a
:class:`~schemas.records.DriftEventRecord` with signal ``fnr`` / ``fpr`` in ``drift_events``,
built by the same :func:`~streams.drift.events.drift_event` as every other drift event.

Detector (``LINEWATCH_DRIFT__LABEL_DETECTOR``): ``cusum`` (default) is a
:class:`~streams.drift.rate_cusum.RateCusum` against the in-control rates the model showed in
the lab (``drift.label_fnr`` 0.05: the shipped model's lab recall is 0.95-1.0 per class;
``drift.label_fpr`` 0.02), alarming when the odds rise x4. River's self-referenced binary
detectors (DDM, HDDM_A/W, FHDDM) need dozens of outcomes of the slice's own baseline before
they can alarm, while a slice sees a few labelled defects per shift (measured: with 12
outcomes at 7% before a jump to 50%, they missed 80-100% of the jumps); any
``river.drift.binary`` class can still be configured. Threshold: the line-week budget (its
own, the same ``drift.false_alarms_per_line_week``) spread over the label updates a line can make:
two streams (fnr, fpr), two detectors each (slice, line), at most one labelled item per frame:
``h = ln(4 x frames per week / budget)`` (Lorden's bound), 14.7 at 1 frame/s.

The detectors are replayed from the first labelled unit on every run, so the events do not
depend on how the labels were batched (ids are stable: a replay writes the same rows).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from river import base

from schemas.records import DriftEventRecord
from streams.config import LineConfig, Settings
from streams.drift.events import MIX_MARKER, drift_event
from streams.drift.rate_cusum import RateCusum
from streams.drift.spec import parse_detector_spec
from streams.drift.thresholds import SECONDS_PER_WEEK
from streams.sinks import ClickHouseStore
from streams.sinks.reads.label_drift import production_outcomes
from streams.slicing import SliceKey

__all__ = [
    "FNR_SIGNAL",
    "FPR_SIGNAL",
    "LabelledUnit",
    "detect_label_drift",
    "label_detector",
    "label_drift_events",
    "label_rate",
]

FNR_SIGNAL = "fnr"
FPR_SIGNAL = "fpr"
ODDS_RATIO = 4.0


@dataclass(frozen=True)
class LabelledUnit:
    """One reconciled production unit."""

    event_id: str
    line_id: str
    shift: str
    lighting: str
    captured_at: datetime
    gt_defective: bool
    pred_defective: bool
    gt_matched: tuple[bool, ...] = ()
    """Per ground-truth defect: was it found (class-aware, IoU >= 0.5)?"""
    gt_classes: tuple[str, ...] = ()
    """Per ground-truth defect: its class."""


def label_rate(settings: Settings, line_id: str) -> float:
    """False alarms per label update the label detectors of this line are calibrated for.

    >>> round(label_rate(Settings(), "line-1") * 4 * 604_800, 6)
    1.0
    """
    fixed = settings.drift.false_alarms_per_event
    if fixed is not None:
        return fixed
    fps = (settings.plant.lines.get(line_id) or LineConfig()).frame_rate
    return min(settings.drift.false_alarms_per_line_week / (4.0 * fps * SECONDS_PER_WEEK), 0.5)


def label_detector(
    settings: Settings, signal: str, line_id: str
) -> base.BinaryDriftDetector | base.DriftDetector:
    """A fresh detector for the ``fnr`` or ``fpr`` stream of one slice of ``line_id``."""
    spec = parse_detector_spec(settings.drift.label_detector, binary=True)
    if not spec.is_cusum:
        return spec.build()
    p0 = settings.drift.label_fnr if signal == FNR_SIGNAL else settings.drift.label_fpr
    h = math.log(1.0 / label_rate(settings, line_id))
    return RateCusum(p0=p0, odds_ratio=ODDS_RATIO, h=h)


_Slot = tuple[SliceKey, str, str]
"""(slice, signal, defect class or "")."""


def label_drift_events(units: Iterable[LabelledUnit], settings: Settings) -> list[DriftEventRecord]:
    """Feed the units (in capture order) to their slice's and line's detectors; the alarms."""
    detectors: dict[_Slot, base.BinaryDriftDetector | base.DriftDetector] = {}
    counts: dict[_Slot, int] = {}
    out: list[DriftEventRecord] = []
    for unit in units:
        if unit.gt_defective:
            items = [
                (FNR_SIGNAL, cls, not found)
                for cls, found in zip(unit.gt_classes, unit.gt_matched, strict=True)
            ]
        else:
            items = [(FPR_SIGNAL, "", unit.pred_defective)]
        for key in (
            SliceKey(unit.line_id, unit.lighting, unit.shift),
            SliceKey(unit.line_id, MIX_MARKER, MIX_MARKER),
        ):
            for signal, cls, wrong in items:
                slot = (key, signal, cls)
                det = detectors.get(slot)
                if det is None:
                    det = detectors[slot] = label_detector(settings, signal, unit.line_id)
                det.update(wrong)
                counts[slot] = counts.get(slot, 0) + 1
                if det.drift_detected:
                    out.append(
                        drift_event(
                            key,
                            signal,
                            det,
                            event_id=unit.event_id,
                            captured_at=unit.captured_at,
                            events=counts[slot],
                            suffix=f"[{cls}]" if cls else "",
                        )
                    )
    return out


def _bools(values: Iterable[object]) -> tuple[bool, ...]:
    return tuple(bool(v) for v in values)


def detect_label_drift(store: ClickHouseStore, settings: Settings, threshold: float) -> int:
    """Replay every reconciled unit at ``threshold`` through the label detectors; store alarms."""
    rows = production_outcomes(store, threshold)
    units = (
        LabelledUnit(
            str(e),
            str(line),
            str(shift),
            str(light),
            at,
            bool(gt),
            bool(pred),
            _bools(matched),
            tuple(str(c) for c in classes),
        )
        for e, line, shift, light, at, gt, pred, matched, classes in rows
    )
    events = label_drift_events(units, settings)
    if events:
        store.insert(events)
    return len(events)
