"""A cause for every drift event: which team to call, from the signals that moved together.

A drift event concerns one signal of one slice. Whether it means "call maintenance" or "call the
ML team" depends on what else moved on the same line and shift at about the same time:

================  ===========================================================  ===================
cause             rule (first that matches, over the recent alarms of the line  whom to call
                  and shift, this one included)
================  ===========================================================  ===================
``labels``        the alarm is on a label-driven signal (``fnr``, ``fpr``)     ML team (review)
``camera``        a camera-health signal moved (frozen / repeated frames,      maintenance
                  occlusion), or sharpness / contrast moved while no
                  lighting signal did (focus loss, lens dirt, haze)
``lighting``      a lighting signal moved: brightness, colour temperature,     maintenance
                  colour cast, clipping, the lux / colour-temperature
                  sensors or the lighting-bucket mix
``product``       the product-variant mix moved                               process engineering
``model``         only model outputs moved (confidences, detections, flags,    ML team
                  estimated recall) while the inputs did not
``unknown``       anything else                                               ML team (triage)
================  ===========================================================  ===================

:class:`CauseAttributor` keeps, per line and shift, the alarms of the last ``window`` of event
time (default 2 hours: a camera fault or a lamp keeps explaining the output alarms that follow
it) and attributes each new alarm when it is raised (a later alarm of the same episode sees the
earlier ones). The ``evidence`` text names the signals that moved together. That memory is part
of the partition's snapshot (:class:`~streams.drift.state.CauseSnapshot`), so a restart or a
rebalance does not cut an episode in two.

>>> from datetime import UTC, datetime, timedelta
>>> a = CauseAttributor()
>>> t = datetime(2026, 1, 1, tzinfo=UTC)
>>> a.attribute("line-2", "night", "max_confidence", t)
('model', 'max_confidence moved while no input signal did')
>>> a.attribute("line-2", "night", "brightness", t + timedelta(minutes=2))
('lighting', 'lighting signals moved: brightness; together with max_confidence')
>>> a.attribute("line-1", "day", "sharpness", t)
('camera', 'sharpness moved at stable lighting (focus, lens dirt or haze)')
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Literal

from streams.drift.state import CauseSnapshot

__all__ = [
    "CAMERA_SIGNALS",
    "CAUSES",
    "LABEL_SIGNALS",
    "LIGHTING_SIGNALS",
    "OPTICS_SIGNALS",
    "OUTPUT_SIGNALS",
    "PRODUCT_SIGNALS",
    "WHOM_TO_CALL",
    "Cause",
    "CauseAttributor",
    "attribute_signals",
]

Cause = Literal["lighting", "camera", "product", "model", "labels", "unknown"]
CAUSES: tuple[Cause, ...] = ("lighting", "camera", "product", "model", "labels", "unknown")

WHOM_TO_CALL: dict[str, str] = {
    "lighting": "maintenance (lamps, light bank, shading)",
    "camera": "maintenance (camera: focus, lens, mount, stream)",
    "product": "process engineering (new variant or product change)",
    "model": "ML team (model behaviour changed on unchanged inputs)",
    "labels": "ML team (labelled outcomes got worse: review and retrain)",
    "unknown": "ML team (triage)",
}
"""The team each cause goes to, for ``linewatch drift`` and the report."""

LIGHTING_SIGNALS = frozenset(
    {
        "brightness",
        "est_colour_temp_k",
        "colour_cast",
        "clipped_high",
        "clipped_low",
        "sensor_lux",
        "sensor_colour_temp_k",
        "lighting_mix",
    }
)
OPTICS_SIGNALS = frozenset({"sharpness", "contrast"})
"""Moved alone at stable lighting: focus loss, lens dirt or haze."""
CAMERA_SIGNALS = frozenset({"frame_change", "repeated_frame", "static_share", "detail_ratio"})
"""Camera-health signals: any of them moving points at the camera itself."""
PRODUCT_SIGNALS = frozenset({"product_mix"})
OUTPUT_SIGNALS = frozenset(
    {
        "max_confidence",
        "detections_per_frame",
        "predicted_defective",
        "review_band",
        "estimated_recall",
    }
)
LABEL_SIGNALS = frozenset({"fnr", "fpr"})


def _names(signals: Iterable[str]) -> str:
    return ", ".join(sorted(signals))


def attribute_signals(signal: str, moved: Iterable[str]) -> tuple[Cause, str]:
    """The cause of an alarm on ``signal``, given every signal that ``moved`` with it.

    >>> attribute_signals("detections_per_frame", {"colour_cast", "est_colour_temp_k"})[0]
    'lighting'
    >>> attribute_signals("fnr", {"brightness"})
    ('labels', 'fnr from labelled outcomes')
    >>> attribute_signals("weird", set())
    ('unknown', 'weird: no rule names this signal')
    """
    together = set(moved) | {signal}
    others = together - {signal}
    tail = f"; together with {_names(others)}" if others else ""
    if signal in LABEL_SIGNALS:
        return "labels", f"{signal} from labelled outcomes"
    camera = together & CAMERA_SIGNALS
    if camera:
        return "camera", f"camera-health signals moved: {_names(camera)}{tail}"
    lighting = together & LIGHTING_SIGNALS
    optics = together & OPTICS_SIGNALS
    if optics and not lighting:
        return "camera", f"{_names(optics)} moved at stable lighting (focus, lens dirt or haze)"
    if lighting:
        rest = together - lighting
        extra = f"; together with {_names(rest)}" if rest else ""
        return "lighting", f"lighting signals moved: {_names(lighting)}{extra}"
    product = together & PRODUCT_SIGNALS
    if product:
        return "product", f"product-variant mix moved{tail}"
    outputs = together & OUTPUT_SIGNALS
    if outputs and outputs == together:
        return "model", f"{_names(outputs)} moved while no input signal did"
    return "unknown", f"{signal}: no rule names this signal{tail}"


class CauseAttributor:
    """Attributes alarms as they are raised, remembering recent alarms per line and shift."""

    def __init__(self, window: timedelta = timedelta(hours=2), max_alarms: int = 64) -> None:
        self._window = window
        self._max = max_alarms
        self._recent: dict[tuple[str, str], deque[tuple[datetime, str]]] = {}

    def attribute(
        self, line_id: str, shift: str, signal: str, detected_at: datetime
    ) -> tuple[Cause, str]:
        """Record this alarm and return its cause and evidence."""
        recent = self._recent.setdefault((line_id, shift), deque(maxlen=self._max))
        while recent and detected_at - recent[0][0] > self._window:
            recent.popleft()
        moved = {s for at, s in recent if abs(detected_at - at) <= self._window}
        recent.append((detected_at, signal))
        return attribute_signals(signal, moved)

    def snapshot(self) -> list[dict[str, object]]:
        """The remembered alarms as plain dicts with :class:`CauseSnapshot`'s field names."""
        return [
            {
                "line_id": line_id,
                "shift": shift,
                "alarms": [{"at": at.isoformat(), "signal": s} for at, s in recent],
            }
            for (line_id, shift), recent in self._recent.items()
        ]

    def load(self, memory: list[CauseSnapshot]) -> None:
        """Put :meth:`snapshot`'s alarms into this (fresh) attributor."""
        for snap in memory:
            recent = self._recent.setdefault((snap.line_id, snap.shift), deque(maxlen=self._max))
            recent.extend((a.at, a.signal) for a in snap.alarms)
