"""Hand-made store rows for tests, examples and the report benchmark.

>>> f = sample_frame("e1", line_id="line-2", max_confidence=0.7)
>>> f.line_id, f.predicted_defective
('line-2', True)
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from schemas.records import DetectionRecord, FrameRecord

__all__ = ["T0", "event_uuid", "sample_detection", "sample_frame", "sample_label_line"]

T0 = datetime(2026, 11, 29, 6, 0, tzinfo=UTC)


def event_uuid(n: int) -> str:
    """A deterministic UUID string for the ``n``-th sample event."""
    return str(uuid.UUID(int=n + 1))


def sample_frame(
    event_id: str,
    *,
    line_id: str = "line-1",
    shift: str = "day",
    lighting: str = "normal",
    captured_at: datetime | None = None,
    max_confidence: float = 0.0,
    detection_count: int = 0,
    threshold: float = 0.5,
    latency_ms: float = 40.0,
    inference_ms: float = 25.0,
) -> FrameRecord:
    """A ``frames`` row with plausible image statistics."""
    at = captured_at or T0
    return FrameRecord(
        event_id=event_id,
        line_id=line_id,
        camera_id=f"cam-{line_id}",
        captured_at=at,
        shift=shift,
        lighting=lighting,
        brightness=0.5,
        contrast=0.2,
        sharpness=0.1,
        colour_cast=0.0,
        est_colour_temp_k=5000.0,
        clipped_high=0.0,
        clipped_low=0.0,
        model_name="sample",
        model_version="1",
        detection_count=detection_count,
        max_confidence=max_confidence,
        predicted_defective=max_confidence >= threshold,
        decode_ms=2.0,
        inference_ms=inference_ms,
        monitor_ms=1.0,
        latency_ms=latency_ms,
        source="sample",
        ingested_at=at + timedelta(seconds=1),
    )


def sample_detection(
    event_id: str,
    det_index: int,
    class_name: str,
    confidence: float,
    box: Sequence[float],
    *,
    line_id: str = "line-1",
    captured_at: datetime | None = None,
) -> DetectionRecord:
    """A ``detections`` row."""
    x1, y1, x2, y2 = (float(v) for v in box)
    return DetectionRecord(
        event_id=event_id,
        det_index=det_index,
        line_id=line_id,
        captured_at=captured_at or T0,
        class_name=class_name,
        confidence=confidence,
        x1=x1,
        y1=y1,
        x2=x2,
        y2=y2,
    )


def sample_label_line(
    event_id: str,
    objects: Sequence[tuple[str, Sequence[float]]] = (),
    *,
    labelled_at: datetime | None = None,
    source: str = "audit",
) -> str:
    """A ground-truth JSON line (the wire format)."""
    at = labelled_at or T0 + timedelta(hours=1)
    return json.dumps(
        {
            "event_id": event_id,
            "objects": [{"class_name": c, "box": [float(v) for v in b]} for c, b in objects],
            "source": source,
            "labelled_at": at.isoformat(),
        }
    )
