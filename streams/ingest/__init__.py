"""The first pipeline stage: raw bytes → validated event → decoded RGB frame, or a rejection."""

from __future__ import annotations

from streams.ingest.decode import (
    DecodedFrame,
    check_clock,
    decode_frame,
    decode_image,
    describe_bytes,
    parse_event,
    read_image_file,
)
from streams.ingest.limits import IngestLimits
from streams.ingest.raw import RawRecord

__all__ = [
    "DecodedFrame",
    "IngestLimits",
    "RawRecord",
    "check_clock",
    "decode_frame",
    "decode_image",
    "describe_bytes",
    "parse_event",
    "read_image_file",
]
