"""Parse and validate one camera event line. Failures raise :class:`~streams.errors.EventRejected`.

The reasons of this stage:

- ``not_json``, ``schema_invalid``: not a JSON object / not a valid
  :class:`~schemas.events.CameraEvent`; ``event_too_large``: a line longer than any accepted event
  could be (refused before parsing).
- ``clock_out_of_range``: ``captured_at`` before ``LINEWATCH_INGEST__CAPTURED_AT_MIN`` or more
  than ``LINEWATCH_INGEST__CAPTURED_AT_MAX_AHEAD_S`` after the time of ingest (a camera with a
  broken clock).
- ``image_too_large``: an inline base64 image longer than ``LINEWATCH_INGEST__MAX_IMAGE_BYTES``
  could encode (refused before validation).

The frame itself is fetched by :mod:`streams.ingest.frame` and decoded by
:mod:`streams.ingest.decode`.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

from pydantic import ValidationError

from schemas.events import CameraEvent, utc_iso
from streams.errors import EventRejected
from streams.ingest.limits import IngestLimits

__all__ = ["FIELD_FIXES", "check_clock", "event_too_large", "parse_event", "validation_detail"]

_DEFAULT_LIMITS = IngestLimits()


_LONGEST_INT = 400
"""Digits of the longest JSON integer read as an ``int``; longer ones (past any field's range,
and past Python's int-string limit of 4300 digits) are read as a float (``±inf``), which
validation then refuses naming the field."""


def _json_int(text: str) -> int | float:
    """A JSON integer: an ``int``, or a float when it has more than ``_LONGEST_INT`` digits.

    >>> _json_int("12"), _json_int("-" + "9" * 5000)
    (12, -inf)
    """
    return int(text) if len(text) <= _LONGEST_INT else float(text)


FIELD_FIXES = {
    "captured_at": 'ISO 8601 with a time zone, e.g. "2026-11-29T06:00:00.123Z" or '
    '"2026-11-29T07:00:00+01:00"',
    "labelled_at": 'ISO 8601 with a time zone, e.g. "2026-11-29T06:05:00Z"',
    "event_id": 'a UUID, e.g. "0b9f8e9a-2a53-4c9e-9c57-2f1b8f0d1a11"; from an id of your own: '
    'str(uuid.uuid5(uuid.NAMESPACE_URL, "cam-1a/frame-000123")), the same for its label',
}
"""The fix a newcomer needs, by field of the wire contract, appended to its validation error."""


def validation_detail(exc: ValidationError, where: str = "") -> str:
    """The first five errors as ``field: message`` (``where`` before each field), each followed
    by the fix for that field (:data:`FIELD_FIXES`) where one is known; never the input.

    >>> from schemas.events import GroundTruth
    >>> try:
    ...     GroundTruth.model_validate({"event_id": "frame-1", "objects": [],
    ...                                 "labelled_at": "2026-11-29T06:05:00Z"})
    ... except ValidationError as exc:
    ...     print(validation_detail(exc))  # doctest: +ELLIPSIS
    event_id: Input should be a valid UUID, ... (use a UUID, e.g. "0b9f8e9a-...
    """
    parts = []
    for err in exc.errors(include_input=False)[:5]:
        loc = ".".join(str(p)[:100] for p in err["loc"]) or "(root)"
        fix = FIELD_FIXES.get(str(err["loc"][-1])) if err["loc"] else None
        parts.append(f"{where}{loc}: {err['msg']}" + (f" (use {fix})" if fix else ""))
    return "; ".join(parts)


def check_clock(captured_at: datetime, limits: IngestLimits, now: datetime) -> None:
    """Reject a capture time outside ``[captured_at_min, now + captured_at_max_ahead]``.

    >>> from datetime import timedelta
    >>> now = datetime(2026, 11, 29, tzinfo=UTC)
    >>> check_clock(now + timedelta(hours=1), IngestLimits(), now)  # within a day: accepted
    >>> check_clock(datetime(1970, 1, 1, tzinfo=UTC), IngestLimits(), now)
    Traceback (most recent call last):
    ...
    streams.errors.EventRejected: clock_out_of_range: captured_at 1970-01-01T00:00:00.000Z is ...
    """
    latest = now + limits.captured_at_max_ahead
    if limits.captured_at_min <= captured_at <= latest:
        return
    raise EventRejected(
        "clock_out_of_range",
        f"captured_at {utc_iso(captured_at)} is outside the accepted window "
        f"[{utc_iso(limits.captured_at_min)}, {utc_iso(latest)}] "
        "(LINEWATCH_INGEST__CAPTURED_AT_MIN to "
        "LINEWATCH_INGEST__CAPTURED_AT_MAX_AHEAD_S="
        f"{limits.captured_at_max_ahead.total_seconds():g} "
        "after ingest); fix the camera's clock, or widen the window for a backfill",
    )


def event_too_large(length: int, limits: IngestLimits) -> EventRejected:
    """The rejection of a line of ``length`` bytes, longer than any valid event."""
    return EventRejected(
        "event_too_large",
        f"line is {length} bytes; no valid event is longer than {limits.max_event_bytes} (a "
        "base64 frame of "
        f"LINEWATCH_INGEST__MAX_IMAGE_BYTES={limits.max_image_bytes} plus its fields); "
        "raise LINEWATCH_INGEST__MAX_IMAGE_BYTES to accept larger frames",
    )


def parse_event(
    payload: bytes | str, limits: IngestLimits = _DEFAULT_LIMITS, *, now: datetime | None = None
) -> CameraEvent:
    """Validate one JSON camera event: its size, its schema and its clock (``now``: ingest time).

    Lines longer than ``limits.max_event_bytes`` are refused before they are parsed. Whatever
    the line holds, the only exception raised is :class:`EventRejected`.

    A line too short to hold an image over ``limits.max_image_bytes`` is parsed and validated
    in one call (``CameraEvent.model_validate_json``); a line that fails it, or a longer one,
    goes through ``json.loads`` and ``model_validate`` step by step, which name the reason
    (``not_json``, ``image_too_large``, ``schema_invalid``). Both accept the same events.
    """
    if len(payload) > limits.max_event_bytes:
        raise event_too_large(len(payload), limits)
    event = None
    if len(payload) * 3 // 4 <= limits.max_image_bytes:  # no image in it can be too large
        try:  # one pass in pydantic-core: JSON and schema at once
            event = CameraEvent.model_validate_json(payload)
        except Exception:  # the path below says exactly why (not_json or schema_invalid)
            event = None
    if event is None:
        event = _parse_checked(payload, limits)
    try:
        check_clock(event.captured_at, limits, now if now is not None else datetime.now(UTC))
    except EventRejected:
        raise
    except Exception as exc:  # e.g. an offset that moves the time past datetime's range
        raise EventRejected.failed("clock_out_of_range", "checking captured_at", exc) from exc
    return event


def _parse_checked(payload: bytes | str, limits: IngestLimits) -> CameraEvent:
    """:func:`parse_event`'s JSON and schema, step by step, each failure with its reason."""
    try:
        obj = json.loads(payload, parse_int=_json_int)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise EventRejected("not_json", f"not a JSON object ({exc})") from exc
    except RecursionError as exc:
        raise EventRejected("not_json", "JSON nested too deeply to be an event") from exc
    except Exception as exc:  # e.g. an integer past Python's 4300-digit limit
        raise EventRejected.failed("not_json", "parsing the JSON", exc) from exc
    if not isinstance(obj, dict):
        raise EventRejected("not_json", f"expected a JSON object, got {type(obj).__name__}")
    image = obj.get("image")
    data = image.get("data") if isinstance(image, dict) else None
    if isinstance(data, str) and len(data) * 3 // 4 > limits.max_image_bytes:
        raise EventRejected(
            "image_too_large",
            f"image is ~{len(data) * 3 // 4} bytes, limit is {limits.max_image_bytes} "
            "(raise LINEWATCH_INGEST__MAX_IMAGE_BYTES to accept larger frames)",
        )
    try:
        event = CameraEvent.model_validate(obj)
    except ValidationError as exc:
        raise EventRejected("schema_invalid", validation_detail(exc)) from exc
    except Exception as exc:  # a validator that raised something else: still this event's
        raise EventRejected.failed("schema_invalid", "validating the event", exc) from exc
    return event
