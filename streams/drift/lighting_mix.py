"""Lighting mix: per line and shift, one binary detector per lighting bucket watching its share.

A lighting change moves events *between* slices (from "normal" to "dim"), which the per-slice
detectors see only as one slice going quiet and another starting. So for each (line, shift)
:class:`LightingMixWatch` keeps one clone of the line's binary prototype per lighting bucket,
updated with "this event is in bucket b"; its alarms have signal ``lighting_mix``, lighting
``*`` and the bucket in the detector name (``bernoulli-cusum[dim]:up``). Per shift, not per line:
the shifts of a line legitimately see different light (daylight vs night). These detectors count
in the line's detectors per frame (the false-alarm budget), unlike the product mix
(:mod:`streams.drift.product_mix`).

State is bounded like the monitor's slices: a line-shift idle for ``drift.slice_idle_s`` of
event time is evicted (the ``cutoff`` of :meth:`LightingMixWatch.observe`), and at most
``max_groups`` are kept, least recently seen first out. It is part of the monitor's snapshot
(``mix``).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from datetime import datetime

from schemas.records import DriftEventRecord
from streams.drift.events import MIX_MARKER, drift_event
from streams.drift.line_detectors import (
    LinePrototypes,
    SliceDetector,
    load_detector,
    snapshot_detector,
)
from streams.drift.state import MixSnapshot
from streams.errors import ConfigError
from streams.slicing import SliceKey

__all__ = ["LIGHTING_MIX_SIGNAL", "LightingMixWatch", "LineShift"]

LIGHTING_MIX_SIGNAL = "lighting_mix"
"""Signal of lighting-mix drift events."""


LineShift = tuple[str, str]
"""``(line_id, shift)``: what a group of mix detectors watches (a plain tuple: it is built for
every frame, and a NamedTuple's constructor costs ~10x a tuple display)."""


class _Group:
    __slots__ = ("detectors", "events", "last_seen")

    def __init__(self, detectors: list[SliceDetector], now: datetime) -> None:
        self.detectors = detectors
        self.events = 0
        self.last_seen = now


class LightingMixWatch:
    """Watches the lighting-bucket shares of every line and shift."""

    def __init__(
        self, prototypes: LinePrototypes, buckets: Sequence[str], *, max_groups: int
    ) -> None:
        self._prototypes = prototypes
        self._buckets = tuple(buckets)
        self._max_groups = max_groups
        self._groups: OrderedDict[LineShift, _Group] = OrderedDict()

    def _new(self, line_id: str, now: datetime) -> _Group:
        proto = self._prototypes.of(line_id).binary
        return _Group([proto.clone() for _ in self._buckets], now)

    def observe(
        self, key: SliceKey, event_id: str, captured_at: datetime, cutoff: datetime
    ) -> list[DriftEventRecord]:
        """Count one frame of ``key.lighting`` in its line-shift; return the alarms it raised.

        First the line-shifts last seen before ``cutoff`` (and any beyond ``max_groups``) are
        dropped: the monitor's eviction of idle slices.
        """
        groups = self._groups
        while groups and (
            len(groups) > self._max_groups or next(iter(groups.values())).last_seen < cutoff
        ):
            groups.popitem(last=False)
        at = (key.line_id, key.shift)
        group = self._groups.get(at)
        if group is None:
            group = self._groups[at] = self._new(key.line_id, captured_at)
            if len(self._groups) > self._max_groups:
                self._groups.popitem(last=False)
        else:
            self._groups.move_to_end(at)
        group.last_seen = max(group.last_seen, captured_at)
        group.events += 1
        out: list[DriftEventRecord] = []
        lighting = key.lighting
        for bucket, det in zip(self._buckets, group.detectors, strict=True):
            det.update(lighting == bucket)
            if det._drift_detected:  # River stores the property here (river.base.drift_detector)
                out.append(
                    drift_event(
                        SliceKey(key.line_id, MIX_MARKER, key.shift),
                        LIGHTING_MIX_SIGNAL,
                        det,
                        event_id=event_id,
                        captured_at=captured_at,
                        events=group.events,
                        suffix=f"[{bucket}]",
                    )
                )
        return out

    def snapshot(self) -> list[dict[str, object]]:
        """Every line-shift's detectors as plain dicts with :class:`MixSnapshot`'s field names,
        least recently seen first."""
        out: list[dict[str, object]] = []
        for (line_id, shift), group in self._groups.items():
            label = self._prototypes.of(line_id).binary_label
            out.append(
                {
                    "line_id": line_id,
                    "shift": shift,
                    "detectors": [snapshot_detector(d, label) for d in group.detectors],
                    "events": group.events,
                    "last_seen": group.last_seen.isoformat(),
                }
            )
        return out

    def load(self, groups: list[MixSnapshot]) -> int:
        """Put :meth:`snapshot`'s state into this (fresh) watch; returns how many detectors
        start cold (their class or parameters changed, or River keeps no typed state)."""
        cold = 0
        for snap in groups:
            label = self._prototypes.of(snap.line_id).binary_label
            group = self._new(snap.line_id, snap.last_seen)
            if len(snap.detectors) != len(group.detectors):
                raise ConfigError("the drift snapshot has other lighting buckets; delete it")
            for det, ds in zip(group.detectors, snap.detectors, strict=True):
                cold += not load_detector(det, ds, label)
            group.events = snap.events
            self._groups[(snap.line_id, snap.shift)] = group
        return cold
