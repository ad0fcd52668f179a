"""Per-slice drift monitoring: one detector per slice-signal, plus lighting-mix detectors.

:class:`DriftMonitor` keeps, for every live slice (line x lighting x shift), one detector per
signal of the reference profile, created lazily, and for every (line, shift) one detector per
lighting bucket watching that bucket's share of the events (a lighting change moves events
*between* slices, which the per-slice detectors alone would not see). Every
``gap_window_events`` events of a slice it also reports each signal's PSI distance to the lab
reference. State is bounded: slices idle for ``slice_idle_seconds`` of event time are evicted,
and at most ``max_slices`` are kept (least recently used first out). See ``docs/drift.md``.
"""

from __future__ import annotations

import pickle
from bisect import bisect_right
from collections import OrderedDict
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta

from schemas.records import DriftEventRecord, ReferenceGapRecord, stable_id
from streams.config import Settings
from streams.drift.calibration import arl_per_side, bernoulli_threshold, gaussian_threshold
from streams.drift.detectors import BernoulliCusum, GaussianCusum
from streams.drift.reference import ReferenceProfile
from streams.drift.signals import signal_kind
from streams.errors import ConfigError
from streams.slicing import SliceKey

__all__ = ["CUSUM_K", "LIGHTING_MIX_SIGNAL", "MIX_MARKER", "OUTSIDE_LAB_RANGE", "DriftMonitor"]

CUSUM_K = 0.5
"""Reference value of the Gaussian CUSUM: tuned to detect shifts of ~1 noise std fastest."""
LIGHTING_MIX_SIGNAL = "lighting_mix"
MIX_MARKER = "*"
"""The ``lighting`` of lighting-mix drift events (they concern all buckets of a line-shift)."""

_SNAPSHOT_FORMAT = "linewatch.drift-monitor/1"

SliceDetector = GaussianCusum | BernoulliCusum
"""The detector of one slice-signal (not :class:`streams.inference.Detector`, the model)."""
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

    def __init__(self, detectors: list[BernoulliCusum], now: datetime) -> None:
        self.detectors = detectors
        self.events = 0
        self.last_seen = now


def _utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC)


class DriftMonitor:
    """Drift detection over slices; feed it every frame with :meth:`observe`."""

    def __init__(self, reference: ReferenceProfile, settings: Settings) -> None:
        self._reference = reference
        self._settings = settings
        arl = arl_per_side(settings.drift_false_alarms_per_event)
        warmup = settings.drift_warmup_events
        self._gauss = GaussianCusum(k=CUSUM_K, h=gaussian_threshold(CUSUM_K, arl), warmup=warmup)
        self._bern = BernoulliCusum(h=bernoulli_threshold(arl), warmup=warmup)
        # (name, ref mean, ref std, edges, is_gaussian) per monitored signal.
        self._prep = [
            (name, ref.mean, ref.std, ref.edges, signal_kind(name) == "gaussian")
            for name, ref in reference.signals.items()
        ]
        # The lab's central range per signal (1st..99th percentile): coverage of the evaluation.
        self._range = [(ref.quantiles[0], ref.quantiles[-1]) for ref in reference.signals.values()]
        self._bins = [len(p[3]) + 1 for p in self._prep]
        self._buckets = list(settings.lighting_bucket_names)
        self._idle = timedelta(seconds=settings.slice_idle_seconds)
        self._max_slices = settings.max_slices
        self._gap_window = settings.gap_window_events
        self._slices: OrderedDict[SliceKey, _SliceState] = OrderedDict()
        self._mix: OrderedDict[tuple[str, str], _MixState] = OrderedDict()
        self._watermark: datetime | None = None

    # ------------------------------------------------------------------ state
    @property
    def slice_count(self) -> int:
        """Live slices."""
        return len(self._slices)

    def slices(self) -> list[SliceKey]:
        """Live slices, least recently seen first."""
        return list(self._slices)

    def _new_slice(self, now: datetime) -> _SliceState:
        dets: list[SliceDetector] = [
            self._gauss.clone() if p[4] else self._bern.clone() for p in self._prep
        ]
        return _SliceState(dets, self._bins, now)

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
            st = self._slices[key] = self._new_slice(captured_at)
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
            det.update((x - mean) / std if gaussian else x)
            if det.drift_detected:
                scale, offset = (std, mean) if gaussian else (1.0, 0.0)
                records.append(
                    self._drift_record(
                        key,
                        name,
                        det,
                        event_id=event_id,
                        captured_at=captured_at,
                        events=st.events,
                        scale=scale,
                        offset=offset,
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
            ms = self._mix[mk] = _MixState([self._bern.clone() for _ in self._buckets], captured_at)
            if len(self._mix) > self._max_slices:
                self._mix.popitem(last=False)
        else:
            self._mix.move_to_end(mk)
        ms.last_seen = max(ms.last_seen, captured_at)
        ms.events += 1
        out: list[Record] = []
        lighting = key.lighting
        for bucket, det in zip(self._buckets, ms.detectors, strict=True):
            det.update(1.0 if lighting == bucket else 0.0)
            if det.drift_detected:
                mix_key = SliceKey(key.line_id, MIX_MARKER, key.shift)
                out.append(
                    self._drift_record(
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

    def _drift_record(
        self,
        key: SliceKey,
        signal: str,
        det: SliceDetector,
        *,
        event_id: str,
        captured_at: datetime,
        events: int,
        scale: float,
        offset: float,
        suffix: str = "",
    ) -> DriftEventRecord:
        detector = f"{det.name}{suffix}:{det.direction}"
        return DriftEventRecord(
            drift_id=stable_id(key.line_id, key.lighting, key.shift, signal, detector, event_id),
            line_id=key.line_id,
            shift=key.shift,
            lighting=key.lighting,
            signal=signal,
            detector=detector,
            detected_at=_utc(captured_at),
            trigger_event_id=event_id,
            statistic=det.statistic,
            threshold=det.h,
            events_in_slice=events,
            before_mean=det.before_mean * scale + offset,
            before_std=det.before_std * scale,
            after_mean=det.after_mean * scale + offset,
            after_std=det.after_std * scale,
        )

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
        for i, (name, mean, _std, _edges, _g) in enumerate(self._prep):
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
                    "reference_mean": mean,
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
        """The monitor's state as bytes (pickle); see :meth:`restore`."""
        state = {
            "format": _SNAPSHOT_FORMAT,
            "reference": self._reference.fingerprint(),
            "watermark": self._watermark,
            "slices": self._slices,
            "mix": self._mix,
        }
        return pickle.dumps(state, protocol=pickle.HIGHEST_PROTOCOL)

    @classmethod
    def restore(cls, data: bytes, reference: ReferenceProfile, settings: Settings) -> DriftMonitor:
        """A monitor that continues exactly where the snapshotted one stopped.

        Only load snapshots this process (or a trusted worker) wrote: they are pickles.
        """
        try:
            state = pickle.loads(data)
            if state.get("format") != _SNAPSHOT_FORMAT:
                raise ValueError(f"format is {state.get('format')!r}")
        except Exception as exc:
            raise ConfigError(
                f"not a drift-monitor snapshot ({exc}); delete it to start cold"
            ) from exc
        if state["reference"] != reference.fingerprint():
            raise ConfigError(
                "the drift snapshot was taken with another reference profile; "
                "delete the snapshot to start cold with the new reference"
            )
        monitor = cls(reference, settings)
        monitor._watermark = state["watermark"]
        monitor._slices = state["slices"]
        monitor._mix = state["mix"]
        return monitor
