"""Slices: the unit of drift monitoring, one camera line x lighting bucket x work shift.

>>> from datetime import datetime, timezone
>>> from streams.config import Settings
>>> s = Slicer(Settings(plant={"timezone": "Europe/Berlin"}))
>>> s.shift_of(datetime(2026, 7, 1, 20, 0, tzinfo=timezone.utc))  # 22:00 in Berlin (CEST)
'night'
>>> s.lighting_of(None, 0.5), s.lighting_of(1000.0, 0.1)
('normal', 'bright')
"""

from __future__ import annotations

from bisect import bisect_right
from datetime import datetime, time
from typing import NamedTuple

from schemas.events import CameraEvent
from streams.config import Settings
from streams.errors import ConfigError
from streams.features import ImageStats

__all__ = ["SliceKey", "Slicer"]


class SliceKey(NamedTuple):
    """One slice: camera line, lighting bucket and work shift."""

    line_id: str
    lighting: str
    shift: str


class Slicer:
    """Assigns events to slices using the plant's shift schedule and lighting buckets."""

    __slots__ = ("_bright_edges", "_lux_edges", "_names", "_starts", "_zone")

    def __init__(self, settings: Settings) -> None:
        self._zone = settings.plant.zone
        starts = sorted((s.start.replace(tzinfo=None), s.name) for s in settings.plant.shifts)
        self._starts: list[tuple[time, str]] = starts
        self._lux_edges = list(settings.plant.lux_bucket_edges)
        self._bright_edges = list(settings.plant.brightness_bucket_edges)
        self._names = list(settings.plant.lighting_bucket_names)

    def shift_of(self, captured_at: datetime) -> str:
        """The shift whose start is the latest at or before the local wall time.

        The aware instant is converted to the plant's timezone with zoneinfo, so DST
        transitions are handled by the tz database; before the first shift start of the day
        the previous day's last shift is still running (shifts wrap midnight).
        """
        if captured_at.tzinfo is None or captured_at.utcoffset() is None:
            raise ConfigError(
                f"captured_at {captured_at.isoformat()} has no timezone; "
                "pass an aware datetime (e.g. with tzinfo=timezone.utc)"
            )
        local = captured_at.astimezone(self._zone).time().replace(tzinfo=None)
        starts = self._starts
        # Index of the first start strictly after `local`; the one before it is running.
        lo, hi = 0, len(starts)
        while lo < hi:
            mid = (lo + hi) // 2
            if starts[mid][0] <= local:
                lo = mid + 1
            else:
                hi = mid
        return starts[lo - 1][1]  # lo == 0 wraps to the last shift of the previous day

    def lighting_of(self, lux: float | None, brightness: float) -> str:
        """Lighting bucket: from the lux sensor when present, else from mean frame brightness."""
        if lux is not None:
            return self._names[bisect_right(self._lux_edges, lux)]
        return self._names[bisect_right(self._bright_edges, brightness)]

    def assign(self, event: CameraEvent, stats: ImageStats) -> SliceKey:
        """The event's slice; ``event.shift`` (if set) overrides the shift schedule."""
        lux = event.lighting.lux if event.lighting is not None else None
        shift = event.shift if event.shift else self.shift_of(event.captured_at)
        return SliceKey(event.line_id, self.lighting_of(lux, stats.brightness), shift)
