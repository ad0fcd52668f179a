"""parse_event's one-call path (``model_validate_json``) accepts what the step-by-step path accepts,
the same events, and leaves every refusal (and its reason) to the step-by-step path."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from streams.errors import EventRejected
from streams.ingest import IngestLimits, event
from streams.ingest.event import parse_event

NOW = datetime(2026, 11, 29, 12, tzinfo=UTC)
BASE: dict[str, Any] = {
    "event_id": "0b9f8e9a-2a53-4c9e-9c57-2f1b8f0d1a11",
    "camera_id": "cam-1a",
    "line_id": "line-1",
    "captured_at": "2026-11-29T06:00:00.123Z",
    "image": {"encoding": "jpeg", "data": "/9j/4AAQ"},
}

VALID = [
    BASE,
    {**BASE, "captured_at": "2026-11-29T07:00:00+01:00"},
    {**BASE, "lighting": {"lux": 500, "colour_temp_k": 5000.5}},
    {**BASE, "lighting": {"lux": None}},
    {**BASE, "shift": "  night  ", "product_variant": "v2"},
    {**BASE, "camera_id": " cam-1a ", "image": {"encoding": "png", "data": " iVBORw== "}},
    {**BASE, "image": {"uri": "file:///data/a.jpg"}},
]

INVALID = [
    ("not_json", b"{not json"),
    ("not_json", b"[1, 2]"),
    ("schema_invalid", json.dumps({**BASE, "lighting": {"lux": float("nan")}}).encode()),
    ("schema_invalid", json.dumps({**BASE, "event_id": "frame-1"}).encode()),
    ("schema_invalid", json.dumps({**BASE, "extra": 1}).encode()),
    ("schema_invalid", json.dumps({**BASE, "captured_at": "2026-11-29T06:00:00"}).encode()),
    ("schema_invalid", json.dumps({**BASE, "lighting": {"lux": "1" + "0" * 500}}).encode()),
    ("schema_invalid", json.dumps({**BASE, "image": {"encoding": "jpeg", "data": "%%"}}).encode()),
    ("clock_out_of_range", json.dumps({**BASE, "captured_at": "1970-01-01T00:00:00Z"}).encode()),
]


@pytest.mark.parametrize("obj", VALID)
def test_one_call_gives_the_step_by_step_event(
    obj: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    payload = json.dumps(obj).encode()
    limits = IngestLimits()
    slow = event._parse_checked(payload, limits)

    def refuse(*_: object) -> None:
        raise AssertionError("a valid event took the step-by-step path")

    monkeypatch.setattr(event, "_parse_checked", refuse)
    fast = parse_event(payload, limits, now=NOW)
    assert fast == slow
    assert fast.image.image_bytes() == slow.image.image_bytes()


@pytest.mark.parametrize(("reason", "payload"), INVALID)
def test_refusals_keep_their_reason(reason: str, payload: bytes) -> None:
    with pytest.raises(EventRejected) as caught:
        parse_event(payload, IngestLimits(), now=NOW)
    assert caught.value.reason == reason


def test_a_line_that_could_hold_a_too_large_image_is_checked_step_by_step(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    padded = json.dumps({**BASE, "image": {"encoding": "jpeg", "data": " " * 400 + "/9j/"}})
    limits = IngestLimits(max_image_bytes=200)
    with pytest.raises(EventRejected) as caught:
        parse_event(padded.encode(), limits, now=NOW)
    assert caught.value.reason == "image_too_large"
