"""Decode image bytes to pixels. Failures raise :class:`~streams.errors.EventRejected`.

- ``image_too_large``: more pixels than ``LINEWATCH_INGEST__MAX_IMAGE_PIXELS`` (read from the
  header, before decoding), or refused by Pillow's decompression-bomb check; ``image_too_small``:
  a side under ``LINEWATCH_INGEST__MIN_IMAGE_SIDE`` pixels.
- ``image_undecodable``: anything else the codec refuses, with what the bytes look like.

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

import io

import numpy as np
import numpy.typing as npt
from PIL import Image, UnidentifiedImageError

from streams.errors import EventRejected, ImageDecodeError
from streams.ingest.limits import IngestLimits

__all__ = ["decode_image", "describe_bytes"]

_PIL_FORMATS = {"jpeg": "JPEG", "png": "PNG"}
_DEFAULT_LIMITS = IngestLimits()

_ENCODING_OF = {"a PNG image": "png", "a JPEG image": "jpeg"}
"""The ``encoding`` to give for bytes :func:`describe_bytes` recognises as a supported format."""

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
