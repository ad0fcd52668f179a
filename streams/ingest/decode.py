"""Parse and decode camera events. Failures raise :class:`~streams.errors.EventRejected`.

>>> import base64, io
>>> from PIL import Image
>>> buf = io.BytesIO(); Image.new("RGB", (4, 3), (10, 20, 30)).save(buf, "PNG")
>>> decode_image(buf.getvalue(), "png").shape
(3, 4, 3)
>>> decode_image(b"not an image", "jpeg")
Traceback (most recent call last):
...
streams.errors.ImageDecodeError: image_undecodable: cannot decode jpeg bytes (12 bytes): ...
"""

from __future__ import annotations

import base64
import io
import json
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlparse

import numpy as np
import numpy.typing as npt
from PIL import Image, UnidentifiedImageError
from pydantic import ValidationError

from schemas.events import CameraEvent
from streams.errors import EventRejected, ImageDecodeError

__all__ = ["DecodedFrame", "decode_frame", "decode_image", "parse_event"]

_PIL_FORMATS = {"jpeg": "JPEG", "png": "PNG"}


@dataclass(frozen=True, slots=True)
class DecodedFrame:
    """A validated event with its frame as an ``(H, W, 3)`` uint8 RGB array."""

    event: CameraEvent
    rgb: npt.NDArray[np.uint8]


def _validation_detail(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors()[:5]:
        loc = ".".join(str(p) for p in err["loc"]) or "(root)"
        parts.append(f"{loc}: {err['msg']}")
    return "; ".join(parts)


def parse_event(payload: bytes | str, *, max_image_bytes: int) -> CameraEvent:
    """Validate one JSON camera event; reject non-JSON, schema violations and oversize frames."""
    try:
        obj = json.loads(payload)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise EventRejected("not_json", f"not a JSON object ({exc})") from exc
    if not isinstance(obj, dict):
        raise EventRejected("not_json", f"expected a JSON object, got {type(obj).__name__}")
    data = obj.get("image", {}).get("data") if isinstance(obj.get("image"), dict) else None
    if isinstance(data, str) and len(data) * 3 // 4 > max_image_bytes:
        raise EventRejected(
            "image_too_large",
            f"image is ~{len(data) * 3 // 4} bytes, limit is {max_image_bytes} "
            "(raise LINEWATCH_MAX_IMAGE_BYTES to accept larger frames)",
        )
    try:
        return CameraEvent.model_validate(obj)
    except ValidationError as exc:
        raise EventRejected("schema_invalid", _validation_detail(exc)) from exc


def decode_image(data: bytes, encoding: str) -> npt.NDArray[np.uint8]:
    """Decode JPEG/PNG bytes to an ``(H, W, 3)`` uint8 RGB array."""
    expected = _PIL_FORMATS.get(encoding)
    if expected is None:
        raise ImageDecodeError(f"unsupported encoding {encoding!r}; supported: jpeg, png")
    try:
        with Image.open(io.BytesIO(data)) as img:
            if img.format != expected:
                raise ImageDecodeError(f"bytes are {img.format}, not {encoding}")
            rgb = np.asarray(img.convert("RGB"), dtype=np.uint8)
    except ImageDecodeError:
        raise
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        raise ImageDecodeError(
            f"cannot decode {encoding} bytes ({len(data)} bytes): {exc}"
        ) from exc
    return rgb


def _read_uri(uri: str, max_image_bytes: int) -> tuple[bytes, str]:
    path = Path(unquote(urlparse(uri).path))
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise ImageDecodeError(f"cannot read {uri}: {exc.strerror}") from exc
    if size > max_image_bytes:
        raise EventRejected("image_too_large", f"{uri} is {size} bytes, limit {max_image_bytes}")
    suffix = path.suffix.lower()
    encoding = "png" if suffix == ".png" else "jpeg"
    return path.read_bytes(), encoding


def decode_frame(event: CameraEvent, *, max_image_bytes: int) -> DecodedFrame:
    """Fetch (inline or ``file://``) and decode the event's frame."""
    image = event.image
    if image.data is not None:
        raw = base64.b64decode(image.data)
        if len(raw) > max_image_bytes:
            raise EventRejected(
                "image_too_large", f"image is {len(raw)} bytes, limit {max_image_bytes}"
            )
        encoding: str = image.encoding or "jpeg"
    else:
        assert image.uri is not None  # guaranteed by ImagePayload's validator
        raw, encoding = _read_uri(image.uri, max_image_bytes)
    return DecodedFrame(event=event, rgb=decode_image(raw, encoding))
