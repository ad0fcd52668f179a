"""The first pipeline stage: raw bytes → validated event → decoded RGB frame, or a rejection."""

from __future__ import annotations

from streams.ingest.decode import DecodedFrame, decode_frame, decode_image, parse_event
from streams.ingest.raw import RawRecord

__all__ = ["DecodedFrame", "RawRecord", "decode_frame", "decode_image", "parse_event"]
