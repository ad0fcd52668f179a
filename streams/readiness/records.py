"""Rows of the readiness tables (``schemas/clickhouse/002_baseline.sql``)."""

from __future__ import annotations

from pydantic import AwareDatetime, Field, field_validator

from schemas.records import StoreRecord, float32

__all__ = [
    "AssessmentRunRecord",
    "CorruptionResultRecord",
    "FrameOutcomeRecord",
    "LabEvalRecord",
]


class FrameOutcomeRecord(StoreRecord):
    """One labelled production frame matched at the operating threshold (``frame_outcomes``)."""

    __table__ = "frame_outcomes"
    __key__ = ("outcome_id",)

    outcome_id: str
    event_id: str
    label_id: str
    line_id: str
    camera_id: str
    shift: str
    lighting: str
    product_variant: str
    split: str
    captured_at: AwareDatetime
    labelled_at: AwareDatetime
    label_source: str
    model_version: str
    threshold: float
    iou_threshold: float
    outcome: str
    gt_defective: bool
    pred_defective: bool
    gt_classes: list[str]
    gt_matched: list[int]
    pred_classes: list[str]
    pred_tp: list[int]
    tp_boxes: int
    fp_boxes: int
    fn_boxes: int
    max_confidence: float
    latency_ms: float
    inference_ms: float
    reconciled_at: AwareDatetime


class AssessmentRunRecord(StoreRecord):
    """One run of ``linewatch assess`` (``assessment_runs``)."""

    __table__ = "assessment_runs"
    __key__ = ("run_id",)

    run_id: str
    suite: str
    seed: int
    frames: int
    conditions: int
    model_name: str
    model_version: str
    threshold: float
    review_low: float
    review_high: float
    started_at: AwareDatetime
    finished_at: AwareDatetime
    elapsed_s: float
    lab_set: str = ""
    """The lab set the run judged the model on; empty: the simulated lab."""
    lab_digest: str = ""
    classes: list[str] = Field(default_factory=list)
    """The model's classes the lab mAP is computed over."""
    novel_classes: list[str] = Field(default_factory=list)


class CorruptionResultRecord(StoreRecord):
    """Robustness of one condition (corruption x severity, clean or novel input)."""

    __table__ = "corruption_results"
    __key__ = ("result_id",)

    result_id: str
    run_id: str
    kind: str
    corruption: str
    severity: int
    frames: int
    defect_objects: int
    recalled_objects: int
    recall: float | None
    defective_frames: int
    caught_frames: int
    good_frames: int
    flagged_good_frames: int
    mean_top_confidence: float
    fail_safe: int
    fail_silent: int
    in_review_band: int
    flagged_as: dict[str, int] = Field(default_factory=dict)
    """Frames with a detection of each class at or above the threshold (a novel class: what the
    model took it for)."""


class LabEvalRecord(StoreRecord):
    """One lab frame under one condition with its truth and detections (``lab_eval``)."""

    __table__ = "lab_eval"
    __key__ = ("row_id",)

    row_id: str
    run_id: str
    corruption: str
    severity: int
    frame_index: int
    scene_id: str
    gt_classes: list[str]
    gt_boxes: list[list[float]]
    det_classes: list[str]
    det_confidences: list[float]
    det_boxes: list[list[float]]
    max_confidence: float
    threshold: float
    gt_defective: bool
    pred_defective: bool
    outcome: str
    failure_mode: str
    brightness: float | None = None
    """Image statistics of the frame as the model saw it (``streams.features.ImageStats``, the
    same as ``frames``); ``None`` on rows of assessments made before they were stored."""
    contrast: float | None = None
    sharpness: float | None = None
    colour_cast: float | None = None
    est_colour_temp_k: float | None = None
    clipped_high: float | None = None
    clipped_low: float | None = None

    @field_validator(
        "brightness",
        "contrast",
        "sharpness",
        "colour_cast",
        "est_colour_temp_k",
        "clipped_high",
        "clipped_low",
    )
    @classmethod
    def _as_stored(cls, value: float | None) -> float | None:
        """Float32 columns (150_lab_eval_image_stats.sql): round alike."""
        return None if value is None else float32(value)
