"""The first pipeline stage: raw bytes → validated event → decoded RGB frame, or a rejection.

Where the raw bytes come from (files, stdin, the simulator) is :mod:`streams.ingest.sources`.
"""

from __future__ import annotations

from streams.ingest.decode import DecodedFrame, decode_frame, decode_image, parse_event
from streams.ingest.raw import RawRecord

__all__ = ["DecodedFrame", "RawRecord", "decode_frame", "decode_image", "parse_event"]
