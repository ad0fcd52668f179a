"""The monitoring pipeline: raw records in, store records out. Knows nothing of Kafka.

decode → image statistics → batched inference → slice → drift → rows for the store.
The embedded runner and the Faust agents both call :meth:`MonitoringPipeline.process`, so a
test of this class covers both paths.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from schemas.records import (
    DeadLetterRecord,
    DetectionRecord,
    DriftEventRecord,
    FrameRecord,
    ReferenceGapRecord,
    StoreRecord,
    content_hash,
)
from schemas.results import Detection
from streams.config import Settings
from streams.drift import DriftMonitor, ReferenceProfile, frame_signals
from streams.errors import ConfigError, EventRejected
from streams.features import ImageStats, compute_image_stats
from streams.inference import Detector
from streams.ingest import DecodedFrame, RawRecord, decode_frame, parse_event
from streams.slicing import SliceKey, Slicer

__all__ = ["MonitoringPipeline", "PipelineOutput", "PreparedBatch"]


@dataclass
class PipelineOutput:
    """Everything one batch produced, ready for the store (and, for drift, alerting)."""

    frames: list[FrameRecord] = field(default_factory=list)
    detections: list[DetectionRecord] = field(default_factory=list)
    drift_events: list[DriftEventRecord] = field(default_factory=list)
    reference_gaps: list[ReferenceGapRecord] = field(default_factory=list)
    dead_letters: list[DeadLetterRecord] = field(default_factory=list)

    def records(self) -> list[StoreRecord]:
        """All rows, frames first."""
        return [
            *self.frames,
            *self.detections,
            *self.drift_events,
            *self.reference_gaps,
            *self.dead_letters,
        ]

    def extend(self, other: PipelineOutput) -> None:
        """Append another batch's output."""
        self.frames.extend(other.frames)
        self.detections.extend(other.detections)
        self.drift_events.extend(other.drift_events)
        self.reference_gaps.extend(other.reference_gaps)
        self.dead_letters.extend(other.dead_letters)


@dataclass(frozen=True, slots=True)
class _Accepted:
    raw: RawRecord
    frame: DecodedFrame
    decode_ms: float


@dataclass
class PreparedBatch:
    """A micro-batch after decoding: frames ready for the model, and the rejected records."""

    accepted: list[_Accepted] = field(default_factory=list)
    dead_letters: list[DeadLetterRecord] = field(default_factory=list)


def _reject(raw: RawRecord, exc: EventRejected) -> DeadLetterRecord:
    return DeadLetterRecord.build(
        reason=exc.reason,
        detail=exc.detail,
        payload=raw.payload,
        source=raw.source,
        received_at=raw.received_at,
    )


class MonitoringPipeline:
    """Runs one micro-batch of raw camera events through every stage.

    Stateful only through its :class:`DriftMonitor` (per-slice detectors), which callers may
    snapshot and restore.
    """

    def __init__(
        self,
        settings: Settings,
        detector: Detector,
        reference: ReferenceProfile,
        monitor: DriftMonitor | None = None,
    ) -> None:
        self.settings = settings
        self.detector = detector
        self.reference = reference
        self.monitor = monitor if monitor is not None else DriftMonitor(reference, settings)
        self.slicer = Slicer(settings)
        spec = detector.spec
        self.operating_threshold = (
            settings.operating_threshold
            if settings.operating_threshold is not None
            else spec.operating_threshold
        )
        if settings.store_score_floor > self.operating_threshold:
            raise ConfigError(
                f"LINEWATCH_STORE_SCORE_FLOOR={settings.store_score_floor} is above the operating "
                f"threshold {self.operating_threshold}: flagged boxes would not be stored; lower it"
            )
        self._known_lines = frozenset(settings.lines)

    def _accept(self, raw: RawRecord) -> _Accepted:
        start = time.perf_counter()
        event = parse_event(raw.payload, max_image_bytes=self.settings.max_image_bytes)
        if self._known_lines and event.line_id not in self._known_lines:
            raise EventRejected(
                "unknown_line",
                f"line {event.line_id!r} is not configured (known: {sorted(self._known_lines)}); "
                "add it to LINEWATCH_LINES",
            )
        frame = decode_frame(event, max_image_bytes=self.settings.max_image_bytes)
        return _Accepted(raw, frame, (time.perf_counter() - start) * 1000.0)

    def prepare(self, batch: Sequence[RawRecord]) -> PreparedBatch:
        """Parse, validate and decode a micro-batch (no model, no state).

        Safe to run in another thread while the previous batch is in :meth:`complete`: the
        embedded runner overlaps JPEG decoding with inference this way.
        """
        prepared = PreparedBatch()
        for raw in batch:
            try:
                prepared.accepted.append(self._accept(raw))
            except EventRejected as exc:
                prepared.dead_letters.append(_reject(raw, exc))
        return prepared

    def process(
        self,
        batch: Sequence[RawRecord],
        monitor_of: Callable[[RawRecord], DriftMonitor] | None = None,
    ) -> PipelineOutput:
        """Process a micro-batch in order; bad records become dead letters, never exceptions.

        ``monitor_of`` picks the drift state of each record (the Faust worker keeps one
        :class:`DriftMonitor` per Kafka partition); by default all share ``self.monitor``.
        Inference is batched across the whole micro-batch either way.
        """
        return self.complete(self.prepare(batch), monitor_of)

    def complete(
        self,
        prepared: PreparedBatch,
        monitor_of: Callable[[RawRecord], DriftMonitor] | None = None,
    ) -> PipelineOutput:
        """Inference, statistics, slicing and drift for a prepared batch, in order."""
        out = PipelineOutput(dead_letters=list(prepared.dead_letters))
        accepted = prepared.accepted
        if not accepted:
            return out
        start = time.perf_counter()
        results = self.detector.detect([a.frame.rgb for a in accepted])
        inference_ms = (time.perf_counter() - start) * 1000.0 / len(accepted)
        for item, detections in zip(accepted, results, strict=True):
            monitor = self.monitor if monitor_of is None else monitor_of(item.raw)
            self._monitor_one(item, detections, inference_ms, monitor, out)
        return out

    def _monitor_one(
        self,
        item: _Accepted,
        detections: list[Detection],
        inference_ms: float,
        monitor: DriftMonitor,
        out: PipelineOutput,
    ) -> None:
        start = time.perf_counter()
        event = item.frame.event
        stats: ImageStats = compute_image_stats(item.frame.rgb)
        key: SliceKey = self.slicer.assign(event, stats)
        signals = frame_signals(
            stats, detections, self.operating_threshold, self.settings.review_band
        )
        event_id = str(event.event_id)
        captured_at = event.captured_at.astimezone(UTC)
        for record in monitor.observe(key, event_id, captured_at, signals):
            if isinstance(record, DriftEventRecord):
                out.drift_events.append(record)
            else:
                out.reference_gaps.append(record)
        monitor_ms = (time.perf_counter() - start) * 1000.0
        now = datetime.now(UTC)
        latency_ms = max(0.0, (now - item.raw.received_at).total_seconds() * 1000.0)
        top = max((d.confidence for d in detections), default=0.0)
        flagged = [d for d in detections if d.confidence >= self.operating_threshold]
        lighting = event.lighting
        spec = self.detector.spec
        out.frames.append(
            FrameRecord(
                event_id=event_id,
                line_id=event.line_id,
                camera_id=event.camera_id,
                captured_at=captured_at,
                shift=key.shift,
                lighting=key.lighting,
                product_variant=event.product_variant or "",
                sensor_lux=lighting.lux if lighting else None,
                sensor_colour_temp_k=lighting.colour_temp_k if lighting else None,
                brightness=stats.brightness,
                contrast=stats.contrast,
                sharpness=stats.sharpness,
                colour_cast=stats.colour_cast,
                est_colour_temp_k=stats.est_colour_temp_k,
                clipped_high=stats.clipped_high,
                clipped_low=stats.clipped_low,
                model_name=spec.name,
                model_version=spec.version,
                detection_count=len(flagged),
                max_confidence=top,
                predicted_defective=bool(flagged),
                decode_ms=item.decode_ms,
                inference_ms=inference_ms,
                monitor_ms=monitor_ms,
                latency_ms=latency_ms,
                source=item.raw.source,
                ingested_at=now,
                content_hash=content_hash(item.raw.payload),
            )
        )
        floor = self.settings.store_score_floor
        for index, det in enumerate(detections):
            if det.confidence < floor:
                continue  # not stored; det_index keeps the detector's order either way
            x1, y1, x2, y2 = det.box
            out.detections.append(
                DetectionRecord(
                    event_id=event_id,
                    det_index=index,
                    line_id=event.line_id,
                    captured_at=captured_at,
                    class_name=det.class_name,
                    confidence=det.confidence,
                    x1=x1,
                    y1=y1,
                    x2=x2,
                    y2=y2,
                )
            )
