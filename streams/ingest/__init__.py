"""The first pipeline stage: raw bytes → validated event → decoded RGB frame, or a rejection.

Where the raw bytes come from (files, stdin, the simulator) is :mod:`streams.ingest.sources`.
"""

from __future__ import annotations

from streams.ingest.decode import (
    DecodedFrame,
    check_clock,
    decode_frame,
    decode_image,
    describe_bytes,
    event_too_large,
    parse_event,
    read_image_file,
)
from streams.ingest.limits import IngestLimits
from streams.ingest.raw import LineCut, RawRecord, read_lines

__all__ = [
    "DecodedFrame",
    "IngestLimits",
    "LineCut",
    "RawRecord",
    "check_clock",
    "decode_frame",
    "decode_image",
    "describe_bytes",
    "event_too_large",
    "parse_event",
    "read_image_file",
    "read_lines",
]
