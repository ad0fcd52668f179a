"""Per-slice drift monitoring: one detector per slice-signal, plus lighting-mix detectors.

:class:`DriftMonitor` keeps, for every live slice (line x lighting x shift), one detector per
signal of the reference profile, created lazily, and for every (line, shift) one detector per
lighting bucket watching that bucket's share of the events (a lighting change moves events
*between* slices, which the per-slice detectors alone would not see). Every
``drift.gap_window_events`` events of a slice it also reports each signal's PSI distance to the lab
reference. State is bounded: slices idle for ``drift.slice_idle_s`` of event time are evicted,
and at most ``drift.max_slices`` are kept (least recently used first out). See ``docs/drift.md``.
"""

from __future__ import annotations

import json
import logging
import math
from bisect import bisect_right
from collections import OrderedDict
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import NamedTuple

from river import base

from schemas.records import DriftEventRecord, ReferenceGapRecord, stable_id
from streams.config import LineConfig, Settings
from streams.drift.calibration.thresholds import (
    arl_per_side,
    bernoulli_threshold,
    budget_rate,
    gaussian_threshold,
)
from streams.drift.cause import attribute_signals
from streams.drift.detectors import BernoulliCusum, GaussianCusum
from streams.drift.reference import ReferenceProfile
from streams.drift.signals import (
    RandomisedPit,
    Stabiliser,
    detector_scale,
    pit_of,
    signal_kind,
    uniform_of,
)
from streams.drift.spec import DetectorSpec, detector_label, parse_detector_spec
from streams.drift.state import DetectorSnapshot, MonitorSnapshot, decode_monitor
from streams.errors import ConfigError
from streams.slicing import SliceKey

__all__ = [
    "CUSUM_K",
    "LIGHTING_MIX_SIGNAL",
    "MIX_MARKER",
    "OUTSIDE_LAB_RANGE",
    "DriftMonitor",
    "LineDetectors",
    "drift_event",
    "load_detector",
    "snapshot_detector",
]

log = logging.getLogger(__name__)

CUSUM_K = 0.5
"""Reference value of the Gaussian CUSUM: tuned to detect shifts of ~1 noise std fastest."""
LIGHTING_MIX_SIGNAL = "lighting_mix"
MIX_MARKER = "*"
"""The ``lighting`` of lighting-mix drift events (they concern all buckets of a line-shift)."""

SliceDetector = base.DriftDetector | base.BinaryDriftDetector
"""The detector of one slice-signal: any River detector (not :class:`streams.inference.Detector`,
the model)."""
Record = DriftEventRecord | ReferenceGapRecord

OUTSIDE_LAB_RANGE = "outside_lab_range"
"""Gap metric: share of a window outside the lab's 1st-99th percentile range."""


class _SliceState:
    __slots__ = (
        "counts",
        "detectors",
        "events",
        "gap_first",
        "gap_n",
        "gap_start",
        "last_seen",
        "outside",
        "sums",
    )

    def __init__(self, detectors: list[SliceDetector], bins: list[int], now: datetime) -> None:
        self.detectors = detectors
        self.events = 0
        self.last_seen = now
        self.counts: list[list[int]] = [[0] * b for b in bins]
        self.sums: list[float] = [0.0] * len(bins)
        self.outside: list[int] = [0] * len(bins)
        self.gap_n = 0
        self.gap_start = now
        self.gap_first = ""


class _MixState:
    __slots__ = ("detectors", "events", "last_seen")

    def __init__(self, detectors: list[SliceDetector], now: datetime) -> None:
        self.detectors = detectors
        self.events = 0
        self.last_seen = now


def _utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC)


class LineDetectors(NamedTuple):
    """The detector prototypes of one line (cloned per slice) and what they promise."""

    rate: float
    """False alarms per slice-signal update the thresholds are calibrated for."""
    continuous: SliceDetector
    binary: SliceDetector
    continuous_label: str
    binary_label: str


def _build(spec: DetectorSpec, cusum: SliceDetector) -> SliceDetector:
    return cusum if spec.is_cusum else spec.build()


def snapshot_detector(det: SliceDetector, label: str) -> dict[str, object]:
    """A :class:`DetectorSnapshot` as a plain dict (built per detector: the fast path)."""
    state = det.state_dict() if isinstance(det, GaussianCusum | BernoulliCusum) else None
    return {"label": label, "state": state}


def load_detector(det: SliceDetector, snap: DetectorSnapshot, label: str) -> bool:
    """Put a stored state into a fresh detector; False if it must start cold."""
    if snap.label != label or snap.state is None:
        return False
    if isinstance(det, GaussianCusum) and snap.state.kind == "gaussian-cusum":
        det.set_state(snap.state)
        return True
    if isinstance(det, BernoulliCusum) and snap.state.kind == "bernoulli-cusum":
        det.set_state(snap.state)
        return True
    return False


def drift_event(
    key: SliceKey,
    signal: str,
    det: SliceDetector,
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
        detected_at=_utc(captured_at),
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


class DriftMonitor:
    """Drift detection over slices; feed it every frame with :meth:`observe`."""

    def __init__(self, reference: ReferenceProfile, settings: Settings) -> None:
        self._reference = reference
        self._settings = settings
        self._spec = parse_detector_spec(settings.drift.detector)
        self._binary_spec = parse_detector_spec(settings.drift.binary_detector, binary=True)
        self._lines: dict[str, LineDetectors] = {}
        # (name, centre, scale, edges, is_gaussian) per monitored signal: a Gaussian detector
        # sees (g(x) - centre) / scale, g the signal's variance-stabiliser (if skewed).
        self._prep = []
        self._stab: list[Stabiliser | RandomisedPit | None] = []
        for name, ref in reference.signals.items():
            centre, scale, stab = detector_scale(name, ref)
            self._prep.append((name, centre, scale, ref.edges, signal_kind(name) == "gaussian"))
            self._stab.append(pit_of(name, ref) or stab)
        # The lab's central range per signal (1st..99th percentile): coverage of the evaluation.
        self._range = [(ref.quantiles[0], ref.quantiles[-1]) for ref in reference.signals.values()]
        self._bins = [len(p[3]) + 1 for p in self._prep]
        self._buckets = list(settings.plant.lighting_bucket_names)
        self._idle = timedelta(seconds=settings.drift.slice_idle_s)
        self._max_slices = settings.drift.max_slices
        self._gap_window = settings.drift.gap_window_events
        self._slices: OrderedDict[SliceKey, _SliceState] = OrderedDict()
        self._mix: OrderedDict[tuple[str, str], _MixState] = OrderedDict()
        self._watermark: datetime | None = None
        self.detectors_per_frame = len(self._prep) + len(self._buckets)
        """Detectors one frame updates: its slice's signals and its line-shift's mix buckets."""

    # ------------------------------------------------------------------ detectors
    def update_rate(self, line_id: str) -> float:
        """False alarms per slice-signal update of this line's calibrated detectors.

        ``drift.false_alarms_per_event`` if set, else the line-week budget spread over the
        line's updates (its frame rate x :attr:`detectors_per_frame`).
        """
        fixed = self._settings.drift.false_alarms_per_event
        if fixed is not None:
            return fixed
        line = self._settings.plant.lines.get(line_id) or LineConfig()
        return budget_rate(
            self._settings.drift.false_alarms_per_line_week,
            frames_per_second=line.frame_rate,
            detectors_per_frame=self.detectors_per_frame,
        )

    def line_detectors(self, line_id: str) -> LineDetectors:
        """This line's detector prototypes, thresholds set from its false-alarm budget."""
        found = self._lines.get(line_id)
        if found is None:
            rate = self.update_rate(line_id)
            arl = arl_per_side(rate)
            warmup = self._settings.drift.warmup_events
            gauss = GaussianCusum(k=CUSUM_K, h=gaussian_threshold(CUSUM_K, arl), warmup=warmup)
            bern = BernoulliCusum(h=bernoulli_threshold(arl), warmup=warmup)
            cont = _build(self._spec, gauss)
            binary = _build(self._binary_spec, bern)
            found = LineDetectors(rate, cont, binary, detector_label(cont), detector_label(binary))
            self._lines[line_id] = found
        return found

    # ------------------------------------------------------------------ state
    @property
    def slice_count(self) -> int:
        """Live slices."""
        return len(self._slices)

    def slices(self) -> list[SliceKey]:
        """Live slices, least recently seen first."""
        return list(self._slices)

    def _new_slice(self, line_id: str, now: datetime) -> _SliceState:
        protos = self.line_detectors(line_id)
        dets: list[SliceDetector] = [
            protos.continuous.clone() if p[4] else protos.binary.clone() for p in self._prep
        ]
        return _SliceState(dets, self._bins, now)

    def _new_mix(self, line_id: str, now: datetime) -> _MixState:
        proto = self.line_detectors(line_id).binary
        return _MixState([proto.clone() for _ in self._buckets], now)

    def _evict(self, watermark: datetime) -> None:
        cutoff = watermark - self._idle
        cap = self._max_slices
        slices = self._slices
        while slices and (len(slices) > cap or next(iter(slices.values())).last_seen < cutoff):
            slices.popitem(last=False)
        mix = self._mix
        while mix and (len(mix) > cap or next(iter(mix.values())).last_seen < cutoff):
            mix.popitem(last=False)

    # ------------------------------------------------------------------ observe
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
        wm = self._watermark
        if wm is None or captured_at > wm:
            self._watermark = wm = captured_at
        self._evict(wm)
        st = self._slices.get(key)
        if st is None:
            st = self._slices[key] = self._new_slice(key.line_id, captured_at)
            if len(self._slices) > self._max_slices:
                self._slices.popitem(last=False)
        else:
            self._slices.move_to_end(key)
        st.last_seen = max(st.last_seen, captured_at)
        st.events += 1
        if st.gap_n == 0:
            st.gap_start = captured_at
            st.gap_first = event_id
        st.gap_n += 1

        records: list[Record] = []
        get = signals.get
        for i, (name, mean, std, edges, gaussian) in enumerate(self._prep):
            x = get(name)
            if x is None or x != x:  # noqa: PLR0124 - fast NaN test
                continue
            det = st.detectors[i]
            stab = self._stab[i]
            if gaussian:
                if stab is None:
                    y = x
                elif isinstance(stab, RandomisedPit):
                    y = stab(x, uniform_of(event_id, name))
                else:
                    y = stab(x)
                det.update((y - mean) / std)  # type: ignore[arg-type]  # continuous detector
            else:
                det.update(x >= 0.5)
            if det.drift_detected:
                scale, offset = (std, mean) if gaussian else (1.0, 0.0)
                records.append(
                    drift_event(
                        key,
                        name,
                        det,
                        event_id=event_id,
                        captured_at=captured_at,
                        events=st.events,
                        scale=scale,
                        offset=offset,
                        inverse=None if stab is None else stab.inverse,
                    )
                )
            st.counts[i][bisect_right(edges, x)] += 1
            st.sums[i] += x
            low, high = self._range[i]
            if x < low or x > high:
                st.outside[i] += 1
        if st.gap_n >= self._gap_window:
            records.extend(self._gap_records(key, st, captured_at))
        records.extend(self._observe_mix(key, event_id, captured_at))
        return records

    def _observe_mix(self, key: SliceKey, event_id: str, captured_at: datetime) -> list[Record]:
        mk = (key.line_id, key.shift)
        ms = self._mix.get(mk)
        if ms is None:
            ms = self._mix[mk] = self._new_mix(key.line_id, captured_at)
            if len(self._mix) > self._max_slices:
                self._mix.popitem(last=False)
        else:
            self._mix.move_to_end(mk)
        ms.last_seen = max(ms.last_seen, captured_at)
        ms.events += 1
        out: list[Record] = []
        lighting = key.lighting
        for bucket, det in zip(self._buckets, ms.detectors, strict=True):
            det.update(lighting == bucket)
            if det.drift_detected:
                mix_key = SliceKey(key.line_id, MIX_MARKER, key.shift)
                out.append(
                    drift_event(
                        mix_key,
                        LIGHTING_MIX_SIGNAL,
                        det,
                        event_id=event_id,
                        captured_at=captured_at,
                        events=ms.events,
                        scale=1.0,
                        offset=0.0,
                        suffix=f"[{bucket}]",
                    )
                )
        return out

    def _gap_records(
        self, key: SliceKey, st: _SliceState, captured_at: datetime
    ) -> list[ReferenceGapRecord]:
        """Per signal, two distances of the closed window to the lab reference.

        ``psi``: population stability index over the reference's quantile bins (also large for
        a window *narrower* than the lab set); ``outside_lab_range``: the share of the window's
        frames outside the lab's 1st-99th percentile range — conditions the model was never
        evaluated in (about 0.02 for lab-like data).
        """
        out = []
        ref = self._reference
        for i, (name, _centre, _scale, _edges, _g) in enumerate(self._prep):
            counts = st.counts[i]
            total = sum(counts)
            if total:
                common = {
                    "line_id": key.line_id,
                    "shift": key.shift,
                    "lighting": key.lighting,
                    "signal": name,
                    "window_start": _utc(st.gap_start),
                    "window_end": _utc(captured_at),
                    "window_events": total,
                    "reference_mean": ref[name].mean,
                    "window_mean": st.sums[i] / total,
                }
                for metric, distance in (
                    ("psi", ref.psi_counts(name, counts)),
                    (OUTSIDE_LAB_RANGE, st.outside[i] / total),
                ):
                    gap_id = stable_id(
                        key.line_id, key.lighting, key.shift, name, metric, st.gap_first
                    )
                    out.append(
                        ReferenceGapRecord(
                            gap_id=gap_id, metric=metric, distance=distance, **common
                        )
                    )
            st.counts[i] = [0] * len(counts)
            st.sums[i] = 0.0
            st.outside[i] = 0
        st.gap_n = 0
        return out

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
        gaussian = [p[4] for p in self._prep]
        slices = []
        for key, st in self._slices.items():
            protos = self.line_detectors(key.line_id)
            labels = [protos.continuous_label if g else protos.binary_label for g in gaussian]
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
                    "counts": st.counts,
                    "sums": st.sums,
                    "outside": st.outside,
                    "gap_n": st.gap_n,
                    "gap_start": st.gap_start.isoformat(),
                    "gap_first": st.gap_first,
                }
            )
        mix = []
        for (line_id, shift), ms in self._mix.items():
            label = self.line_detectors(line_id).binary_label
            mix.append(
                {
                    "line_id": line_id,
                    "shift": shift,
                    "detectors": [snapshot_detector(d, label) for d in ms.detectors],
                    "events": ms.events,
                    "last_seen": ms.last_seen.isoformat(),
                }
            )
        wm = self._watermark
        return {
            "reference": self._reference.fingerprint(),
            "watermark": None if wm is None else wm.isoformat(),
            "slices": slices,
            "mix": mix,
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
        gaussian = [p[4] for p in monitor._prep]
        cold = 0
        for s in snap.slices:
            protos = monitor.line_detectors(s.line_id)
            labels = [protos.continuous_label if g else protos.binary_label for g in gaussian]
            st = monitor._new_slice(s.line_id, s.last_seen)
            if len(s.detectors) != len(st.detectors) or len(s.counts) != len(st.counts):
                raise ConfigError("the drift snapshot does not match the reference's signals")
            for det, ds, label in zip(st.detectors, s.detectors, labels, strict=True):
                cold += not load_detector(det, ds, label)
            st.events, st.counts, st.sums, st.outside = s.events, s.counts, s.sums, s.outside
            st.gap_n, st.gap_start, st.gap_first = s.gap_n, s.gap_start, s.gap_first
            monitor._slices[SliceKey(s.line_id, s.lighting, s.shift)] = st
        for m in snap.mix:
            label = monitor.line_detectors(m.line_id).binary_label
            ms = monitor._new_mix(m.line_id, m.last_seen)
            if len(m.detectors) != len(ms.detectors):
                raise ConfigError("the drift snapshot has other lighting buckets; delete it")
            for det, ds in zip(ms.detectors, m.detectors, strict=True):
                cold += not load_detector(det, ds, label)
            ms.events = m.events
            monitor._mix[(m.line_id, m.shift)] = ms
        if cold:
            log.info("drift snapshot: %d detectors start cold (changed or stateless)", cold)
        return monitor
