"""How frames are read and run through the model (``LINEWATCH_INGEST__*``,
``LINEWATCH_INFERENCE__*``)."""

from __future__ import annotations

from datetime import UTC, datetime

from pydantic import (
    AwareDatetime,
    Field,
    field_validator,
    model_validator,
)

from streams.config_groups.base import _Group

__all__ = ["InferenceSettings", "IngestSettings"]


class InferenceSettings(_Group):
    """The detector: model, operating threshold, stored scores, onnxruntime
    (``LINEWATCH_INFERENCE__*``)."""

    model: str | None = Field(
        None,
        min_length=1,
        description="Model spec (.json) or bare .onnx path; default: the shipped detector.",
    )
    operating_threshold: float | None = Field(
        None, ge=0, le=1, description="Override the model card's operating threshold."
    )
    store_score_floor: float = Field(
        0.15,
        ge=0,
        le=1,
        description="Boxes below this confidence are not stored in `detections` (frames keep "
        "the top score in max_confidence); keep it at or below the operating threshold.",
    )
    review_band: tuple[float, float] = Field(
        (0.15, 0.5),
        description="Top confidences in [low, high) go to the review queue; 0 <= low < high <= 1.",
    )
    batch_frames: int = Field(
        8,
        gt=0,
        le=4096,
        description="Frames per inference run (one onnxruntime call), in every runner.",
    )
    max_batch_wait_ms: float = Field(
        100.0,
        ge=0,
        le=60_000,
        description="Streaming worker: a batch short of batch_frames frames (the tail of a take) "
        "waits at most this long for frames of the next takes (any camera, any partition the "
        "worker owns) before the model runs on it; 0 runs every tail at once. A model batch "
        "also holds no more frames than the model runs in this time at its measured wall "
        "time per frame (at least one; 0: batch_frames).",
    )
    threads: int | None = Field(
        None,
        gt=0,
        le=1024,
        description="onnxruntime intra-op threads; None: the cores this process may use (CPU "
        "affinity and cgroup quota) less one for the decode thread, at least 1. In `linewatch "
        "detect`, the threads its model may use in all (None: the usable cores), split into "
        "intra-op threads x frames in flight (docs/scaling.md).",
    )
    providers: list[str] | None = Field(
        None, description='onnxruntime execution providers, e.g. ["CPUExecutionProvider"].'
    )

    @field_validator("providers")
    @classmethod
    def _provider_names(cls, value: list[str] | None) -> list[str] | None:
        if value is not None:
            if not value:
                raise ValueError('list at least one provider, e.g. ["CPUExecutionProvider"]')
            for name in value:
                if not name.endswith("ExecutionProvider"):
                    raise ValueError(
                        f"{name!r} is not an onnxruntime execution provider name "
                        '(e.g. "CPUExecutionProvider", "CUDAExecutionProvider")'
                    )
        return value

    @field_validator("review_band")
    @classmethod
    def _band_in_order(cls, value: tuple[float, float]) -> tuple[float, float]:
        low, high = value
        if not 0 <= low < high <= 1:
            raise ValueError("need [low, high] with 0 <= low < high <= 1, e.g. [0.15, 0.5]")
        return value

    @model_validator(mode="after")
    def _floor_below_threshold(self) -> InferenceSettings:
        threshold = self.operating_threshold
        if threshold is not None and self.store_score_floor > threshold:
            raise ValueError(
                f"LINEWATCH_INFERENCE__STORE_SCORE_FLOOR={self.store_score_floor} is above "
                f"LINEWATCH_INFERENCE__OPERATING_THRESHOLD={threshold}: boxes at the threshold "
                "would not be stored; keep the floor at or below the threshold"
            )
        return self


class IngestSettings(_Group):
    """What one event may cost and which frames are accepted (``LINEWATCH_INGEST__*``);
    anything else is a dead letter with its reason."""

    max_image_bytes: int = Field(
        4 * 1024 * 1024, gt=0, le=1024**3, description="Largest accepted frame in bytes."
    )
    max_image_pixels: int = Field(
        4096 * 4096,
        ge=1,
        le=1 << 28,
        description="Largest accepted frame in pixels (width x height), read from the image "
        "header before decoding; larger frames are dead letters 'image_too_large'.",
    )
    min_image_side: int = Field(
        8,
        ge=1,
        le=4096,
        description="Smallest accepted frame side in pixels; smaller frames (e.g. 1x1) are dead "
        "letters 'image_too_small'.",
    )
    max_jpeg_scans: int = Field(
        100,
        ge=1,
        le=100_000,
        description="Most scans a JPEG frame may hold (1 for baseline, about 10 for progressive; "
        "each scan is one more pass over the frame), counted before decoding; more are dead "
        "letters 'image_too_costly'.",
    )
    max_decode_ms: float = Field(
        1000.0,
        gt=0,
        le=600_000,
        description="CPU time one frame's decode may take (measured on the decoding thread); "
        "a frame over it is a dead letter 'image_too_costly'.",
    )
    image_roots: list[str] = Field(
        default_factory=list,
        description="Folders file:// frames may be read from (JSON list of absolute paths), "
        "each opened once at start-up (it must exist); symlinks under them are not followed. "
        "Empty (the default): every file:// frame is refused ('image_uri_refused').",
    )
    captured_at_min: AwareDatetime = Field(
        datetime(2000, 1, 1, tzinfo=UTC),
        description="Events captured before this are dead letters 'clock_out_of_range'.",
    )
    captured_at_max_ahead_s: float = Field(
        86_400.0,
        ge=0,
        le=366 * 86_400.0,
        description="Events captured more than this many seconds after their time of ingest are "
        "dead letters 'clock_out_of_range'.",
    )
    dead_letter_max_payload_bytes: int = Field(
        64 * 1024,
        ge=0,
        le=16 * 1024 * 1024,
        description="A dead letter keeps at most this prefix of its payload, plus the payload's "
        "length and sha256.",
    )

    @field_validator("image_roots")
    @classmethod
    def _absolute_roots(cls, value: list[str]) -> list[str]:
        for root in value:
            if not root.startswith("/"):
                raise ValueError(f"image root {root!r} must be an absolute path")
        return value
