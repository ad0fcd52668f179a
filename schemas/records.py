"""Rows written to the ClickHouse store, one model per table.

Each model's ``__table__`` names its table and ``__key__`` the column(s) that identify a row:
the store writes idempotently by that key (replaying input adds no visible row).
Field names are column names; datetimes are timezone-aware UTC.
"""

from __future__ import annotations

import hashlib
import struct
from datetime import datetime
from typing import ClassVar

from pydantic import AwareDatetime, BaseModel, ConfigDict, field_validator

__all__ = [
    "DEAD_LETTER_PAYLOAD_BYTES",
    "FLOAT32_FRAME_COLUMNS",
    "DeadLetterRecord",
    "DetectionRecord",
    "DriftEventRecord",
    "EstimatedPerformanceRecord",
    "FrameRecord",
    "LabelRecord",
    "MonitorSnapshotRecord",
    "ReferenceGapRecord",
    "StoreRecord",
    "content_hash",
    "float32",
    "stable_id",
]


def stable_id(*parts: object) -> str:
    """A deterministic 32-hex id from its parts, used as idempotency key.

    >>> stable_id("a", 1) == stable_id("a", 1) != stable_id("a", 2)
    True
    """
    h = hashlib.blake2b(digest_size=16)
    for part in parts:
        h.update(repr(part).encode())
        h.update(b"\x1f")
    return h.hexdigest()


def content_hash(payload: bytes) -> str:
    """The 32-hex blake2b digest of a raw input event: what "same content" means for an event_id.

    >>> content_hash(b'{"a": 1}') == content_hash(b'{"a": 1}') != content_hash(b'{"a": 2}')
    True
    """
    return hashlib.blake2b(payload, digest_size=16).hexdigest()


def float32(value: float) -> float:
    """``value`` rounded to the nearest Float32, as a ``Float32`` column stores it.

    >>> float32(0.1), float32(1.5)
    (0.10000000149011612, 1.5)
    """
    return float(struct.unpack("f", struct.pack("f", value))[0])


class StoreRecord(BaseModel):
    """Base of every stored row."""

    model_config = ConfigDict(frozen=True)
    __table__: ClassVar[str]
    __key__: ClassVar[tuple[str, ...]]

    def key(self) -> tuple[object, ...]:
        """The idempotency key of this row."""
        return tuple(getattr(self, name) for name in self.__key__)


FLOAT32_FRAME_COLUMNS = (
    "sensor_lux",
    "sensor_colour_temp_k",
    "brightness",
    "contrast",
    "sharpness",
    "colour_cast",
    "est_colour_temp_k",
    "clipped_high",
    "clipped_low",
    "decode_ms",
    "inference_ms",
    "monitor_ms",
    "latency_ms",
)
"""``frames`` columns stored as Float32 (``max_confidence`` stays Float64: thresholds)."""


class FrameRecord(StoreRecord):
    """One processed event (table ``frames``)."""

    __table__ = "frames"
    __key__ = ("event_id",)

    event_id: str
    line_id: str
    camera_id: str
    captured_at: AwareDatetime
    shift: str
    lighting: str
    product_variant: str = ""
    sensor_lux: float | None = None
    sensor_colour_temp_k: float | None = None
    brightness: float
    contrast: float
    sharpness: float
    colour_cast: float
    est_colour_temp_k: float
    clipped_high: float
    clipped_low: float
    model_name: str
    model_version: str
    detection_count: int
    max_confidence: float
    predicted_defective: bool
    decode_ms: float
    inference_ms: float
    monitor_ms: float
    latency_ms: float
    source: str
    ingested_at: AwareDatetime
    content_hash: str = ""
    """:func:`content_hash` of the input event; ``""`` = unknown (never reported as a conflict).
    The same ``event_id`` with another non-empty hash is an ``event_id_conflict``."""

    invalid_outputs: int = 0
    """Model outputs dropped before NMS: non-finite or inverted boxes, non-finite scores."""

    @field_validator(*FLOAT32_FRAME_COLUMNS)
    @classmethod
    def _as_stored(cls, value: float | None) -> float | None:
        """Statistics and timings are Float32 columns (073_compact_rows.sql): round alike."""
        return None if value is None else float32(value)


class DetectionRecord(StoreRecord):
    """One predicted box (table ``detections``); all boxes above the model's score floor.

    ``line_id`` and ``captured_at`` are always those of the box's frame: the table is sorted by
    them, and the store and reconcile find a frame's boxes within that line and time.
    """

    __table__ = "detections"
    __key__ = ("event_id", "det_index")

    event_id: str
    det_index: int
    line_id: str
    captured_at: AwareDatetime
    class_name: str
    confidence: float
    x1: float
    y1: float
    x2: float
    y2: float


class DriftEventRecord(StoreRecord):
    """A drift alarm for one slice-signal (table ``drift_events``)."""

    __table__ = "drift_events"
    __key__ = ("drift_id",)

    drift_id: str
    line_id: str
    shift: str
    lighting: str
    signal: str
    detector: str
    detector_params: str = ""
    """The detector's class and parameters, e.g. ``river.drift.ADWIN(clock=32, delta=0.002)``."""
    detected_at: AwareDatetime
    trigger_event_id: str
    statistic: float
    threshold: float
    events_in_slice: int
    before_mean: float
    before_std: float
    after_mean: float
    after_std: float
    cause: str = "unknown"
    evidence: str = ""


class ReferenceGapRecord(StoreRecord):
    """Distance of one slice-signal window to the lab reference (table ``reference_gap``)."""

    __table__ = "reference_gap"
    __key__ = ("gap_id",)

    gap_id: str
    line_id: str
    shift: str
    lighting: str
    signal: str
    metric: str
    window_start: AwareDatetime
    window_end: AwareDatetime
    window_events: int
    distance: float
    reference_mean: float
    window_mean: float


DEAD_LETTER_PAYLOAD_BYTES = 64 * 1024
"""Default longest payload prefix a dead letter keeps
(LINEWATCH_INGEST__DEAD_LETTER_MAX_PAYLOAD_BYTES)."""


class DeadLetterRecord(StoreRecord):
    """An input that could not be processed, with why (table ``dead_letters``).

    ``payload`` keeps at most the first ``max_payload_bytes`` of the input (as UTF-8 text, bad
    bytes replaced); ``payload_bytes`` and ``payload_sha256`` describe the whole input.

    >>> from datetime import UTC, datetime
    >>> dl = DeadLetterRecord.build(reason="not_json", detail="", payload=b"x" * 100,
    ...     source="t:1", received_at=datetime(2026, 1, 1, tzinfo=UTC), max_payload_bytes=10)
    >>> dl.payload, dl.payload_bytes, dl.payload_sha256[:12]
    ('xxxxxxxxxx', 100, '09ecb6ebc8bc')
    """

    __table__ = "dead_letters"
    __key__ = ("dead_letter_id",)

    dead_letter_id: str
    reason: str
    detail: str
    payload: str
    source: str
    received_at: AwareDatetime
    payload_bytes: int = 0
    payload_sha256: str = ""

    @classmethod
    def build(
        cls,
        *,
        reason: str,
        detail: str,
        payload: bytes,
        source: str,
        received_at: datetime,
        max_payload_bytes: int = DEAD_LETTER_PAYLOAD_BYTES,
        whole: tuple[int, str] | None = None,
    ) -> DeadLetterRecord:
        """A dead letter whose id is derived from its source and payload (idempotent replays).

        ``whole`` gives (length, sha256) when ``payload`` is already only the start of a longer
        input (a reader cut it).
        """
        prefix = payload[:max_payload_bytes]
        length, digest = whole or (len(payload), hashlib.sha256(payload).hexdigest())
        return cls(
            dead_letter_id=stable_id(source, payload),
            reason=reason,
            detail=detail[:2000],
            payload=prefix.decode("utf-8", errors="replace"),
            source=source,
            received_at=received_at,
            payload_bytes=length,
            payload_sha256=digest,
        )


class LabelRecord(StoreRecord):
    """Ground truth for one event (table ``labels``); may arrive before or after the frame."""

    __table__ = "labels"
    __key__ = ("label_id",)

    label_id: str
    event_id: str
    source: str
    labelled_at: AwareDatetime
    object_count: int
    class_names: list[str]
    boxes: list[list[float]]
    ingested_at: AwareDatetime


class MonitorSnapshotRecord(StoreRecord):
    """Drift state of one Kafka partition up to ``offset`` (table ``monitor_snapshots``).

    ``snapshot``: base64 of the versioned JSON of :mod:`streams.drift.state` (older rows: a
    version-1 pickle, converted on restore without unpickling arbitrary objects).
    """

    __table__ = "monitor_snapshots"
    __key__ = ("group_id", "topic", "partition", "offset")

    group_id: str
    topic: str
    partition: int
    offset: int
    snapshot: str
    saved_at: AwareDatetime


class EstimatedPerformanceRecord(StoreRecord):
    """Label-free precision/recall/FPR of one slice window (table ``estimated_performance``)."""

    __table__ = "estimated_performance"
    __key__ = ("estimate_id",)

    estimate_id: str
    line_id: str
    shift: str
    lighting: str
    window_start: AwareDatetime
    window_end: AwareDatetime
    frames: int
    threshold: float
    model_version: str
    prevalence: float
    prevalence_source: str
    expected_defective: float
    precision: float | None
    precision_lo: float | None
    precision_hi: float | None
    recall: float | None
    recall_lo: float | None
    recall_hi: float | None
    fpr: float | None
    fpr_lo: float | None
    fpr_hi: float | None
    estimated_at: AwareDatetime
    status: str = "unchecked"
    """``ok`` (lab calibration re-weighted to the window's inputs), ``unknown`` (the lab never
    showed inputs like these: figures are ``None``, ``reason`` says why) or ``unchecked`` (the
    lab frames carry no image statistics: label-shift-only estimate)."""
    reason: str = ""
    lab_ess: float | None = None
    """Effective number of lab frames behind the estimate (Kish, of the importance weights)."""
    lab_ess_defective: float | None = None
    shift_auc: float | None = None
    """How well a classifier tells the window's frames from the lab's (0.5: alike, 1: apart)."""
