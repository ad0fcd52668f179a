"""Parse and decode camera events. Failures raise :class:`~streams.errors.EventRejected`.

Every way a line can fail has its dead-letter reason:

- ``not_json``, ``schema_invalid``: not a JSON object / not a valid
  :class:`~schemas.events.CameraEvent`; ``event_too_large``: a line longer than any accepted event
  could be (refused before parsing).
- ``clock_out_of_range``: ``captured_at`` before ``LINEWATCH_INGEST__CAPTURED_AT_MIN`` or more
  than ``LINEWATCH_INGEST__CAPTURED_AT_MAX_AHEAD_S`` after the time of ingest (a camera with a
  broken clock).
- ``image_too_large``: more encoded bytes than ``LINEWATCH_INGEST__MAX_IMAGE_BYTES``, or more pixels
  than ``LINEWATCH_INGEST__MAX_IMAGE_PIXELS`` (read from the header, before decoding), or refused by
  Pillow's decompression-bomb check; ``image_too_small``: a side under
  ``LINEWATCH_INGEST__MIN_IMAGE_SIDE`` pixels.
- ``image_undecodable``: anything else the codec refuses, with what the bytes look like.
- ``image_uri_refused``: a ``file://`` frame that may not be read:
  ``LINEWATCH_INGEST__IMAGE_ROOTS`` is empty (the default), the path resolves outside those
  folders, the URI has a host, or the target is not a regular file (FIFO, device, directory);
  ``image_unreadable``: an allowed file that cannot be opened or read. These details never carry
  the file's size or bytes.

>>> import base64, io
>>> from PIL import Image
>>> buf = io.BytesIO(); Image.new("RGB", (12, 9), (10, 20, 30)).save(buf, "PNG")
>>> decode_image(buf.getvalue(), "png").shape
(9, 12, 3)
>>> decode_image(b"not an image", "jpeg")
Traceback (most recent call last):
...
streams.errors.ImageDecodeError: image_undecodable: not a jpeg image: found text
>>> decode_image(buf.getvalue(), "png", IngestLimits(max_image_pixels=100))
Traceback (most recent call last):
...
streams.errors.EventRejected: image_too_large: png frame is 12x9 = 108 pixels, ...
"""

from __future__ import annotations

import base64
import io
import json
import os
import stat
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import unquote, urlsplit

import numpy as np
import numpy.typing as npt
from PIL import Image, UnidentifiedImageError
from pydantic import ValidationError

from schemas.events import CameraEvent, utc_iso
from streams.errors import EventRejected, ImageDecodeError
from streams.ingest.limits import IngestLimits

__all__ = [
    "DecodedFrame",
    "check_clock",
    "decode_frame",
    "decode_image",
    "describe_bytes",
    "event_too_large",
    "parse_event",
    "read_image_file",
    "validation_detail",
]

_PIL_FORMATS = {"jpeg": "JPEG", "png": "PNG"}
_DEFAULT_LIMITS = IngestLimits()

_MAGIC = (
    (b"\x89PNG\r\n\x1a\n", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF8", "a GIF image"),
    (b"BM", "a BMP image"),
    (b"RIFF", "a RIFF container (WebP?)"),
    (b"II*\x00", "a TIFF image"),
    (b"MM\x00*", "a TIFF image"),
    (b"%PDF", "a PDF document"),
    (b"PK\x03\x04", "a ZIP archive"),
    (b"\x1f\x8b", "gzip data"),
)

_ENCODING_OF = {"a PNG image": "png", "a JPEG image": "jpeg"}
"""The ``encoding`` to give for bytes :func:`describe_bytes` recognises as a supported format."""

_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)  # the resolved path must not have become a symlink
_DIR_FLAGS = getattr(os, "O_DIRECTORY", 0) | getattr(os, "O_CLOEXEC", 0)
_OPEN_FLAGS = (
    os.O_RDONLY
    | getattr(os, "O_NONBLOCK", 0)  # a FIFO opens at once instead of waiting for a writer
    | _NOFOLLOW
    | getattr(os, "O_CLOEXEC", 0)
)


@dataclass(frozen=True, slots=True)
class DecodedFrame:
    """A validated event with its frame as an ``(H, W, 3)`` uint8 RGB array."""

    event: CameraEvent
    rgb: npt.NDArray[np.uint8]


def describe_bytes(data: bytes) -> str:
    """What some bytes look like, by their first bytes (never quoting them).

    >>> describe_bytes(b"GIF89a..."), describe_bytes(b""), describe_bytes(b"\\x00\\x01")
    ('a GIF image', 'no bytes', 'unrecognised binary data')
    """
    if not data:
        return "no bytes"
    for magic, what in _MAGIC:
        if data.startswith(magic):
            return what
    head = data[:64]
    if all(32 <= c < 127 or c in (9, 10, 13) for c in head):
        return "text"
    return "unrecognised binary data"


FIELD_FIXES = {
    "captured_at": 'ISO 8601 with a time zone, e.g. "2026-11-29T06:00:00.123Z" or '
    '"2026-11-29T07:00:00+01:00"',
    "labelled_at": 'ISO 8601 with a time zone, e.g. "2026-11-29T06:05:00Z"',
    "event_id": 'a UUID, e.g. "0b9f8e9a-2a53-4c9e-9c57-2f1b8f0d1a11"; from an id of your own: '
    'str(uuid.uuid5(uuid.NAMESPACE_URL, "cam-1a/frame-000123")), the same for its label',
}
"""The fix a newcomer needs, by field of the wire contract, appended to its validation error."""


def validation_detail(exc: ValidationError) -> str:
    """The first five errors as ``field: message``, each followed by the fix for that field
    (:data:`FIELD_FIXES`) where one is known.

    >>> from schemas.events import GroundTruth
    >>> try:
    ...     GroundTruth.model_validate({"event_id": "frame-1", "objects": [],
    ...                                 "labelled_at": "2026-11-29T06:05:00Z"})
    ... except ValidationError as exc:
    ...     print(validation_detail(exc))  # doctest: +ELLIPSIS
    event_id: Input should be a valid UUID, ... (use a UUID, e.g. "0b9f8e9a-...
    """
    parts = []
    for err in exc.errors()[:5]:
        loc = ".".join(str(p) for p in err["loc"]) or "(root)"
        fix = FIELD_FIXES.get(str(err["loc"][-1])) if err["loc"] else None
        parts.append(f"{loc}: {err['msg']}" + (f" (use {fix})" if fix else ""))
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

    Lines longer than ``limits.max_event_bytes`` are refused before they are parsed.
    """
    if len(payload) > limits.max_event_bytes:
        raise event_too_large(len(payload), limits)
    try:
        obj = json.loads(payload)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise EventRejected("not_json", f"not a JSON object ({exc})") from exc
    except RecursionError as exc:
        raise EventRejected("not_json", "JSON nested too deeply to be an event") from exc
    if not isinstance(obj, dict):
        raise EventRejected("not_json", f"expected a JSON object, got {type(obj).__name__}")
    data = obj.get("image", {}).get("data") if isinstance(obj.get("image"), dict) else None
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
    check_clock(event.captured_at, limits, now if now is not None else datetime.now(UTC))
    return event


def decode_image(
    data: bytes, encoding: str, limits: IngestLimits = _DEFAULT_LIMITS
) -> npt.NDArray[np.uint8]:
    """Decode JPEG/PNG bytes to an ``(H, W, 3)`` uint8 RGB array, within ``limits``.

    The pixel count is checked from the header, before any pixel is decoded. Only the codec of
    ``encoding`` parses the bytes. Errors never quote the bytes nor give their size.
    """
    expected = _PIL_FORMATS.get(encoding)
    if expected is None:
        raise ImageDecodeError(f"unsupported encoding {encoding!r}; supported: jpeg, png")
    try:
        with Image.open(io.BytesIO(data), formats=[expected]) as img:
            width, height = img.size
            if width * height > limits.max_image_pixels:
                raise EventRejected(
                    "image_too_large",
                    f"{encoding} frame is {width}x{height} = {width * height} pixels, the limit "
                    f"is {limits.max_image_pixels} (LINEWATCH_INGEST__MAX_IMAGE_PIXELS); "
                    "not decoded",
                )
            if min(width, height) < limits.min_image_side:
                raise EventRejected(
                    "image_too_small",
                    f"{encoding} frame is {width}x{height}; each side needs at least "
                    f"{limits.min_image_side} pixels (LINEWATCH_INGEST__MIN_IMAGE_SIDE)",
                )
            rgb = np.asarray(img.convert("RGB"), dtype=np.uint8)
    except EventRejected:
        raise
    except Image.DecompressionBombError as exc:
        raise EventRejected(
            "image_too_large",
            f"{encoding} frame refused by Pillow's decompression-bomb check: {exc}",
        ) from exc
    except UnidentifiedImageError as exc:
        found = describe_bytes(data)
        actual = _ENCODING_OF.get(found)
        fix = f'; set the event\'s image "encoding" to "{actual}"' if actual else ""
        raise ImageDecodeError(f"not a {encoding} image: found {found}{fix}") from exc
    except Exception as exc:  # any codec failure of untrusted bytes is this event's alone
        raise ImageDecodeError(
            f"cannot decode {encoding} ({type(exc).__name__}: {exc}); found {describe_bytes(data)}"
        ) from exc
    if rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ImageDecodeError(f"{encoding} decoded to shape {rgb.shape}, not (H, W, 3)")
    return rgb


def _refuse(uri: str, why: str) -> EventRejected:
    return EventRejected("image_uri_refused", f"{uri[:200]}: {why}")


def _allowed_path(uri: str, limits: IngestLimits) -> tuple[Path, Path]:
    """The image root and resolved path of a ``file://`` URI that lies under that root."""
    if not limits.image_roots:
        raise _refuse(
            uri,
            "file:// frames are off; list the folders they may be read from in "
            "LINEWATCH_INGEST__IMAGE_ROOTS (a JSON list, e.g. '[\"/data/frames\"]'), or send the "
            "image "
            "inline as base64 data",
        )
    parts = urlsplit(uri)
    if parts.scheme != "file":
        raise _refuse(uri, "only file:// URIs are supported")
    if parts.netloc:
        raise _refuse(uri, f"has a host part {parts.netloc[:60]!r}; write file:///absolute/path")
    if parts.query or parts.fragment:
        raise _refuse(uri, "a file URI takes no query or fragment")
    raw = unquote(parts.path)
    if "\x00" in raw or not raw.startswith("/"):
        raise _refuse(uri, "the path must be absolute and must not contain NUL")
    resolved = Path(os.path.realpath(raw))  # symlinks and '..' resolved before the check
    for root in limits.image_roots:
        if resolved.is_relative_to(root):
            return root, resolved
    raise _refuse(uri, "resolves outside the folders listed in LINEWATCH_INGEST__IMAGE_ROOTS")


def _open_under(root: Path, path: Path) -> int:
    """Open ``path`` one component at a time from ``root``, following no symlink on the way.

    ``path`` was resolved (no symlinks) when it was checked; walking it with ``O_NOFOLLOW``
    makes sure no component was swapped for a symlink since.
    """
    parts = path.relative_to(root).parts
    fd = os.open(root, os.O_RDONLY | _DIR_FLAGS)
    try:
        for part in parts[:-1]:
            inner = os.open(part, os.O_RDONLY | _DIR_FLAGS | _NOFOLLOW, dir_fd=fd)
            os.close(fd)
            fd = inner
        if not parts:  # the root itself: a directory, refused after fstat
            return os.dup(fd)
        return os.open(parts[-1], _OPEN_FLAGS, dir_fd=fd)
    finally:
        os.close(fd)


def _file_kind(mode: int) -> str:
    for test, what in (
        (stat.S_ISDIR, "a directory"),
        (stat.S_ISFIFO, "a FIFO"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISSOCK, "a socket"),
    ):
        if test(mode):
            return what
    return "not a regular file"


def read_image_file(uri: str, limits: IngestLimits) -> bytes:
    """The bytes of an allowed ``file://`` frame: a regular file, read without blocking.

    The size is checked on the opened descriptor and the read is bounded by it.
    """
    root, path = _allowed_path(uri, limits)
    try:
        fd = _open_under(root, path)
    except OSError as exc:
        raise EventRejected("image_unreadable", f"cannot open {uri[:200]}: {exc.strerror}") from exc
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise _refuse(uri, f"{_file_kind(st.st_mode)}; only regular files are read")
        if st.st_size > limits.max_image_bytes:
            raise EventRejected(
                "image_too_large",
                f"{uri[:200]} is larger than "
                f"LINEWATCH_INGEST__MAX_IMAGE_BYTES={limits.max_image_bytes}",
            )
        chunks: list[bytes] = []
        left = st.st_size
        while left > 0:
            chunk = os.read(fd, min(left, 1 << 20))
            if not chunk:
                break
            chunks.append(chunk)
            left -= len(chunk)
        return b"".join(chunks)
    except OSError as exc:
        raise EventRejected("image_unreadable", f"cannot read {uri[:200]}: {exc.strerror}") from exc
    finally:
        os.close(fd)


def _file_encoding(path: str, data: bytes) -> str:
    suffix = Path(path).suffix.lower()
    if suffix == ".png":
        return "png"
    if suffix in (".jpg", ".jpeg"):
        return "jpeg"
    return "png" if data.startswith(b"\x89PNG") else "jpeg"


def decode_frame(event: CameraEvent, limits: IngestLimits = _DEFAULT_LIMITS) -> DecodedFrame:
    """Fetch (inline, or an allowed ``file://``) and decode the event's frame within ``limits``."""
    image = event.image
    if image.data is not None:
        raw = base64.b64decode(image.data)
        if len(raw) > limits.max_image_bytes:
            raise EventRejected(
                "image_too_large",
                f"image is {len(raw)} bytes, limit {limits.max_image_bytes} "
                "(LINEWATCH_INGEST__MAX_IMAGE_BYTES)",
            )
        encoding: str = image.encoding or "jpeg"
    else:
        assert image.uri is not None  # guaranteed by ImagePayload's validator
        raw = read_image_file(image.uri, limits)
        encoding = image.encoding or _file_encoding(urlsplit(image.uri).path, raw)
    return DecodedFrame(event=event, rgb=decode_image(raw, encoding, limits))
