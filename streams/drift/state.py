"""The partition-state snapshot format: versioned, typed data (JSON), never code.

A snapshot (table ``monitor_snapshots``, one row per Kafka partition) is a
:class:`PartitionSnapshot` serialised as JSON: ``format`` and ``version`` say how to read it, and
it holds everything a :class:`~streams.drift.partition_state.PartitionState` remembers between
frames:

- ``monitor``: the :class:`~streams.drift.DriftMonitor` (:class:`MonitorSnapshot`). Each detector
  is stored with the label of its class and parameters and, for linewatch's own CUSUMs, its
  complete typed state (:class:`~streams.drift.detectors.GaussianCusumState`,
  ``BernoulliCusumState``). River's other detectors (ADWIN, KSWIN, ...) keep internal state that
  has no typed form; they are stored without state and restart cold after a restore (the CUSUMs
  continue exactly).
- ``cameras``: camera health's previous-frame thumbnail per camera (:class:`CameraSnapshot`: the
  one-byte luma levels it compares with, base64, exactly as kept; 1.6 KB of text per camera).
- ``product_mix``: the product-variant detectors per line and shift (:class:`ProductMixSnapshot`).
- ``causes``: the recent alarms per line and shift that give new alarms their cause
  (:class:`CauseSnapshot`).

Snapshots are never unpickled: bytes that are not this format's JSON at this version (a pickle
or an older version included) are refused with a :class:`~streams.errors.ConfigError`, and the
partition starts cold.
"""

from __future__ import annotations

from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError

from streams.drift.detectors import BernoulliCusumState, GaussianCusumState
from streams.errors import ConfigError

__all__ = [
    "FORMAT",
    "VERSION",
    "AlarmSnapshot",
    "CameraSnapshot",
    "CauseSnapshot",
    "DetectorSnapshot",
    "MixSnapshot",
    "MonitorSnapshot",
    "PartitionSnapshot",
    "ProductMixSnapshot",
    "SliceSnapshot",
    "VariantSnapshot",
    "decode_monitor",
    "decode_snapshot",
]

FORMAT = "linewatch.partition-state"
VERSION = 3
"""The snapshot format's version: a snapshot of any other version is refused (no converter:
nothing was released before 0.1.0)."""

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

    reference: str
    watermark: AwareDatetime | None
    slices: list[SliceSnapshot]
    mix: list[MixSnapshot]


class CameraSnapshot(BaseModel):
    """One camera's previous-frame thumbnail (:class:`~streams.features.CameraHealth`).

    ``luma``: base64 of the ``height x width`` luma levels, one byte each (row-major), the
    exact array camera health compares the next frame with (1.2 KB for 30x40, 1.6 KB base64).
    """

    model_config = _Frozen

    camera_id: str
    height: int = Field(ge=1, le=30)
    width: int = Field(ge=1, le=40)
    luma: str


class VariantSnapshot(BaseModel):
    """One product variant's share detector."""

    model_config = _Frozen

    variant: str
    detector: DetectorSnapshot


class ProductMixSnapshot(BaseModel):
    """The product-variant detectors of one (line, shift), least recently seen first."""

    model_config = _Frozen

    line_id: str
    shift: str
    events: int
    variants: list[VariantSnapshot]


class AlarmSnapshot(BaseModel):
    """One remembered alarm: when it was raised and on which signal."""

    model_config = _Frozen

    at: AwareDatetime
    signal: str


class CauseSnapshot(BaseModel):
    """The recent alarms of one (line, shift), oldest first."""

    model_config = _Frozen

    line_id: str
    shift: str
    alarms: list[AlarmSnapshot]


class PartitionSnapshot(BaseModel):
    """Everything a :class:`~streams.drift.partition_state.PartitionState` needs to continue.

    Every list keeps its least-recently-used order, so bounded state evicts the same entries
    after a restore as without one.
    """

    model_config = _Frozen

    format: Literal["linewatch.partition-state"] = "linewatch.partition-state"
    version: Literal[3] = 3
    monitor: MonitorSnapshot
    cameras: list[CameraSnapshot]
    product_mix: list[ProductMixSnapshot]
    causes: list[CauseSnapshot]


def _refuse(what: str, exc: ValidationError) -> ConfigError:
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first["loc"])
    return ConfigError(f"not a {what} snapshot ({where}: {first['msg']}); delete it to start cold")


def decode_snapshot(data: bytes) -> PartitionSnapshot:
    """Read a partition snapshot; raises :class:`ConfigError` for anything else (a pickle or an
    older version included)."""
    try:
        return PartitionSnapshot.model_validate_json(data)
    except ValidationError as exc:
        raise _refuse("partition-state", exc) from None


def decode_monitor(data: bytes) -> MonitorSnapshot:
    """Read the drift monitor's part alone (:meth:`~streams.drift.DriftMonitor.snapshot`)."""
    try:
        return MonitorSnapshot.model_validate_json(data)
    except ValidationError as exc:
        raise _refuse("drift-monitor", exc) from None
