"""Per-slice drift monitoring: one detector per slice-signal, the lighting mix, the reference gap.

:class:`DriftMonitor` keeps, for every live slice (line x lighting x shift), one detector per
signal of the reference profile, created lazily from the line's prototypes
(:class:`~streams.drift.line_detectors.LinePrototypes`), and the slice's open reference-gap
window (:mod:`streams.drift.gap_window`: every ``drift.gap_window_events`` events of a slice,
each signal's PSI distance to the lab reference). For every (line, shift) its
:class:`~streams.drift.lighting_mix.LightingMixWatch` watches the lighting buckets' shares (a
lighting change moves events *between* slices, which the per-slice detectors alone would not
see). State is bounded: slices and line-shifts idle for ``drift.slice_idle_s`` of event time are
evicted, and at most ``drift.max_slices`` of each are kept (least recently used first out). See
``docs/drift.md``.
"""

from __future__ import annotations

import json
import logging
from collections import OrderedDict
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import NamedTuple

from schemas.records import DriftEventRecord, ReferenceGapRecord
from streams.config import Settings
from streams.drift.events import drift_event
from streams.drift.gap_window import GapWindow, ReferenceGaps
from streams.drift.lighting_mix import LightingMixWatch
from streams.drift.line_detectors import (
    LineDetectors,
    LinePrototypes,
    SliceDetector,
    load_detector,
    snapshot_detector,
)
from streams.drift.reference import ReferenceProfile
from streams.drift.signals import RandomisedPit, detector_scale, pit_of, signal_kind, uniform_of
from streams.drift.state import MonitorSnapshot, decode_monitor
from streams.errors import ConfigError
from streams.slicing import SliceKey

__all__ = ["DriftMonitor", "MonitoredSignal"]

log = logging.getLogger(__name__)

Record = DriftEventRecord | ReferenceGapRecord


class MonitoredSignal(NamedTuple):
    """How one signal reaches its detector: a Gaussian detector sees ``(g(x) - centre) / scale``,
    ``g`` the signal's variance-stabiliser (``transform``, or ``pit`` for a count); a binary one
    sees ``x >= 0.5``."""

    name: str
    gaussian: bool
    centre: float
    scale: float
    transform: Callable[[float], float] | None
    pit: RandomisedPit | None
    inverse: Callable[[float], float] | None
    """Undoes ``g`` (the alarm's baseline is reported in raw units)."""


def _monitored(reference: ReferenceProfile) -> list[MonitoredSignal]:
    out = []
    for name, ref in reference.signals.items():
        centre, scale, stab = detector_scale(name, ref)
        pit = pit_of(name, ref)
        inverse = pit.inverse if pit is not None else None if stab is None else stab.inverse
        forward = None if stab is None else stab.forward
        gaussian = signal_kind(name) == "gaussian"
        out.append(MonitoredSignal(name, gaussian, centre, scale, forward, pit, inverse))
    return out


class _Slice:
    __slots__ = ("detectors", "events", "gap", "last_seen")

    def __init__(self, detectors: list[SliceDetector], gap: GapWindow, now: datetime) -> None:
        self.detectors = detectors
        self.events = 0
        self.last_seen = now
        self.gap = gap


class DriftMonitor:
    """Drift detection over slices; feed it every frame with :meth:`observe`."""

    def __init__(self, reference: ReferenceProfile, settings: Settings) -> None:
        self._reference = reference
        self._signals = _monitored(reference)
        self._names = [s.name for s in self._signals]
        self._gaps = ReferenceGaps(reference, settings.drift.gap_window_events)
        buckets = settings.plant.lighting_bucket_names
        self.detectors_per_frame = len(self._signals) + len(buckets)
        """Detectors one frame updates: its slice's signals and its line-shift's mix buckets."""
        self._prototypes = LinePrototypes(settings, self.detectors_per_frame)
        self._idle = timedelta(seconds=settings.drift.slice_idle_s)
        self._max_slices = settings.drift.max_slices
        self._slices: OrderedDict[SliceKey, _Slice] = OrderedDict()
        self._mix = LightingMixWatch(self._prototypes, buckets, max_groups=self._max_slices)
        self._watermark: datetime | None = None
        self._cutoff = datetime.min.replace(tzinfo=UTC)
        """Slices and line-shifts last seen before this are evicted: watermark - idle time."""

    def update_rate(self, line_id: str) -> float:
        """False alarms per slice-signal update of this line's calibrated detectors
        (:meth:`~streams.drift.line_detectors.LinePrototypes.update_rate`)."""
        return self._prototypes.update_rate(line_id)

    def line_detectors(self, line_id: str) -> LineDetectors:
        """This line's detector prototypes, thresholds set from its false-alarm budget."""
        return self._prototypes.of(line_id)

    @property
    def slice_count(self) -> int:
        """Live slices."""
        return len(self._slices)

    def slices(self) -> list[SliceKey]:
        """Live slices, least recently seen first."""
        return list(self._slices)

    def _new_slice(self, line_id: str, gap: GapWindow, now: datetime) -> _Slice:
        protos = self._prototypes.of(line_id)
        cont, binary = protos.continuous, protos.binary
        dets = [(cont if s.gaussian else binary).clone() for s in self._signals]
        return _Slice(dets, gap, now)

    def _slice(self, key: SliceKey, captured_at: datetime) -> _Slice:
        """The slice of ``key`` (new if absent), after moving the watermark (event time) and
        evicting the slices idle since before :attr:`_cutoff`."""
        wm = self._watermark
        if wm is None or captured_at > wm:
            self._watermark = captured_at
            self._cutoff = captured_at - self._idle
        cutoff = self._cutoff
        slices = self._slices
        cap = self._max_slices
        while slices and (len(slices) > cap or next(iter(slices.values())).last_seen < cutoff):
            slices.popitem(last=False)
        st = slices.get(key)
        if st is None:
            gap = self._gaps.open(captured_at)
            st = slices[key] = self._new_slice(key.line_id, gap, captured_at)
            if len(slices) > cap:
                slices.popitem(last=False)
        else:
            slices.move_to_end(key)
            if captured_at > st.last_seen:  # noqa: PLR1730 - cheaper than max() per frame
                st.last_seen = captured_at
        st.events += 1
        return st

    def observe(
        self,
        key: SliceKey,
        event_id: str,
        captured_at: datetime,
        signals: Mapping[str, float],
    ) -> list[Record]:
        """Update the slice's detectors with one frame's signals; return new records.

        Signals missing from ``signals`` (or NaN) are skipped for this frame; signals not in
        the reference profile are ignored.
        """
        if captured_at.utcoffset() is None:
            raise ConfigError("captured_at must be timezone-aware (e.g. tzinfo=timezone.utc)")
        st = self._slice(key, captured_at)
        records: list[Record] = []
        get = signals.get
        values = [get(name) for name in self._names]  # the reference's order
        for x, sig, det in zip(values, self._signals, st.detectors, strict=True):
            if x is None or x != x:  # noqa: PLR0124 - fast NaN test
                continue
            name, gaussian, centre, scale, transform, pit, _ = sig
            if not gaussian:
                det.update(x >= 0.5)
            elif transform is not None:
                det.update((transform(x) - centre) / scale)  # type: ignore[arg-type]
            elif pit is not None:
                det.update((pit(x, uniform_of(event_id, name)) - centre) / scale)  # type: ignore[arg-type]
            else:
                det.update((x - centre) / scale)  # type: ignore[arg-type]
            if det._drift_detected:  # River stores the property here (river.base.drift_detector)
                records.append(
                    self._alarm(
                        key, sig, det, event_id=event_id, captured_at=captured_at, events=st.events
                    )
                )
        records.extend(self._gaps.add(key, st.gap, event_id, captured_at, values))
        records.extend(self._mix.observe(key, event_id, captured_at, self._cutoff))
        return records

    @staticmethod
    def _alarm(
        key: SliceKey,
        sig: MonitoredSignal,
        det: SliceDetector,
        *,
        event_id: str,
        captured_at: datetime,
        events: int,
    ) -> DriftEventRecord:
        gaussian = sig.gaussian
        return drift_event(
            key,
            sig.name,
            det,
            event_id=event_id,
            captured_at=captured_at,
            events=events,
            scale=sig.scale if gaussian else 1.0,
            offset=sig.centre if gaussian else 0.0,
            inverse=sig.inverse,
        )

    # ------------------------------------------------------------------ snapshot
    def snapshot(self) -> bytes:
        """The monitor's state as JSON: a :class:`~streams.drift.state.MonitorSnapshot`."""
        return json.dumps(self.snapshot_data(), separators=(",", ":")).encode()

    def snapshot_data(self) -> dict[str, object]:
        """The monitor's state as a plain dict with :class:`MonitorSnapshot`'s field names.

        Built from plain dicts (building ~10^4 pydantic objects per snapshot would cost
        milliseconds); :meth:`from_snapshot` gets it validated against the models. A partition's
        snapshot embeds it (:class:`~streams.drift.state.PartitionSnapshot`).
        """
        slices = []
        for key, st in self._slices.items():
            protos = self._prototypes.of(key.line_id)
            labels = [
                protos.continuous_label if s.gaussian else protos.binary_label
                for s in self._signals
            ]
            slices.append(
                {
                    "line_id": key.line_id,
                    "lighting": key.lighting,
                    "shift": key.shift,
                    "detectors": [
                        snapshot_detector(d, lb) for d, lb in zip(st.detectors, labels, strict=True)
                    ],
                    "events": st.events,
                    "last_seen": st.last_seen.isoformat(),
                    **st.gap.snapshot(),
                }
            )
        wm = self._watermark
        return {
            "reference": self._reference.fingerprint(),
            "watermark": None if wm is None else wm.isoformat(),
            "slices": slices,
            "mix": self._mix.snapshot(),
        }

    @classmethod
    def restore(cls, data: bytes, reference: ReferenceProfile, settings: Settings) -> DriftMonitor:
        """A monitor that continues exactly where the one :meth:`snapshot` saved stopped.

        Anything but that JSON (a pickle included) is refused with a
        :class:`~streams.errors.ConfigError`; see :meth:`from_snapshot`.
        """
        return cls.from_snapshot(decode_monitor(data), reference, settings)

    @classmethod
    def from_snapshot(
        cls, snap: MonitorSnapshot, reference: ReferenceProfile, settings: Settings
    ) -> DriftMonitor:
        """A monitor that continues exactly where the snapshotted one stopped.

        A detector whose class or parameters changed since the snapshot (other settings,
        another frame rate), or a River detector without a typed state, starts cold; the others
        continue exactly. Another reference profile is refused with a
        :class:`~streams.errors.ConfigError`.
        """
        if snap.reference != reference.fingerprint():
            raise ConfigError(
                "the drift snapshot was taken with another reference profile; "
                "delete the snapshot to start cold with the new reference"
            )
        monitor = cls(reference, settings)
        monitor._watermark = snap.watermark
        if snap.watermark is not None:
            monitor._cutoff = snap.watermark - monitor._idle
        cold = 0
        for s in snap.slices:
            protos = monitor._prototypes.of(s.line_id)
            st = monitor._new_slice(s.line_id, monitor._gaps.restore(s), s.last_seen)
            if len(s.detectors) != len(st.detectors):
                raise ConfigError("the drift snapshot does not match the reference's signals")
            for det, ds, sig in zip(st.detectors, s.detectors, monitor._signals, strict=True):
                label = protos.continuous_label if sig.gaussian else protos.binary_label
                cold += not load_detector(det, ds, label)
            st.events = s.events
            monitor._slices[SliceKey(s.line_id, s.lighting, s.shift)] = st
        cold += monitor._mix.load(snap.mix)
        if cold:
            log.info("drift snapshot: %d detectors start cold (changed or stateless)", cold)
        return monitor
