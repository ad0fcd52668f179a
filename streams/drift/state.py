"""The drift monitor's snapshot format: versioned, typed data (JSON), never code.

A snapshot (table ``monitor_snapshots``) is a :class:`MonitorSnapshot` serialised as JSON:
``version`` says how to read it, each detector is stored with the label of its class and
parameters and, for linewatch's own CUSUMs, its complete typed state
(:class:`~streams.drift.detectors.GaussianCusumState`, ``BernoulliCusumState``). River's other
detectors (ADWIN, KSWIN, ...) keep internal state that has no typed form; they are stored
without state and restart cold after a restore (the CUSUMs continue exactly).

Version 1 snapshots (linewatch <= 0.x) were pickles of private classes. They are converted by
:func:`read_legacy_pickle`, an unpickler that resolves only an allow-list of inert types (the
old state classes map onto plain attribute holders, so no linewatch or third-party code runs)
and refuses everything else; unpickling is never done with :func:`pickle.loads`.
"""

from __future__ import annotations

import io
import pickle
from collections import OrderedDict
from datetime import datetime, timedelta, timezone
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError

from streams.drift.detectors import BernoulliCusumState, GaussianCusumState
from streams.errors import ConfigError

__all__ = [
    "FORMAT",
    "VERSION",
    "DetectorSnapshot",
    "MixSnapshot",
    "MonitorSnapshot",
    "SliceSnapshot",
    "decode_snapshot",
    "read_legacy_pickle",
]

FORMAT = "linewatch.drift-monitor"
VERSION = 2
_LEGACY_FORMAT = "linewatch.drift-monitor/1"

_Frozen = ConfigDict(frozen=True, extra="forbid", ser_json_inf_nan="constants")


class DetectorSnapshot(BaseModel):
    """One detector: its class and parameters (``label``) and, for the CUSUMs, its state."""

    model_config = _Frozen

    label: str
    state: GaussianCusumState | BernoulliCusumState | None = Field(None, discriminator="kind")


class SliceSnapshot(BaseModel):
    """One live slice: its detectors and its open reference-gap window."""

    model_config = _Frozen

    line_id: str
    lighting: str
    shift: str
    detectors: list[DetectorSnapshot]
    events: int
    last_seen: AwareDatetime
    counts: list[list[int]]
    sums: list[float]
    outside: list[int]
    gap_n: int
    gap_start: AwareDatetime
    gap_first: str


class MixSnapshot(BaseModel):
    """The lighting-mix detectors of one (line, shift)."""

    model_config = _Frozen

    line_id: str
    shift: str
    detectors: list[DetectorSnapshot]
    events: int
    last_seen: AwareDatetime


class MonitorSnapshot(BaseModel):
    """Everything a :class:`~streams.drift.DriftMonitor` needs to continue; LRU order kept."""

    model_config = _Frozen

    format: Literal["linewatch.drift-monitor"] = "linewatch.drift-monitor"
    version: Literal[2] = 2
    reference: str
    watermark: AwareDatetime | None
    slices: list[SliceSnapshot]
    mix: list[MixSnapshot]

    def encode(self) -> bytes:
        """UTF-8 JSON."""
        return self.model_dump_json().encode()


def decode_snapshot(data: bytes) -> MonitorSnapshot:
    """Read a snapshot of any version; raises :class:`ConfigError` for anything else."""
    if data[:1] == b"\x80":  # a pickle protocol >= 2 header: version 1
        return read_legacy_pickle(data)
    try:
        return MonitorSnapshot.model_validate_json(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise ConfigError(
            f"not a drift-monitor snapshot ({where}: {first['msg']}); delete it to start cold"
        ) from None


# ---------------------------------------------------------------------------- version 1
class _Holder:
    """An inert stand-in for a pickled object: only records the attributes it was given."""

    def __init__(self, *args: Any) -> None:
        self.args = args

    def __setstate__(self, state: Any) -> None:
        dict_state, slot_state = state if isinstance(state, tuple) else (state, None)
        for source in (dict_state, slot_state):
            for key, value in (source or {}).items():
                object.__setattr__(self, key, value)


class _SliceKeyHolder(tuple[Any, ...]):
    def __new__(cls, *fields: Any) -> _SliceKeyHolder:
        return super().__new__(cls, fields)


_ALLOWED: dict[tuple[str, str], Any] = {
    ("collections", "OrderedDict"): OrderedDict,
    ("datetime", "datetime"): datetime,
    ("datetime", "timezone"): timezone,
    ("datetime", "timedelta"): timedelta,
    ("streams.slicing", "SliceKey"): _SliceKeyHolder,
    ("streams.drift.monitor", "_SliceState"): _Holder,
    ("streams.drift.monitor", "_MixState"): _Holder,
    ("streams.drift.detectors", "GaussianCusum"): _Holder,
    ("streams.drift.detectors", "BernoulliCusum"): _Holder,
}


class _LegacyUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        found = _ALLOWED.get((module, name))
        if found is None:
            raise pickle.UnpicklingError(f"{module}.{name} is not part of a version-1 snapshot")
        return found


def _legacy_detector(det: Any) -> DetectorSnapshot:
    from streams.drift.spec import cusum_label

    get = det.__dict__.get
    before = (float(get("before_mean", 0.0)), float(get("before_std", 0.0)))
    after = (float(get("after_mean", 0.0)), float(get("after_std", 0.0)))
    common = {
        "s_up": det._s_up,
        "s_dn": det._s_dn,
        "drift_detected": bool(det.drift_detected),
        "statistic": det.statistic,
        "direction": det.direction,
        "before": before,
        "after": after,
    }
    state: GaussianCusumState | BernoulliCusumState
    if hasattr(det, "_m2"):
        params = {"k": det.k, "h": det.h, "warmup": det.warmup, "winsor": det.winsor}
        params["std_floor"] = det.std_floor
        label = cusum_label("GaussianCusum", params)
        state = GaussianCusumState(
            n=det._n,
            mean=det._mean,
            m2=det._m2,
            mark_up=det._mark_up,
            mark_dn=det._mark_dn,
            **common,
        )
    else:
        params = {"h": det.h, "odds_ratio": det.odds_ratio, "warmup": det.warmup}
        params |= {"min_count": det.min_count, "max_warmup": det.max_warmup}
        label = cusum_label("BernoulliCusum", params)
        state = BernoulliCusumState(
            n=det._n, ones=det._ones, mark_up=det._mark_up, mark_dn=det._mark_dn, **common
        )
    return DetectorSnapshot(label=label, state=state)


def read_legacy_pickle(data: bytes) -> MonitorSnapshot:
    """Convert a version-1 (pickle) snapshot without running code from it.

    Only the types a version-1 snapshot contains are resolved (datetimes, ordered dicts and
    inert holders for linewatch's old state classes); any other reference is refused.
    """
    try:
        raw = _LegacyUnpickler(io.BytesIO(data)).load()
        if not isinstance(raw, dict) or raw.get("format") != _LEGACY_FORMAT:
            raise ValueError("not a version-1 drift-monitor snapshot")
        slices = [
            SliceSnapshot(
                line_id=key[0],
                lighting=key[1],
                shift=key[2],
                detectors=[_legacy_detector(d) for d in st.detectors],
                events=st.events,
                last_seen=st.last_seen,
                counts=st.counts,
                sums=st.sums,
                outside=st.outside,
                gap_n=st.gap_n,
                gap_start=st.gap_start,
                gap_first=st.gap_first,
            )
            for key, st in raw["slices"].items()
        ]
        mix = [
            MixSnapshot(
                line_id=key[0],
                shift=key[1],
                detectors=[_legacy_detector(d) for d in ms.detectors],
                events=ms.events,
                last_seen=ms.last_seen,
            )
            for key, ms in raw["mix"].items()
        ]
        return MonitorSnapshot(
            reference=raw["reference"], watermark=raw["watermark"], slices=slices, mix=mix
        )
    except Exception as exc:  # anything in foreign bytes: one clear error
        raise ConfigError(
            f"not a drift-monitor snapshot (version-1 pickle: {exc}); delete it to start cold"
        ) from None
