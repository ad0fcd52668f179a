"""An event's frame: its bytes fetched (inline base64, or an allowed ``file://``) and decoded.

Fetching a file is :mod:`streams.ingest.files`'s; decoding the bytes is
:mod:`streams.ingest.decode`'s.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from schemas.events import CameraEvent
from streams.errors import EventRejected
from streams.ingest.decode import decode_image
from streams.ingest.files import file_encoding, read_image_file
from streams.ingest.limits import IngestLimits

__all__ = ["DecodedFrame", "decode_frame"]

_DEFAULT_LIMITS = IngestLimits()


@dataclass(frozen=True, slots=True)
class DecodedFrame:
    """A validated event with its frame as an ``(H, W, 3)`` uint8 RGB array."""

    event: CameraEvent
    rgb: npt.NDArray[np.uint8]


def decode_frame(event: CameraEvent, limits: IngestLimits = _DEFAULT_LIMITS) -> DecodedFrame:
    """Fetch (inline, or an allowed ``file://``) and decode the event's frame within ``limits``."""
    image = event.image
    inline = image.image_bytes()  # base64-decoded once, when the event was validated
    if inline is not None:
        raw = inline
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
        encoding = image.encoding or file_encoding(image.uri, raw)
    return DecodedFrame(event=event, rgb=decode_image(raw, encoding, limits))
