"""What to simulate: :class:`SimulationRequest` and the ``simulate:`` source strings.

>>> r = parse_simulate_source(
...     "simulate:production?events=3000&seed=7&scenario=demo&lines=3"
...     "&start=2026-11-29T00:00:00Z&duration=24h")
>>> r.split, r.events, r.seed, r.scenario, r.line_ids, r.duration.total_seconds()
('production', 3000, 7, 'demo', ('line-1', 'line-2', 'line-3'), 86400.0)
>>> parse_simulate_source("simulate:lab?events=500&seed=1").split
'lab'
>>> parse_duration("1h30m").total_seconds()
5400.0
>>> parse_simulate_source("simulate:lab?evnts=5")
Traceback (most recent call last):
...
streams.errors.SimulationError: unknown simulate option 'evnts'; use some of: ...
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from typing import Literal
from urllib.parse import parse_qsl
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError, field_validator

from streams.errors import SimulationError

__all__ = [
    "DEFAULT_START",
    "SimulationRequest",
    "parse_duration",
    "parse_simulate_source",
]

DEFAULT_START = datetime(2026, 11, 29, tzinfo=UTC)
"""Default start of a simulated run: midnight UTC of a production day."""

_DURATION = re.compile(r"(\d+(?:\.\d+)?)\s*([dhms])")
_UNITS = {"d": 86400.0, "h": 3600.0, "m": 60.0, "s": 1.0}


def parse_duration(text: str) -> timedelta:
    """``24h``, ``90m``, ``1h30m``, ``2d``, ``45s`` or plain seconds (``3600``)."""
    cleaned = text.strip().lower().replace(" ", "")
    if re.fullmatch(r"\d+(?:\.\d+)?", cleaned):
        return timedelta(seconds=float(cleaned))
    parts = _DURATION.findall(cleaned)
    if not parts or "".join(n + u for n, u in parts) != cleaned:
        raise SimulationError(
            f"cannot read duration {text!r}; write e.g. '24h', '90m', '1h30m' or '2d'"
        )
    return timedelta(seconds=sum(float(n) * _UNITS[u] for n, u in parts))


class SimulationRequest(BaseModel):
    """One simulated stream of camera events and their ground truth."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    split: Literal["lab", "production"] = "production"
    events: int = Field(1000, ge=1, le=10_000_000, description="Number of events.")
    seed: int = Field(0, ge=0, le=2**63 - 1)
    lines: int | tuple[str, ...] = Field(3, description="Number of lines, or their ids.")
    start: AwareDatetime = DEFAULT_START
    duration: timedelta = timedelta(hours=24)
    scenario: Literal["stationary", "demo", "camera-faults"] = "stationary"
    jpeg_quality: int = Field(85, ge=30, le=100)
    timezone: str = Field("UTC", description="Plant IANA timezone; shifts are local times.")

    @field_validator("lines")
    @classmethod
    def _lines(cls, value: int | tuple[str, ...]) -> int | tuple[str, ...]:
        if isinstance(value, int):
            if not 1 <= value <= 100:
                raise ValueError(f"lines must be between 1 and 100, got {value}")
            return value
        ids = tuple(v.strip() for v in value)
        if not ids or any(not v for v in ids) or len(set(ids)) != len(ids):
            raise ValueError(f"lines must be distinct, non-empty ids, got {list(value)}")
        return ids

    @field_validator("duration")
    @classmethod
    def _positive(cls, value: timedelta) -> timedelta:
        if value.total_seconds() <= 0:
            raise ValueError("duration must be positive")
        return value

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown IANA timezone {value!r} (e.g. 'Europe/Berlin')") from exc
        return value

    @property
    def line_ids(self) -> tuple[str, ...]:
        """The line ids: ``line-1 .. line-N`` for an int."""
        if isinstance(self.lines, int):
            return tuple(f"line-{i}" for i in range(1, self.lines + 1))
        return self.lines

    @property
    def zone(self) -> ZoneInfo:
        """The plant timezone."""
        return ZoneInfo(self.timezone)

    def canonical(self) -> str:
        """A stable text form of the request (event ids are derived from it)."""
        return json.dumps(self.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))

    @classmethod
    def build(cls, **values: object) -> SimulationRequest:
        """Validate ``values`` and raise :class:`SimulationError` with a readable message."""
        try:
            request = cls.model_validate(values)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in err['loc']) or 'request'}: {err['msg']}"
                for err in exc.errors()[:5]
            )
            raise SimulationError(f"invalid simulation request: {problems}") from exc
        if request.scenario in ("demo", "camera-faults"):
            if request.split != "production":
                raise SimulationError(
                    f"scenario {request.scenario!r} needs split 'production' (got 'lab')"
                )
            changed = (
                {"line-2", "line-3"}
                if request.scenario == "demo"
                else {"line-1", "line-2", "line-3"}
            )
            missing = changed - set(request.line_ids)
            if missing:
                raise SimulationError(
                    f"scenario {request.scenario!r} changes {', '.join(sorted(changed))}; "
                    f"add {sorted(missing)} (e.g. lines=3)"
                )
        return request


_OPTIONS = ("events", "seed", "lines", "start", "duration", "scenario", "jpeg_quality", "timezone")


def parse_simulate_source(text: str) -> SimulationRequest:
    """Read ``simulate:SPLIT?key=value&...`` (keys: see :data:`_OPTIONS`)."""
    if not text.startswith("simulate:"):
        raise SimulationError(f"a simulate source starts with 'simulate:', got {text[:40]!r}")
    body = text[len("simulate:") :]
    split, _, query = body.partition("?")
    values: dict[str, object] = {"split": split or "production"}
    for key, raw in parse_qsl(query, keep_blank_values=True, strict_parsing=False):
        if key not in _OPTIONS:
            raise SimulationError(
                f"unknown simulate option {key!r}; use some of: {', '.join(_OPTIONS)}"
            )
        if key == "duration":
            values[key] = parse_duration(raw)
        elif key == "lines":
            values[key] = int(raw) if raw.strip().isdigit() else tuple(raw.split(","))
        elif key == "start":
            try:
                values[key] = datetime.fromisoformat(raw.replace("Z", "+00:00"))
            except ValueError as exc:
                raise SimulationError(
                    f"start {raw!r} is not ISO-8601; write e.g. 2026-11-29T00:00:00Z"
                ) from exc
        else:
            values[key] = raw
    return SimulationRequest.build(**values)
