"""Decode image bytes to pixels. Failures raise :class:`~streams.errors.EventRejected`.

- ``image_too_large``: more pixels than ``LINEWATCH_INGEST__MAX_IMAGE_PIXELS`` (read from the
  header, before decoding), or refused by Pillow's decompression-bomb check; ``image_too_small``:
  a side under ``LINEWATCH_INGEST__MIN_IMAGE_SIDE`` pixels.
- ``image_too_costly``: a JPEG of more scans than ``LINEWATCH_INGEST__MAX_JPEG_SCANS`` (counted
  in the bytes, before decoding: each scan of a progressive JPEG is one more pass over the whole
  frame, so a few hundred KB of empty scans cost minutes), or a frame whose decode took more CPU
  time than ``LINEWATCH_INGEST__MAX_DECODE_MS`` (measured as the decoding thread's CPU time, so the
  budget holds in the worker's decode thread and is not charged for other threads' work).
- ``image_undecodable``: anything else the codec refuses, with what the bytes look like.

What bounds a decode's cost: the encoded bytes (``LINEWATCH_INGEST__MAX_IMAGE_BYTES``), the pixels
(``LINEWATCH_INGEST__MAX_IMAGE_PIXELS``, from the header) and, for JPEG, the scans. A PNG's cost
is linear in its bytes and pixels (zlib inflate, then one filter pass per row), so the byte and
pixel limits bound it; the decode budget then refuses whatever still took too long. A decode is
not interrupted midway: the limits bound it beforehand, the budget keeps its frame out after.

JPEG frames are decoded by simplejpeg (libjpeg-turbo, the same library and the same settings,
accurate DCT and smooth upsampling, as Pillow's, so the pixels are identical); a JPEG simplejpeg
refuses (a libjpeg warning such as extraneous bytes), and a CMYK or YCCK frame (whose RGB the
two compute differently), goes to Pillow, as before, which
accepts or refuses it exactly as it did. PNG frames are Pillow's.

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
import time

import numpy as np
import numpy.typing as npt
import simplejpeg
from PIL import Image, UnidentifiedImageError

from streams.errors import EventRejected, ImageDecodeError
from streams.ingest.limits import IngestLimits

__all__ = ["decode_image", "describe_bytes", "jpeg_scans"]

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


_SOS = b"\xff\xda"
"""JPEG start-of-scan marker. Inside entropy-coded data a 0xFF byte is always followed by 0x00 or
a restart marker, so counting this pair counts the scans (plus any inside an embedded thumbnail,
which errs on the safe side)."""


_SAME_AS_PILLOW = frozenset({"YCbCr", "Gray"})
"""JPEG colour spaces whose RGB simplejpeg computes exactly as Pillow does (CMYK/YCCK differ)."""


def jpeg_scans(data: bytes) -> int:
    """How many scans a JPEG holds (1 for a baseline frame, ~10 for a usual progressive one).

    >>> jpeg_scans(b"\\xff\\xd8" + b"\\xff\\xda\\x00\\x08" * 3 + b"\\xff\\xd9")
    3
    """
    return data.count(_SOS)


def _check_size(encoding: str, width: int, height: int, limits: IngestLimits) -> None:
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


def decode_image(
    data: bytes, encoding: str, limits: IngestLimits = _DEFAULT_LIMITS
) -> npt.NDArray[np.uint8]:
    """Decode JPEG/PNG bytes to an ``(H, W, 3)`` uint8 RGB array, within ``limits``.

    The pixel count (and a JPEG's scan count) is checked before any pixel is decoded, and the
    decode's CPU time against ``limits.max_decode_ms`` after it. Only the codec of ``encoding``
    parses the bytes. Errors never quote the bytes nor give their size.
    """
    if encoding not in _PIL_FORMATS:
        raise ImageDecodeError(f"unsupported encoding {encoding!r}; supported: jpeg, png")
    # every scan's marker holds a 0xDA byte, so a count of that byte (several times faster than
    # counting the two-byte marker) bounds the scans: only a frame past the bound is counted
    if encoding == "jpeg" and data.count(_SOS[1:]) > limits.max_jpeg_scans:
        scans = jpeg_scans(data)
        if scans > limits.max_jpeg_scans:
            raise EventRejected(
                "image_too_costly",
                f"jpeg frame has {scans} scans, the limit is {limits.max_jpeg_scans} "
                "(LINEWATCH_INGEST__MAX_JPEG_SCANS; a progressive JPEG usually has about 10); "
                "not decoded",
            )
    start = time.thread_time()
    rgb = _decode_jpeg(data, limits) if encoding == "jpeg" else None
    if rgb is None:
        rgb = _decode_pillow(data, encoding, limits)
    spent_ms = (time.thread_time() - start) * 1000.0
    if spent_ms > limits.max_decode_ms:
        raise EventRejected(
            "image_too_costly",
            f"{encoding} frame took {spent_ms:.0f} ms of CPU to decode, the budget is "
            f"{limits.max_decode_ms:g} ms (LINEWATCH_INGEST__MAX_DECODE_MS); send smaller or "
            "baseline (non-progressive) frames, or raise the budget",
        )
    return rgb


def _decode_jpeg(data: bytes, limits: IngestLimits) -> npt.NDArray[np.uint8] | None:
    """simplejpeg's decode of a clean JPEG; ``None`` where Pillow must decide (see module doc)."""
    try:
        height, width, colorspace, _ = simplejpeg.decode_jpeg_header(data)
    except ValueError:
        return None
    if colorspace not in _SAME_AS_PILLOW:
        return None
    _check_size("jpeg", width, height, limits)
    try:
        rgb: npt.NDArray[np.uint8] = simplejpeg.decode_jpeg(data, colorspace="RGB", strict=True)
    except ValueError:
        return None
    return rgb


def _decode_pillow(data: bytes, encoding: str, limits: IngestLimits) -> npt.NDArray[np.uint8]:
    expected = _PIL_FORMATS[encoding]
    try:
        with Image.open(io.BytesIO(data), formats=[expected]) as img:
            _check_size(encoding, *img.size, limits)
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
