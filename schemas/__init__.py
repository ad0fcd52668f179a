"""linewatch's data contracts: pydantic event models and the ClickHouse DDL (``clickhouse/``)."""

from __future__ import annotations

from schemas.events import (
    AuditDesign,
    BoundingBox,
    CameraEvent,
    GroundTruth,
    GroundTruthObject,
    ImageEncoding,
    ImagePayload,
    Lighting,
)
from schemas.records import (
    DeadLetterRecord,
    DetectionRecord,
    DriftEventRecord,
    FrameRecord,
    LabelRecord,
    ReferenceGapRecord,
    StoreRecord,
    stable_id,
)
from schemas.results import Detection, FrameDetections

__all__ = [
    "AuditDesign",
    "BoundingBox",
    "CameraEvent",
    "DeadLetterRecord",
    "Detection",
    "DetectionRecord",
    "DriftEventRecord",
    "FrameDetections",
    "FrameRecord",
    "GroundTruth",
    "GroundTruthObject",
    "ImageEncoding",
    "ImagePayload",
    "LabelRecord",
    "Lighting",
    "ReferenceGapRecord",
    "StoreRecord",
    "stable_id",
]
