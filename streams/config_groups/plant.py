"""The plant: its lines, shifts, lighting buckets and time zone (``LINEWATCH_PLANT__*``)."""

from __future__ import annotations

import itertools
import json
from datetime import time
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from streams.config_groups.base import (
    _Group,
)

__all__ = ["LineConfig", "PlantSettings", "ShiftStart"]


class LineConfig(BaseModel):
    """One camera line of the plant."""

    model_config = ConfigDict(allow_inf_nan=False)

    takt_units_per_minute: float = Field(
        60.0, gt=0, le=100_000, description="Line speed: units per minute."
    )
    frames_per_second: float | None = Field(
        None,
        gt=0,
        le=10_000,
        description="Camera frames per second of the line, for the drift false-alarm budget; "
        "None: one frame per unit (takt_units_per_minute / 60).",
    )
    cameras: list[str] = Field(
        default_factory=list,
        description="The line's camera ids; events of another camera on this line are "
        "dead-lettered (unknown_camera). Empty: any camera.",
    )

    @field_validator("cameras")
    @classmethod
    def _distinct_cameras(cls, value: list[str]) -> list[str]:
        if not all(c.strip() for c in value) or len(set(value)) != len(value):
            raise ValueError('camera ids must be non-empty and distinct, e.g. ["cam-1a", "cam-1b"]')
        return value

    @property
    def frame_rate(self) -> float:
        """Frames per second: configured, else one frame per unit at the takt rate."""
        if self.frames_per_second is not None:
            return self.frames_per_second
        return self.takt_units_per_minute / 60.0

    @property
    def takt_ms(self) -> float:
        """Time budget per unit in milliseconds."""
        return 60_000.0 / self.takt_units_per_minute


class ShiftStart(BaseModel):
    """A work shift and the local wall-clock time at which it starts."""

    name: str = Field(min_length=1)
    start: time


def _default_lines() -> dict[str, LineConfig]:
    return {f"line-{i}": LineConfig(takt_units_per_minute=60.0) for i in (1, 2, 3)}


def _default_shifts() -> list[ShiftStart]:
    return [
        ShiftStart(name="day", start=time(6, 0)),
        ShiftStart(name="evening", start=time(14, 0)),
        ShiftStart(name="night", start=time(22, 0)),
    ]


class PlantSettings(_Group):
    """The plant: timezone, shifts, lines and lighting buckets, which name the slices
    (``LINEWATCH_PLANT__*``)."""

    timezone: str = Field("UTC", description="The plant's IANA timezone, for shifts.")
    shifts: list[ShiftStart] = Field(
        default_factory=_default_shifts,
        description='Work shifts, JSON: [{"name": "day", "start": "06:00"}, ...]; distinct '
        "names and start times.",
    )
    lines: dict[str, LineConfig] = Field(
        default_factory=_default_lines,
        description="Known camera lines, JSON (keys in the table below); events of other lines "
        "are dead-lettered.",
    )
    lux_bucket_edges: list[float] = Field(
        [200.0, 400.0, 900.0], description="Lux edges of the lighting buckets (increasing, >= 0)."
    )
    brightness_bucket_edges: list[float] = Field(
        [0.18, 0.30, 0.61],
        description="Mean-brightness edges (increasing, within 0..1), used without lux (~ the "
        "lux edges as seen by a camera exposed for 650 lux).",
    )
    lighting_bucket_names: list[str] = Field(
        ["dark", "dim", "normal", "bright"],
        description="Names of the lighting buckets: one more than the edges, distinct.",
    )

    @property
    def zone(self) -> ZoneInfo:
        """The plant's timezone."""
        return ZoneInfo(self.timezone)

    @field_validator("lines", mode="before")
    @classmethod
    def _lines_by_id(cls, value: Any) -> Any:
        """A list of line ids is the common first try: answer with the dict form for them."""
        if isinstance(value, list | tuple) and all(isinstance(v, str) for v in value):
            example = json.dumps({v: {"takt_units_per_minute": 60} for v in value[:3]})
            raise ValueError(
                "lines is a JSON object keyed by line id, each with its settings (or {} for "
                f"the defaults), not a list; for these lines: {example}"
            )
        return value

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown IANA timezone {value!r} (e.g. 'Europe/Berlin')") from exc
        return value

    @field_validator("lux_bucket_edges", "brightness_bucket_edges")
    @classmethod
    def _increasing_edges(cls, value: list[float], info: ValidationInfo) -> list[float]:
        if any(b <= a for a, b in itertools.pairwise(value)):
            raise ValueError("edges must be strictly increasing, e.g. [0.18, 0.30, 0.61]")
        if any(v < 0 for v in value):
            raise ValueError("edges must be >= 0")
        if info.field_name == "brightness_bucket_edges" and any(v > 1 for v in value):
            raise ValueError("brightness edges are mean brightness, within 0..1")
        return value

    @field_validator("lighting_bucket_names")
    @classmethod
    def _bucket_names(cls, value: list[str]) -> list[str]:
        if not all(value) or len(set(value)) != len(value):
            raise ValueError("names must be non-empty and distinct")
        return value

    @field_validator("shifts")
    @classmethod
    def _distinct_shifts(cls, value: list[ShiftStart]) -> list[ShiftStart]:
        if not value:
            raise ValueError("at least one shift is required")
        if len({s.name for s in value}) != len(value) or len({s.start for s in value}) != len(
            value
        ):
            raise ValueError("shift names and start times must be distinct")
        return value

    @field_validator("lines")
    @classmethod
    def _named_lines(cls, value: dict[str, LineConfig]) -> dict[str, LineConfig]:
        if not value or not all(name.strip() for name in value):
            raise ValueError('name at least one line, e.g. {"line-1": {}}')
        return value

    @model_validator(mode="after")
    def _consistent_buckets(self) -> PlantSettings:
        n = len(self.lighting_bucket_names)
        if len(self.lux_bucket_edges) != n - 1 or len(self.brightness_bucket_edges) != n - 1:
            raise ValueError(
                f"LINEWATCH_PLANT__LIGHTING_BUCKET_NAMES has {n} names, so "
                f"LINEWATCH_PLANT__LUX_BUCKET_EDGES ({len(self.lux_bucket_edges)}) and "
                f"LINEWATCH_PLANT__BRIGHTNESS_BUCKET_EDGES ({len(self.brightness_bucket_edges)}) "
                f"need {n - 1} edges each"
            )
        return self
