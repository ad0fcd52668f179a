"""The drift monitor's snapshot format: versioned, typed data (JSON), never code.

A snapshot (table ``monitor_snapshots``) is a :class:`MonitorSnapshot` serialised as JSON:
``version`` says how to read it, each detector is stored with the label of its class and
parameters and, for linewatch's own CUSUMs, its complete typed state
(:class:`~streams.drift.detectors.GaussianCusumState`, ``BernoulliCusumState``). River's other
detectors (ADWIN, KSWIN, ...) keep internal state that has no typed form; they are stored
without state and restart cold after a restore (the CUSUMs continue exactly).

Snapshots are never unpickled: bytes that are not a snapshot's JSON (a pickle included) are
refused with a :class:`~streams.errors.ConfigError`, and the partition starts cold.
"""

from __future__ import annotations

from typing import Literal

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
]

FORMAT = "linewatch.drift-monitor"
VERSION = 1

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
    version: Literal[1] = 1
    reference: str
    watermark: AwareDatetime | None
    slices: list[SliceSnapshot]
    mix: list[MixSnapshot]

    def encode(self) -> bytes:
        """UTF-8 JSON."""
        return self.model_dump_json().encode()


def decode_snapshot(data: bytes) -> MonitorSnapshot:
    """Read a snapshot; raises :class:`ConfigError` for anything else (a pickle included)."""
    try:
        return MonitorSnapshot.model_validate_json(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise ConfigError(
            f"not a drift-monitor snapshot ({where}: {first['msg']}); delete it to start cold"
        ) from None
