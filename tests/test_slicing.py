"""Slice assignment: shift schedule in the plant's timezone (with DST), lighting buckets."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, time, timedelta

import pytest

from schemas.events import CameraEvent
from streams.config import Settings, ShiftStart
from streams.errors import ConfigError
from streams.features import ImageStats
from streams.slicing import SliceKey, Slicer


def _stats(brightness: float) -> ImageStats:
    return ImageStats(brightness, 0.1, 0.05, 0.0, 6500.0, 0.0, 0.0)


def _event(at: datetime, lux: float | None = None, shift: str | None = None) -> CameraEvent:
    data: dict[str, object] = {
        "event_id": str(uuid.UUID(int=1)),
        "camera_id": "cam-1",
        "line_id": "line-2",
        "captured_at": at.isoformat(),
        "image": {"encoding": "jpeg", "data": "/9j/"},
    }
    if lux is not None:
        data["lighting"] = {"lux": lux}
    if shift is not None:
        data["shift"] = shift
    return CameraEvent.model_validate(data)


def test_utc_shift_boundaries() -> None:
    s = Slicer(Settings())
    day = datetime(2026, 5, 4, tzinfo=UTC)
    assert s.shift_of(day + timedelta(hours=21, minutes=59, seconds=59)) == "evening"
    assert s.shift_of(day + timedelta(hours=22)) == "night"
    assert s.shift_of(day + timedelta(hours=5, minutes=59, seconds=59)) == "night"  # wraps
    assert s.shift_of(day) == "night"
    assert s.shift_of(day + timedelta(hours=6)) == "day"
    assert s.shift_of(day + timedelta(hours=13, minutes=59, seconds=59, microseconds=999999)) == (
        "day"
    )
    assert s.shift_of(day + timedelta(hours=14)) == "evening"


def test_non_utc_timezone() -> None:
    s = Slicer(Settings(plant={"timezone": "America/New_York"}))
    # 2026-07-01 22:00 EDT = 02:00 UTC next day.
    assert s.shift_of(datetime(2026, 7, 2, 1, 59, 59, tzinfo=UTC)) == "evening"
    assert s.shift_of(datetime(2026, 7, 2, 2, 0, 0, tzinfo=UTC)) == "night"
    # The same instant given with another offset is the same shift.
    other = datetime(2026, 7, 2, 2, 0, 0, tzinfo=UTC).astimezone()
    assert s.shift_of(other) == "night"


@pytest.mark.parametrize(
    ("utc_before", "utc_at"),
    [
        # Sunday 2026-03-29 (spring forward at 01:00 UTC): 06:00 CEST = 04:00 UTC.
        (datetime(2026, 3, 29, 3, 59, 59, tzinfo=UTC), datetime(2026, 3, 29, 4, tzinfo=UTC)),
        # Saturday before, still CET: 06:00 CET = 05:00 UTC.
        (datetime(2026, 3, 28, 4, 59, 59, tzinfo=UTC), datetime(2026, 3, 28, 5, tzinfo=UTC)),
        # Sunday 2026-10-25 (fall back at 01:00 UTC): 06:00 CET = 05:00 UTC.
        (datetime(2026, 10, 25, 4, 59, 59, tzinfo=UTC), datetime(2026, 10, 25, 5, tzinfo=UTC)),
        # Saturday before, still CEST: 06:00 CEST = 04:00 UTC.
        (datetime(2026, 10, 24, 3, 59, 59, tzinfo=UTC), datetime(2026, 10, 24, 4, tzinfo=UTC)),
    ],
)
def test_berlin_dst_days(utc_before: datetime, utc_at: datetime) -> None:
    s = Slicer(Settings(plant={"timezone": "Europe/Berlin"}))
    assert s.shift_of(utc_before) == "night"
    assert s.shift_of(utc_at) == "day"


def test_shift_starting_inside_dst_gap_and_overlap() -> None:
    shifts = [
        ShiftStart(name="early", start=time(0, 0)),
        ShiftStart(name="late", start=time(2, 30)),
    ]
    s = Slicer(Settings(plant={"timezone": "Europe/Berlin", "shifts": shifts}))
    # Spring: 02:00-03:00 local does not exist; the shift starting 02:30 runs from 03:00 CEST.
    assert s.shift_of(datetime(2026, 3, 29, 0, 59, 59, tzinfo=UTC)) == "early"  # 01:59:59 CET
    assert s.shift_of(datetime(2026, 3, 29, 1, 0, 0, tzinfo=UTC)) == "late"  # 03:00 CEST
    # Autumn: 02:00-03:00 local happens twice; the shift follows the wall clock.
    assert s.shift_of(datetime(2026, 10, 25, 0, 30, tzinfo=UTC)) == "late"  # 02:30 CEST
    assert s.shift_of(datetime(2026, 10, 25, 1, 15, tzinfo=UTC)) == "early"  # 02:15 CET
    assert s.shift_of(datetime(2026, 10, 25, 1, 30, tzinfo=UTC)) == "late"  # 02:30 CET


def test_naive_datetime_is_rejected() -> None:
    with pytest.raises(ConfigError, match="timezone"):
        Slicer(Settings()).shift_of(datetime(2026, 1, 1, 12, 0))


def test_lux_buckets_and_brightness_fallback() -> None:
    s = Slicer(Settings())  # lux edges 200/400/900, brightness edges .18/.30/.61
    assert [s.lighting_of(x, 0.0) for x in (0.0, 199.9, 200.0, 399, 900, 5000)] == [
        "dark",
        "dark",
        "dim",
        "dim",
        "bright",
        "bright",
    ]
    assert [s.lighting_of(None, b) for b in (0.1, 0.2, 0.5, 0.61, 0.9)] == [
        "dark",
        "dim",
        "normal",
        "bright",
        "bright",
    ]
    # lux wins over brightness when the sensor reports it
    assert s.lighting_of(100.0, 0.9) == "dark"


def test_assign_uses_sensor_schedule_and_override() -> None:
    s = Slicer(Settings(plant={"timezone": "Europe/Berlin"}))
    at = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)  # 13:00 CET -> day
    assert s.assign(_event(at, lux=600.0), _stats(0.1)) == SliceKey("line-2", "normal", "day")
    assert s.assign(_event(at), _stats(0.1)) == SliceKey("line-2", "dark", "day")
    assert s.assign(_event(at, shift="maintenance"), _stats(0.5)).shift == "maintenance"
