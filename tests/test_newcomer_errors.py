"""A newcomer's first mistakes each get the fix in the message: a naive or missing
``captured_at``, a non-UUID ``event_id``, a file path in ``image.data``, PNG bytes labelled
``jpeg``, and the lines setting given as a list."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
from PIL import Image

from streams.config import Settings
from streams.errors import ConfigError, EventRejected
from streams.ingest.decode import decode_image
from streams.ingest.event import parse_event
from streams.readiness.labels import label_records

GOOD: dict[str, Any] = {
    "event_id": "0b9f8e9a-2a53-4c9e-9c57-2f1b8f0d1a11",
    "camera_id": "cam-1a",
    "line_id": "line-1",
    "captured_at": "2026-11-29T06:00:00Z",
    "image": {"encoding": "jpeg", "data": "/9j/"},
}


def _rejected(**changes: Any) -> str:
    event = {**GOOD, **changes}
    event = {k: v for k, v in event.items() if v is not None}
    with pytest.raises(EventRejected) as caught:
        parse_event(json.dumps(event).encode())
    return caught.value.detail


@pytest.mark.parametrize("value", ["2026-11-29 06:00:00", None, "yesterday"])
def test_captured_at_shows_an_example(value: str | None) -> None:
    detail = _rejected(captured_at=value)
    assert "captured_at" in detail
    assert '"2026-11-29T06:00:00.123Z"' in detail


@pytest.mark.parametrize("value", ["frame-0001", 17])
def test_a_non_uuid_event_id_shows_a_uuid_and_how_to_derive_one(value: object) -> None:
    detail = _rejected(event_id=value)
    assert 'e.g. "0b9f8e9a-2a53-4c9e-9c57-2f1b8f0d1a11"' in detail
    assert "uuid.uuid5(" in detail


def test_a_label_with_a_non_uuid_event_id_shows_the_same_fix() -> None:
    label = {"event_id": "frame-1", "objects": [], "labelled_at": "2026-11-29T06:05:00Z"}
    good, bad = label_records([json.dumps(label)])
    assert not good
    assert "uuid.uuid5(" in bad[0].detail


@pytest.mark.parametrize("path", ["/data/frames/a.jpg", "frames/a.png", "file:///data/a.jpg"])
def test_a_path_in_data_says_use_uri(path: str) -> None:
    detail = _rejected(image={"encoding": "jpeg", "data": path})
    assert "file path" in detail
    assert '"uri": "file:///' in detail


def test_bad_base64_that_is_no_path_keeps_the_base64_message() -> None:
    assert "not valid base64" in _rejected(image={"encoding": "jpeg", "data": "abc!"})


def test_png_bytes_labelled_jpeg_say_which_encoding_to_set() -> None:
    buf = io.BytesIO()
    Image.new("RGB", (16, 16)).save(buf, "PNG")
    with pytest.raises(EventRejected) as caught:
        decode_image(buf.getvalue(), "jpeg")
    assert caught.value.reason == "image_undecodable"
    assert 'found a PNG image; set the event\'s image "encoding" to "png"' in caught.value.detail


def test_lines_as_a_list_answer_with_the_dict_form(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LINEWATCH_PLANT__LINES", '["press-a", "press-b"]')
    with pytest.raises(ConfigError) as caught:
        Settings()
    message = str(caught.value)
    assert "LINEWATCH_PLANT__LINES" in message
    assert "\n" not in message
    shown = message.split("for these lines: ", 1)[1]
    assert json.loads(shown) == {
        "press-a": {"takt_units_per_minute": 60},
        "press-b": {"takt_units_per_minute": 60},
    }
