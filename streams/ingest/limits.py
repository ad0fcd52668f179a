"""What ingest accepts: frame sizes, the folders ``file://`` frames may come from, the clock window.

Built once by the entry point (:meth:`IngestLimits.from_settings`) and passed to
:func:`~streams.ingest.parse_event` and :func:`~streams.ingest.decode_frame`. The defaults are
the safe ones: no ``file://`` frame is read until the operator lists folders in
``LINEWATCH_INGEST__IMAGE_ROOTS``.

>>> limits = IngestLimits()
>>> limits.image_roots, limits.max_image_pixels == 4096 * 4096, limits.min_image_side
((), True, 8)
>>> limits.max_event_bytes > limits.max_image_bytes * 4 // 3
True
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from streams.ingest.roots import ImageRoot

if TYPE_CHECKING:
    from streams.config import Settings

__all__ = ["EVENT_OVERHEAD_BYTES", "IngestLimits"]

EVENT_OVERHEAD_BYTES = 64 * 1024
"""Room for an event's JSON fields besides its base64 image, when bounding a whole line."""


@dataclass(frozen=True, slots=True)
class IngestLimits:
    """Bounds of one accepted camera event (see the ``LINEWATCH_*`` settings of the same names).

    ``image_roots`` are the allowed folders, each resolved and held open as a directory
    descriptor (:class:`~streams.ingest.roots.ImageRoot`).
    ``captured_at_max_ahead`` is how far ``captured_at`` may lie after the time of ingest.
    """

    max_image_bytes: int = 4 * 1024 * 1024
    max_image_pixels: int = 4096 * 4096
    min_image_side: int = 8
    max_jpeg_scans: int = 100
    max_decode_ms: float = 1000.0
    image_roots: tuple[ImageRoot, ...] = ()
    captured_at_min: datetime = datetime(2000, 1, 1, tzinfo=UTC)
    captured_at_max_ahead: timedelta = timedelta(days=1)

    @property
    def max_event_bytes(self) -> int:
        """The longest event line worth parsing: a base64 image at the byte limit plus fields."""
        return self.max_image_bytes * 4 // 3 + 4 + EVENT_OVERHEAD_BYTES

    @classmethod
    def from_settings(cls, settings: Settings) -> IngestLimits:
        """The limits configured by ``settings``; the image roots are resolved and opened here,
        once (:class:`~streams.errors.ConfigError` for a root that cannot be opened)."""
        return cls(
            max_image_bytes=settings.ingest.max_image_bytes,
            max_image_pixels=settings.ingest.max_image_pixels,
            min_image_side=settings.ingest.min_image_side,
            max_jpeg_scans=settings.ingest.max_jpeg_scans,
            max_decode_ms=settings.ingest.max_decode_ms,
            image_roots=tuple(ImageRoot.open(root) for root in settings.ingest.image_roots),
            captured_at_min=settings.ingest.captured_at_min,
            captured_at_max_ahead=timedelta(seconds=settings.ingest.captured_at_max_ahead_s),
        )
