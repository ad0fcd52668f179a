"""A raw input record, before anything is parsed: bytes plus where they came from."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

__all__ = ["RawRecord"]


@dataclass(frozen=True, slots=True)
class RawRecord:
    """Bytes of one JSON event and their provenance.

    ``source`` names the place the bytes were read, e.g. ``file:events.jsonl:12`` (line 12) or
    ``kafka:camera-events:3:1042`` (partition 3, offset 1042); it is stored with dead letters.
    """

    payload: bytes
    source: str
    received_at: datetime
