"""Rows written to the ClickHouse store, one model per table.

Each model's ``__table__`` names its table and ``__key__`` the column(s) that identify a row:
the store writes idempotently by that key (replaying input adds no visible row).
Field names are column names; datetimes are timezone-aware UTC. Fields declare their column's
ClickHouse type (:mod:`schemas.columns`): a value the column cannot hold fails validation when
the record is built, naming the field, instead of failing the store's insert.
"""

from __future__ import annotations

import hashlib
import struct
from datetime import datetime
from typing import ClassVar

from pydantic import AwareDatetime, BaseModel, ConfigDict, field_validator

from schemas.columns import Bool, DateTime64, Float32, Float64, String, UInt32, UInt64

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

    event_id: String
    line_id: String
    camera_id: String
    captured_at: DateTime64
    shift: String
    lighting: String
    product_variant: String = ""
    sensor_lux: Float32 | None = None
    sensor_colour_temp_k: Float32 | None = None
    brightness: Float32
    contrast: Float32
    sharpness: Float32
    colour_cast: Float32
    est_colour_temp_k: Float32
    clipped_high: Float32
    clipped_low: Float32
    model_name: String
    model_version: String
    detection_count: UInt32
    max_confidence: Float64
    predicted_defective: Bool
    decode_ms: Float32
    inference_ms: Float32
    monitor_ms: Float32
    latency_ms: Float32
    source: String
    ingested_at: DateTime64
    content_hash: String = ""
    """:func:`content_hash` of the input event; ``""`` = unknown (never reported as a conflict).
    The same ``event_id`` with another non-empty hash is an ``event_id_conflict``."""

    invalid_outputs: UInt32 = 0
    """Model outputs dropped before NMS: non-finite or inverted boxes, non-finite scores."""

    @field_validator(*FLOAT32_FRAME_COLUMNS)
    @classmethod
    def _as_stored(cls, value: float | None) -> float | None:
        """Statistics and timings are Float32 columns (002_baseline.sql): round alike."""
        return None if value is None else float32(value)


class DetectionRecord(StoreRecord):
    """One predicted box (table ``detections``); all boxes above the model's score floor.

    ``line_id`` and ``captured_at`` are always those of the box's frame: the table is sorted by
    them, and the store and reconcile find a frame's boxes within that line and time.
    """

    __table__ = "detections"
    __key__ = ("event_id", "det_index")

    event_id: String
    det_index: UInt32
    line_id: String
    captured_at: DateTime64
    class_name: String
    confidence: Float64
    x1: Float32
    y1: Float32
    x2: Float32
    y2: Float32


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

    dead_letter_id: String
    reason: String
    detail: String
    payload: String
    source: String
    received_at: DateTime64
    payload_bytes: UInt64 = 0
    payload_sha256: String = ""

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
        input (a reader cut it). Text that is not UTF-8 (a lone surrogate from a JSON escape,
        quoted in ``detail``) is replaced by ``?``: a dead letter is never refused by the store.
        """
        prefix = payload[:max_payload_bytes]
        length, digest = whole or (len(payload), hashlib.sha256(payload).hexdigest())
        return cls(
            dead_letter_id=stable_id(source, payload),
            reason=_utf8(reason),
            detail=_utf8(detail[:2000]),
            payload=prefix.decode("utf-8", errors="replace"),
            source=_utf8(source),
            received_at=received_at,
            payload_bytes=length,
            payload_sha256=digest,
        )


def _utf8(text: str) -> str:
    """``text`` with what UTF-8 cannot encode (lone surrogates) replaced by ``?``.

    >>> _utf8("cam-\\ud800"), _utf8("ok")
    ('cam-?', 'ok')
    """
    return text.encode("utf-8", errors="replace").decode("utf-8")


class LabelRecord(StoreRecord):
    """Ground truth for one event (table ``labels``); may arrive before or after the frame."""

    __table__ = "labels"
    __key__ = ("label_id",)

    label_id: String
    event_id: String
    source: String
    labelled_at: DateTime64
    object_count: UInt32
    class_names: list[String]
    boxes: list[list[Float32]]
    ingested_at: DateTime64
    audit_policy: String = ""
    """The audit policy that chose the unit (``GroundTruth.audit``); empty: no design given."""
    inclusion_probability: Float64 = 0.0
    """Its probability of being chosen, in (0, 1]; 0: no design given."""


class MonitorSnapshotRecord(StoreRecord):
    """State of one Kafka partition up to ``offset`` (table ``monitor_snapshots``).

    ``snapshot``: the versioned JSON of :mod:`streams.drift.state` (a ``PartitionSnapshot``:
    drift monitor, camera health, product mix and cause memory), stored as text.
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
    """``ok`` (lab calibration re-weighted to the window's inputs), ``partial`` (the window
    flags what the lab does not explain: recall given, widened; precision and FPR from the flag
    count at a known prevalence, else ``None``; ``reason`` says which), ``unknown`` (the lab
    never showed inputs like these: figures are ``None``, ``reason`` says why) or ``unchecked``
    (the lab frames carry no image statistics: label-shift-only estimate)."""
    reason: str = ""
    lab_ess: float | None = None
    """Effective number of lab frames behind the estimate (Kish, of the importance weights)."""
    lab_ess_defective: float | None = None
    shift_auc: float | None = None
    """How well a classifier tells the window's frames from the lab's (0.5: alike, 1: apart)."""
