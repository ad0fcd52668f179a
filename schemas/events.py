"""The wire contract: camera events and ground-truth labels, one JSON object per line/message.

>>> ev = CameraEvent.model_validate_json(
...     '{"event_id": "0b9f8e9a-2a53-4c9e-9c57-2f1b8f0d1a11", "camera_id": "cam-1a",'
...     ' "line_id": "line-1", "captured_at": "2026-11-29T06:00:00.123Z",'
...     ' "image": {"encoding": "jpeg", "data": "/9j/"}}')
>>> ev.captured_at.tzinfo is not None
True
>>> CameraEvent.model_validate_json('{"event_id": "x"}')  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
pydantic_core._pydantic_core.ValidationError: ...
"""

from __future__ import annotations

import binascii
import math
from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID

import pybase64
from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    model_validator,
)

from schemas.columns import String

__all__ = [
    "AuditDesign",
    "BoundingBox",
    "CameraEvent",
    "GroundTruth",
    "GroundTruthObject",
    "ImageEncoding",
    "ImagePayload",
    "Lighting",
]

ImageEncoding = Literal["jpeg", "png"]


def _valid_box(box: tuple[float, float, float, float]) -> tuple[float, float, float, float]:
    x1, y1, x2, y2 = box
    if not all(math.isfinite(v) for v in box):
        raise ValueError(f"box corners must be finite numbers, got {list(box)}")
    if not (x2 > x1 and y2 > y1):
        raise ValueError(f"box must be [x1, y1, x2, y2] with x2 > x1 and y2 > y1, got {list(box)}")
    return box


BoundingBox = Annotated[tuple[float, float, float, float], AfterValidator(_valid_box)]
"""A box in pixels of the original frame: ``[x1, y1, x2, y2]``."""


_IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp")


def _looks_like_path(value: str) -> bool:
    r"""Whether an image's ``data`` looks like a file path or uri rather than base64.

    >>> _looks_like_path("/data/frames/a.jpg"), _looks_like_path("C:\\frames\\a.PNG")
    (True, True)
    >>> _looks_like_path("file:///data/a.jpg"), _looks_like_path("/9j/4AAQSkZJRg==")
    (True, False)
    """
    short = value.strip()
    if len(short) > 4096:
        return False
    lowered = short.lower()
    return lowered.startswith("file:") or (
        ("/" in short or "\\" in short) and lowered.endswith(_IMAGE_SUFFIXES)
    )


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


class ImagePayload(_Strict):
    """The frame: inline base64 ``data`` with its ``encoding``, or a ``uri`` (``file://``).

    ``data`` is base64-decoded once, during validation (an invalid string is a validation
    error); :meth:`image_bytes` hands out those bytes, so no later stage decodes it again.

    >>> p = ImagePayload.model_validate({"encoding": "jpeg", "data": "/9j/"})
    >>> p.image_bytes(), p.encoded_size()
    (b'\\xff\\xd8\\xff', 3)
    """

    encoding: ImageEncoding | None = None
    data: str | None = Field(None, description="Base64 of the encoded image bytes.")
    uri: str | None = Field(None, description="file:///absolute/path.jpg")
    _bytes: bytes | None = PrivateAttr(None)

    @model_validator(mode="after")
    def _one_source(self) -> ImagePayload:
        if (self.data is None) == (self.uri is None):
            raise ValueError("image needs exactly one of 'data' (with 'encoding') or 'uri'")
        if self.data is not None and self.encoding is None:
            raise ValueError("image 'data' needs an 'encoding' ('jpeg' or 'png')")
        if self.uri is not None and not self.uri.startswith("file://"):
            raise ValueError(f"image uri must be a file:// uri, got {self.uri[:40]!r}")
        if self.data is not None:
            self._bytes = _b64decode(self.data)
        return self

    def image_bytes(self) -> bytes | None:
        """The decoded ``data`` (``None`` for a ``uri``): decoded at validation, kept."""
        if self._bytes is None and self.data is not None:  # built without validation
            self._bytes = _b64decode(self.data)
        return self._bytes

    def encoded_size(self) -> int:
        """Size in bytes of the decoded ``data`` (0 for a ``uri``)."""
        raw = self.image_bytes()
        return 0 if raw is None else len(raw)


def _b64decode(value: str) -> bytes:
    """Strict base64 (pybase64: SIMD, ~10x the standard library's speed on a frame)."""
    try:
        return pybase64.b64decode(value, validate=True)
    except (binascii.Error, ValueError) as exc:
        if _looks_like_path(value):
            raise ValueError(
                "image data holds a file path, not base64 bytes: give the file as "
                '"uri": "file:///data/frames/a.jpg" instead (an absolute path under '
                "LINEWATCH_INGEST__IMAGE_ROOTS)"
            ) from exc
        raise ValueError(f"image data is not valid base64 ({exc})") from exc


class Lighting(_Strict):
    """Optional sensor readings at the camera."""

    lux: float | None = Field(None, ge=0, le=200_000)
    colour_temp_k: float | None = Field(None, ge=1000, le=20_000)


class CameraEvent(_Strict):
    """One frame from one camera on one line.

    The text fields are stored in ``String`` columns and so must be UTF-8 (no lone surrogate,
    :mod:`schemas.columns`): an event that could not be stored is refused when it is parsed.
    """

    event_id: UUID
    camera_id: String = Field(min_length=1, max_length=128)
    line_id: String = Field(min_length=1, max_length=128)
    captured_at: AwareDatetime
    image: ImagePayload
    lighting: Lighting | None = None
    shift: String | None = Field(None, max_length=64, description="Overrides the shift schedule.")
    product_variant: String | None = Field(None, max_length=128)


class GroundTruthObject(_Strict):
    """One labelled defect."""

    class_name: String = Field(min_length=1, max_length=64)
    box: BoundingBox


class AuditDesign(_Strict):
    """How a label's unit was chosen for review: the audit policy and the unit's probability of
    being chosen by it (``1`` for every unit the policy always reviews, e.g. every flagged one).

    Metrics weight a label by ``1 / inclusion_probability`` (docs/estimation.md, "Audits").
    """

    policy: str = Field(
        min_length=1,
        max_length=64,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9 ._:/+%-]*$",
        description="Short name of the audit policy, e.g. 'flagged+2%passed' or 'plan:<id>'.",
    )
    inclusion_probability: float = Field(
        gt=0, le=1, description="Probability that the policy chose this unit: 0 < p <= 1."
    )


class GroundTruth(_Strict):
    """Human review of one event; an empty ``objects`` list means a good unit.

    ``audit`` says how the unit was chosen; a label without it (a complaint, an ad-hoc check)
    counts in design-weighted rates only where every frame of its slice is labelled (a census).
    """

    event_id: UUID
    objects: list[GroundTruthObject]
    source: String = Field("audit", max_length=64)
    labelled_at: AwareDatetime
    audit: AuditDesign | None = None


def utc_iso(moment: datetime) -> str:
    """ISO-8601 with a ``Z`` suffix, millisecond precision."""
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")
