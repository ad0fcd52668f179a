"""What the detector says about a frame: the output contract of ``linewatch detect``."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["Detection", "FrameDetections"]


class Detection(BaseModel):
    """One predicted box, in pixels of the original frame."""

    model_config = ConfigDict(frozen=True)

    class_name: str
    confidence: float = Field(ge=0, le=1)
    box: tuple[float, float, float, float]


class FrameDetections(BaseModel):
    """All detections of one event, as one JSON line of ``linewatch detect``."""

    event_id: str
    detections: list[Detection]
    inference_ms: float
