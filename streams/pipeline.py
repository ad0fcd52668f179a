"""The monitoring pipeline: raw records in, store records out. Knows nothing of Kafka.

decode → batched inference → image statistics → slice → drift → rows for the store.
Decoding, inference and the per-frame statistics and signals are
:class:`~streams.describe.FrameDescriber`'s (the same path the lab reference and
``linewatch detect`` take); this module adds camera health, slicing, drift and the store rows,
with the state they keep in a :class:`~streams.drift.partition_state.PartitionState`. The embedded
runner and the Faust agents both call :meth:`MonitoringPipeline.process` (or its two halves,
:meth:`~MonitoringPipeline.prepare` and :meth:`~MonitoringPipeline.complete`), so a test of this
class covers both paths.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from pydantic import ValidationError

from schemas.records import (
    DeadLetterRecord,
    DetectionRecord,
    DriftEventRecord,
    FrameRecord,
    ReferenceGapRecord,
    StoreRecord,
    content_hash,
    float32,
)
from streams.config import Settings
from streams.describe import (
    AcceptedFrame,
    DescribedFrame,
    FrameDescriber,
    RejectedRecord,
    unprocessable,
)
from streams.drift import ReferenceProfile
from streams.drift.partition_state import PartitionState
from streams.errors import ConfigError, EventRejected
from streams.inference import Detector
from streams.ingest import RawRecord
from streams.slicing import SliceKey, Slicer

__all__ = ["EventResult", "MonitoringPipeline", "PipelineOutput", "PreparedBatch"]

log = logging.getLogger(__name__)


@dataclass
class EventResult:
    """The rows one input event produced: its frame and detections with the drift events and
    reference-gap windows observing it raised, or its dead letter."""

    raw: RawRecord
    frame: FrameRecord | None = None
    detections: list[DetectionRecord] = field(default_factory=list)
    drift_events: list[DriftEventRecord] = field(default_factory=list)
    reference_gaps: list[ReferenceGapRecord] = field(default_factory=list)
    dead_letter: DeadLetterRecord | None = None

    def records(self) -> list[StoreRecord]:
        """The event's rows, its frame first."""
        return [
            *([] if self.frame is None else [self.frame]),
            *self.detections,
            *self.drift_events,
            *self.reference_gaps,
            *([] if self.dead_letter is None else [self.dead_letter]),
        ]


@dataclass
class PipelineOutput:
    """What one batch produced, one :class:`EventResult` per input event (rejected ones first,
    then the described frames in input order); the per-table views read them."""

    events: list[EventResult] = field(default_factory=list)

    @property
    def frames(self) -> list[FrameRecord]:
        """The frames of the batch, in order."""
        return [e.frame for e in self.events if e.frame is not None]

    @property
    def detections(self) -> list[DetectionRecord]:
        """Every stored detection box."""
        return [d for e in self.events for d in e.detections]

    @property
    def drift_events(self) -> list[DriftEventRecord]:
        """Every drift alarm raised."""
        return [d for e in self.events for d in e.drift_events]

    @property
    def reference_gaps(self) -> list[ReferenceGapRecord]:
        """Every reference-gap window closed."""
        return [g for e in self.events for g in e.reference_gaps]

    @property
    def dead_letters(self) -> list[DeadLetterRecord]:
        """Every dead letter."""
        return [e.dead_letter for e in self.events if e.dead_letter is not None]

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
        self.events.extend(other.events)


@dataclass
class PreparedBatch:
    """A micro-batch after decoding: frames ready for the model, and the rejected records."""

    accepted: list[AcceptedFrame] = field(default_factory=list)
    rejected: list[EventResult] = field(default_factory=list)
    """The records decoding refused, each with its dead letter."""


def _column_detail(exc: ValidationError) -> str:
    """``Record.field: why`` of each value a row's column cannot hold."""
    return "; ".join(
        f"{exc.title}.{'.'.join(str(p) for p in err['loc'])}: {err['msg']}"
        for err in exc.errors(include_input=False)[:5]
    )


def _latency_ms(raw: RawRecord, now: datetime) -> float:
    """Milliseconds from the record's arrival to ``now``, as the Float32 column stores them."""
    return float32(max(0.0, (now - raw.received_at).total_seconds() * 1000.0))


def _dead_letter(rejected: RejectedRecord, max_payload_bytes: int) -> DeadLetterRecord:
    raw, exc = rejected.raw, rejected.error
    return DeadLetterRecord.build(
        reason=exc.reason,
        detail=exc.detail,
        payload=raw.payload,
        source=raw.source,
        received_at=raw.received_at,
        max_payload_bytes=max_payload_bytes,
        whole=None if raw.cut is None else (raw.cut.length, raw.cut.sha256),
    )


class MonitoringPipeline:
    """Runs one micro-batch of raw camera events through every stage.

    Every state it keeps between frames — drift monitor, camera health, product mix and cause
    memory — is in a :class:`~streams.drift.partition_state.PartitionState`, which callers may
    snapshot and restore as one: ``self.state`` by default (the embedded runner's one state for
    the run), or one per Kafka partition picked by ``state_of`` (the streaming worker). The
    describer itself tracks no camera: each frame's camera-health signals come from its
    partition's ``camera_health``.
    """

    def __init__(
        self,
        settings: Settings,
        detector: Detector,
        reference: ReferenceProfile,
        state: PartitionState | None = None,
    ) -> None:
        self.settings = settings
        self.detector = detector
        self.reference = reference
        self.state = state if state is not None else PartitionState(reference, settings)
        self.slicer = Slicer(settings)
        self.describer = FrameDescriber.from_settings(detector, settings, check_lines=True)
        self.operating_threshold = self.describer.operating_threshold
        self.limits = self.describer.limits
        self._score_floor = settings.inference.store_score_floor
        if settings.inference.store_score_floor > self.operating_threshold:
            raise ConfigError(
                "LINEWATCH_INFERENCE__STORE_SCORE_FLOOR="
                f"{settings.inference.store_score_floor} is above the operating "
                f"threshold {self.operating_threshold}: flagged boxes would not be stored; lower it"
            )

    def prepare(self, batch: Sequence[RawRecord]) -> PreparedBatch:
        """Parse, validate and decode a micro-batch (no model, no state).

        Safe to run in another thread while the previous batch is in :meth:`complete`: the
        embedded runner overlaps JPEG decoding with inference this way.
        """
        decoded = self.describer.decode(batch)
        most = self.settings.ingest.dead_letter_max_payload_bytes
        rejected = [EventResult(r.raw, dead_letter=_dead_letter(r, most)) for r in decoded.rejected]
        return PreparedBatch(decoded.accepted, rejected)

    def process(
        self,
        batch: Sequence[RawRecord],
        state_of: Callable[[RawRecord], PartitionState] | None = None,
    ) -> PipelineOutput:
        """Process a micro-batch in order; bad records become dead letters, never exceptions.

        ``state_of`` picks the partition state of each record (the streaming worker keeps one
        :class:`PartitionState` per Kafka partition); by default all share ``self.state``.
        Inference is batched across the whole micro-batch either way.
        """
        return self.complete(self.prepare(batch), state_of)

    def complete(
        self,
        prepared: PreparedBatch,
        state_of: Callable[[RawRecord], PartitionState] | None = None,
        *,
        described: Sequence[DescribedFrame] | None = None,
    ) -> PipelineOutput:
        """Inference, then statistics and camera health of each frame, then slicing, rows and
        drift per frame, in order.

        ``described``: ``self.describer.describe(prepared.accepted)`` already run (it keeps no
        state, so the streaming worker runs it on another thread, overlapping the model with
        the drift state of the previous batch).

        A frame whose rows do not fit their columns (:mod:`schemas.columns`) is a
        ``schema_invalid`` dead letter naming the field, found before its drift signals are
        observed; any other failure of one frame is its ``event_unprocessable`` dead letter.
        """
        out = PipelineOutput(list(prepared.rejected))
        most = self.settings.ingest.dead_letter_max_payload_bytes
        frames = self.describer.describe(prepared.accepted) if described is None else described
        states = [self.state if state_of is None else state_of(f.raw) for f in frames]
        # The image statistics and camera health of the whole batch first, one frame after
        # another: numpy's work between the Python of each frame's rows and drift costs ~0.1 ms
        # a frame more. A frame that fails here fails in its turn below.
        failed: dict[int, Exception] = {}
        for i, (frame, state) in enumerate(zip(frames, states, strict=True)):
            try:
                self._camera(frame, state)
            except Exception as exc:
                failed[i] = exc
        for i, (frame, state) in enumerate(zip(frames, states, strict=True)):
            try:
                if i in failed:
                    raise failed[i]
                out.events.append(self._monitor_one(frame, state))
            except EventRejected as exc:
                letter = _dead_letter(RejectedRecord(frame.raw, exc), most)
                out.events.append(EventResult(frame.raw, dead_letter=letter))
            except Exception as exc:
                log.error("event %s could not be processed", frame.raw.source[:200], exc_info=True)
                letter = _dead_letter(RejectedRecord(frame.raw, unprocessable(exc)), most)
                out.events.append(EventResult(frame.raw, dead_letter=letter))
        return out

    @staticmethod
    def _camera(frame: DescribedFrame, state: PartitionState) -> None:
        """The frame's image statistics and its camera-health signals (in capture order)."""
        stats = frame.stats
        frame.camera = state.camera_health.observe(
            frame.event.camera_id,
            frame.accepted.frame.rgb,
            sharpness=stats.sharpness,
            contrast=stats.contrast,
        )

    def _monitor_one(self, frame: DescribedFrame, state: PartitionState) -> EventResult:
        """Slice, rows and drift of a frame whose :meth:`_camera` is done."""
        start = time.perf_counter()
        key = self.slicer.assign(frame.event, frame.stats)
        event_id = str(frame.event.event_id)  # a UUID: its text is built once per frame
        captured_at = frame.event.captured_at.astimezone(UTC)
        try:  # every row is built (its columns checked) before the drift state changes
            record = self._frame_record(frame, key, event_id, captured_at)
            detections = self._detection_records(frame, event_id, captured_at)
        except ValidationError as exc:
            raise EventRejected(
                "schema_invalid", f"a value the store cannot hold ({_column_detail(exc)})"
            ) from exc
        result = EventResult(frame.raw, detections=detections)
        self._observe_drift(frame, key, state, result, event_id=event_id, captured_at=captured_at)
        monitor_ms = float32((time.perf_counter() - start) * 1000.0)
        now = datetime.now(UTC)
        done = {"monitor_ms": monitor_ms, "latency_ms": _latency_ms(frame.raw, now)}
        result.frame = record.model_copy(update={**done, "ingested_at": now})
        return result

    def _observe_drift(
        self,
        frame: DescribedFrame,
        key: SliceKey,
        state: PartitionState,
        out: EventResult,
        *,
        event_id: str,
        captured_at: datetime,
    ) -> None:
        event = frame.event
        records = state.monitor.observe(key, event_id, captured_at, frame.signals)
        records.extend(
            state.product_mix.observe(
                key.line_id, key.shift, event.product_variant, event_id, captured_at
            )
        )
        for record in records:
            if isinstance(record, DriftEventRecord):
                cause, evidence = state.causes.attribute(
                    record.line_id, record.shift, record.signal, record.detected_at
                )
                out.drift_events.append(
                    record.model_copy(update={"cause": cause, "evidence": evidence})
                )
            else:
                out.reference_gaps.append(record)

    def _frame_record(
        self, frame: DescribedFrame, key: SliceKey, event_id: str, captured_at: datetime
    ) -> FrameRecord:
        """The frame's row; ``monitor_ms``, ``latency_ms`` and ``ingested_at`` are set when
        its monitoring is done."""
        event, stats, raw = frame.event, frame.stats, frame.raw
        now = datetime.now(UTC)
        lighting = event.lighting
        spec = self.detector.spec
        flagged = len(frame.flagged)
        return FrameRecord(
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
            detection_count=flagged,
            max_confidence=frame.max_confidence,
            predicted_defective=flagged > 0,
            decode_ms=frame.accepted.decode_ms,
            inference_ms=frame.inference_ms,
            monitor_ms=0.0,
            latency_ms=_latency_ms(raw, now),
            source=raw.source,
            ingested_at=now,
            content_hash=content_hash(raw.payload),
            invalid_outputs=frame.invalid_outputs,
        )

    def _detection_records(
        self, frame: DescribedFrame, event_id: str, captured_at: datetime
    ) -> list[DetectionRecord]:
        """Boxes at or above ``inference.store_score_floor``; ``det_index`` keeps the detector's
        order."""
        event = frame.event
        floor = self._score_floor
        return [
            DetectionRecord(
                event_id=event_id,
                det_index=index,
                line_id=event.line_id,
                captured_at=captured_at,
                class_name=det.class_name,
                confidence=det.confidence,
                x1=det.box[0],
                y1=det.box[1],
                x2=det.box[2],
                y2=det.box[3],
            )
            for index, det in enumerate(frame.detections)
            if det.confidence >= floor
        ]
