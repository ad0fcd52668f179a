"""The first pipeline stage: raw bytes → validated event → decoded RGB frame, or a rejection.

Where the raw bytes come from (files, stdin, the simulator) is :mod:`streams.ingest.sources`;
parsing and validating a line, :mod:`~streams.ingest.event`; reading ``file://`` frames,
:mod:`~streams.ingest.files`; fetching and decoding an event's frame,
:mod:`~streams.ingest.frame`; image bytes to pixels, :mod:`~streams.ingest.decode`.
"""

from __future__ import annotations

from streams.ingest.decode import decode_image, describe_bytes
from streams.ingest.event import check_clock, event_too_large, parse_event
from streams.ingest.files import read_image_file
from streams.ingest.frame import DecodedFrame, decode_frame
from streams.ingest.limits import IngestLimits
from streams.ingest.raw import LineCut, RawRecord, read_lines
from streams.ingest.roots import ImageRoot

__all__ = [
    "DecodedFrame",
    "ImageRoot",
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
