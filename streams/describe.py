"""Decode → batch → detect → describe: the one path from raw camera events to what the model saw.

:class:`FrameDescriber` parses and decodes raw records (a rejection keeps its reason), runs the
detector once per batch and describes every accepted frame: its detections, its share of the
batch's inference time and, on first use, its image statistics and drift signals. The monitoring
pipeline (:class:`~streams.pipeline.MonitoringPipeline`), the lab reference builder
(:func:`~streams.runners.reference.build_reference`) and ``linewatch detect``
(:func:`streams.detect.detect_lines`) all go through it, so they agree on what a frame is.

The describer knows nothing of Kafka, the store or the terminal. The only state it keeps
between batches is an optional :class:`~streams.features.camera_health.CameraHealth` (each
camera's previous frame), which the lab reference builder asks for; the monitoring pipeline
keeps camera health in each partition's state instead.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property

from schemas.events import CameraEvent
from schemas.results import Detection
from streams.config import Settings
from streams.drift.signals import frame_signals
from streams.errors import EventRejected
from streams.features import ImageStats, compute_image_stats
from streams.features.camera_health import CameraHealth
from streams.inference import Detector, operating_threshold
from streams.ingest import (
    DecodedFrame,
    IngestLimits,
    RawRecord,
    decode_frame,
    event_too_large,
    parse_event,
)

__all__ = [
    "EVENT_UNPROCESSABLE",
    "AcceptedFrame",
    "DecodedBatch",
    "DescribedFrame",
    "FrameDescriber",
    "RejectedRecord",
    "unprocessable",
]

log = logging.getLogger(__name__)

EVENT_UNPROCESSABLE = "event_unprocessable"
"""Dead-letter reason of an event that failed in a way no stage foresaw (a linewatch defect)."""


def unprocessable(exc: BaseException) -> EventRejected:
    """The rejection of an event whose processing raised ``exc``, which no stage foresaw.

    >>> unprocessable(KeyError("x")).detail
    "processing the event failed (KeyError: 'x'); please report this with the dead letter"
    """
    rejected = EventRejected.failed(EVENT_UNPROCESSABLE, "processing the event", exc)
    return EventRejected(
        rejected.reason, f"{rejected.detail}; please report this with the dead letter"
    )


@dataclass(frozen=True, slots=True)
class AcceptedFrame:
    """A raw record that parsed and decoded, with the time that took."""

    raw: RawRecord
    frame: DecodedFrame
    decode_ms: float


@dataclass(frozen=True, slots=True)
class RejectedRecord:
    """A raw record that did not make it to the model, and why."""

    raw: RawRecord
    error: EventRejected


@dataclass
class DecodedBatch:
    """A batch after decoding: frames ready for the model, and the rejected records."""

    accepted: list[AcceptedFrame] = field(default_factory=list)
    rejected: list[RejectedRecord] = field(default_factory=list)


class DescribedFrame:
    """One accepted frame after inference.

    ``stats`` (image statistics) and ``signals`` (the drift signals of
    :func:`~streams.drift.signals.frame_signals`) are computed on first access, so a caller that
    needs only detections (``linewatch detect``) does not pay for them.
    """

    def __init__(
        self,
        accepted: AcceptedFrame,
        detections: list[Detection],
        inference_ms: float,
        operating_threshold: float,
        review_band: tuple[float, float],
        *,
        invalid_outputs: int = 0,
    ) -> None:
        self.accepted = accepted
        self.detections = detections
        self.inference_ms = inference_ms
        """This frame's share of its batch's inference time."""
        self.invalid_outputs = invalid_outputs
        """Model outputs dropped before NMS (non-finite or inverted boxes, non-finite scores)."""
        self._threshold = operating_threshold
        self._review_band = review_band
        self.camera: dict[str, float | None] = {}
        """Camera-health signals, set by a describer that tracks cameras or by the pipeline from
        the partition's state (else empty)."""

    @property
    def raw(self) -> RawRecord:
        """The record the frame came from."""
        return self.accepted.raw

    @property
    def event(self) -> CameraEvent:
        """The validated camera event."""
        return self.accepted.frame.event

    @cached_property
    def stats(self) -> ImageStats:
        """Image statistics of the frame (computed once, on first access)."""
        return compute_image_stats(self.accepted.frame.rgb)

    @cached_property
    def signals(self) -> dict[str, float]:
        """Every drift signal of the frame: image statistics, detector outputs and, where
        :attr:`camera` was set, the camera-health signals that are defined for this frame."""
        out = frame_signals(self.stats, self.detections, self._threshold, self._review_band)
        out.update({k: v for k, v in self.camera.items() if v is not None})
        return out

    @property
    def flagged(self) -> list[Detection]:
        """Detections at or above the operating threshold."""
        return [d for d in self.detections if d.confidence >= self._threshold]

    @property
    def max_confidence(self) -> float:
        """The top confidence, 0 without detections."""
        return max((d.confidence for d in self.detections), default=0.0)


class FrameDescriber:
    """Decodes raw records, runs the detector per batch and describes each frame.

    ``limits``: what an accepted event may be (sizes, image roots, clock window).
    ``known_lines``: when not empty, events of any other line are rejected (``unknown_line``).
    ``known_cameras``: per line, its cameras; an event of another camera on a line listed here is
    rejected (``unknown_camera``).
    """

    def __init__(
        self,
        detector: Detector,
        *,
        operating_threshold: float,
        review_band: tuple[float, float],
        limits: IngestLimits | None = None,
        known_lines: Iterable[str] = (),
        known_cameras: Mapping[str, Iterable[str]] | None = None,
        camera_health: CameraHealth | None = None,
    ) -> None:
        self.detector = detector
        self.operating_threshold = operating_threshold
        self.review_band = review_band
        self.limits = limits or IngestLimits()
        self.known_lines = frozenset(known_lines)
        self.known_cameras = {
            line: frozenset(cams) for line, cams in (known_cameras or {}).items() if cams
        }
        self.camera_health = camera_health

    @classmethod
    def from_settings(
        cls,
        detector: Detector,
        settings: Settings,
        *,
        check_lines: bool = False,
        track_cameras: bool = False,
    ) -> FrameDescriber:
        """A describer with the settings' threshold, review band and ingest limits.

        ``check_lines`` rejects events of lines not in ``settings.plant.lines`` (production only;
        lab events may come from any line). ``track_cameras`` adds the camera-health signals, which
        compare each frame with its camera's previous one (frames must come in capture order).
        """
        return cls(
            detector,
            operating_threshold=operating_threshold(settings, detector.spec),
            review_band=settings.inference.review_band,
            limits=IngestLimits.from_settings(settings),
            known_lines=settings.plant.lines if check_lines else (),
            known_cameras=(
                {line: c.cameras for line, c in settings.plant.lines.items()}
                if check_lines
                else None
            ),
            camera_health=CameraHealth() if track_cameras else None,
        )

    def accept(self, raw: RawRecord) -> AcceptedFrame:
        """Parse, validate and decode one record; raises :class:`EventRejected` with a reason.

        The clock window is checked against the record's arrival time.
        """
        start = time.perf_counter()
        if raw.cut is not None:  # the reader kept only the start of a longer line
            raise event_too_large(raw.cut.length, self.limits)
        event = parse_event(raw.payload, self.limits, now=raw.received_at)
        if self.known_lines and event.line_id not in self.known_lines:
            raise EventRejected(
                "unknown_line",
                f"line {event.line_id!r} is not configured (known: {sorted(self.known_lines)}); "
                "add it to [plant.lines] of linewatch.toml or to LINEWATCH_PLANT__LINES",
            )
        cameras = self.known_cameras.get(event.line_id)
        if cameras is not None and event.camera_id not in cameras:
            raise EventRejected(
                "unknown_camera",
                f"camera {event.camera_id!r} is not a camera of line {event.line_id!r} (known: "
                f"{sorted(cameras)}); add it to the line's cameras in linewatch.toml "
                "([plant.lines.LINE] cameras) or LINEWATCH_PLANT__LINES",
            )
        frame = decode_frame(event, self.limits)
        return AcceptedFrame(raw, frame, (time.perf_counter() - start) * 1000.0)

    def decode(self, records: Iterable[RawRecord]) -> DecodedBatch:
        """Decode every record (no model, no state): safe to run in another thread.

        No exception of one record leaves it: a stage's own failures are
        :class:`EventRejected` with their reason, and anything else (a defect of linewatch) is
        rejected as ``event_unprocessable`` with the exception, and logged.
        """
        batch = DecodedBatch()
        for raw in records:
            try:
                batch.accepted.append(self.accept(raw))
            except EventRejected as exc:
                batch.rejected.append(RejectedRecord(raw, exc))
            except Exception as exc:
                log.error("event %s could not be processed", raw.source[:200], exc_info=True)
                batch.rejected.append(RejectedRecord(raw, unprocessable(exc)))
        return batch

    def describe(self, accepted: Sequence[AcceptedFrame]) -> list[DescribedFrame]:
        """One detector call for the whole batch; frames come back in input order."""
        if not accepted:
            return []
        start = time.perf_counter()
        results, invalid = self.detector.detect_counted([a.frame.rgb for a in accepted])
        share_ms = (time.perf_counter() - start) * 1000.0 / len(accepted)
        frames = [
            DescribedFrame(
                a, dets, share_ms, self.operating_threshold, self.review_band, invalid_outputs=bad
            )
            for a, dets, bad in zip(accepted, results, invalid, strict=True)
        ]
        health = self.camera_health
        if health is not None:
            for frame in frames:
                frame.camera = health.observe(
                    frame.event.camera_id,
                    frame.accepted.frame.rgb,
                    sharpness=frame.stats.sharpness,
                    contrast=frame.stats.contrast,
                )
        return frames

    def batches(
        self,
        records: Iterable[RawRecord],
        *,
        batch_size: int,
        on_reject: Callable[[RejectedRecord], None] | None = None,
    ) -> Iterator[list[DescribedFrame]]:
        """Decode ``records`` as they are read and describe them ``batch_size`` accepted at a time.

        Rejected records go to ``on_reject`` (default: dropped). The last batch may be smaller.
        """
        pending: list[AcceptedFrame] = []
        for raw in records:
            try:
                pending.append(self.accept(raw))
            except EventRejected as exc:
                if on_reject is not None:
                    on_reject(RejectedRecord(raw, exc))
                continue
            if len(pending) >= batch_size:
                yield self.describe(pending)
                pending = []
        if pending:
            yield self.describe(pending)
