"""How the model is judged: readiness criteria, label-free estimation and drift detection
(``LINEWATCH_READINESS__*``, ``LINEWATCH_ESTIMATION__*``, ``LINEWATCH_DRIFT__*``)."""

from __future__ import annotations

from pydantic import (
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
)

from streams.config_groups.base import _Checked, _Group
from streams.errors import LinewatchError

__all__ = ["DriftSettings", "EstimationSettings", "ReadinessCriteria"]


class ReadinessCriteria(_Checked):
    """Thresholds of the readiness verdict (see ``linewatch report``)."""

    model_config = ConfigDict(allow_inf_nan=False, extra="forbid")

    max_fpr: float = Field(
        0.02, ge=0, le=1, description="Max fraction of good units flagged at threshold."
    )
    max_fnr_per_class: float = Field(
        0.10, ge=0, le=1, description="Max miss rate of any defect class."
    )
    max_p99_latency_takt_ratio: float = Field(
        0.5, gt=0, le=100, description="Max p99 latency as a fraction of the line's takt time."
    )
    max_reference_gap: float = Field(
        0.25,
        ge=0,
        le=1,
        description="Max share of a slice's frames outside the lab's range of any image "
        "statistic (reference_gap metric 'outside_lab_range').",
    )


class EstimationSettings(_Checked):
    """Label-free performance estimates (``linewatch estimate``; see docs/estimation.md).

    Each key is read from ``LINEWATCH_ESTIMATION__<KEY>``, e.g.
    ``LINEWATCH_ESTIMATION__WINDOW_FRAMES=1000`` (the whole group as JSON in
    ``LINEWATCH_ESTIMATION`` works too).
    """

    model_config = ConfigDict(allow_inf_nan=False, extra="forbid")

    window_frames: int = Field(
        500, ge=20, le=10_000_000, description="Frames per estimation window of a slice."
    )
    prevalence: float | None = Field(
        None,
        gt=0,
        lt=1,
        description="Production defect share to calibrate to; default: from audited units "
        "(labels), else estimated from the scores (EM).",
    )
    min_audited: int = Field(
        200, ge=1, description="Audited production units needed to use their defect share."
    )
    min_audited_slice: int = Field(
        500, ge=1, description="Audited units of one slice needed to use that slice's own share."
    )
    draws: int = Field(
        200, ge=0, le=10_000, description="Monte-Carlo replicates for the 95 % intervals."
    )
    recall_drop_margin: float = Field(
        0.10,
        ge=0,
        le=1,
        description="A window's estimated recall (upper bound) this far below the lab's is low.",
    )
    recall_drop_windows: int = Field(
        2, ge=1, description="Consecutive low windows of a slice that make a drift event."
    )
    shift_max_unsupported: float = Field(
        0.10,
        ge=0,
        le=1,
        description="Share of a window's frames unlike every lab frame above which its estimate "
        "is unknown (a smaller share widens the recall and FPR intervals by that share).",
    )
    shift_min_ess_defective: float = Field(
        30.0,
        ge=1,
        description="Effective defective lab frames like the window's needed for an estimate "
        "(else unknown).",
    )


class DriftSettings(_Group):
    """Drift detection: the lab reference, detectors, false-alarm budget and the bookkeeping
    of slices (``LINEWATCH_DRIFT__*``)."""

    reference: str | None = Field(
        None,
        min_length=1,
        description="Lab reference profile (.json from `linewatch reference build`); "
        "default: the one shipped with the default model.",
    )
    detector: str = Field(
        "cusum",
        description="Detector of continuous signals: 'cusum' (calibrated self-starting CUSUM) "
        "or a river.drift class with literal keyword arguments, e.g. "
        "'river.drift.ADWIN(delta=0.002)'.",
    )
    binary_detector: str = Field(
        "cusum",
        description="Detector of 0/1 signals (and lighting mix): 'cusum' (calibrated Bernoulli "
        "CUSUM) or a river.drift / river.drift.binary class, e.g. "
        "'river.drift.binary.HDDMW(drift_confidence=1e-6)'.",
    )
    label_detector: str = Field(
        "cusum",
        description="Detector of the label-driven fnr / fpr streams: 'cusum' (rate CUSUM "
        "against LINEWATCH_DRIFT__LABEL_FNR / LINEWATCH_DRIFT__LABEL_FPR) or a "
        "river.drift.binary class.",
    )
    label_fnr: float = Field(
        0.05,
        gt=0,
        lt=1,
        description="In-control miss rate per labelled defect of the 'cusum' label detector "
        "(the lab's: the shipped model recalls 0.95-1.0 per class); fnr alarms when the "
        "odds rise x4.",
    )
    label_fpr: float = Field(
        0.02,
        gt=0,
        lt=1,
        description="In-control share of labelled good units flagged (fpr drift events).",
    )
    false_alarms_per_line_week: float = Field(
        1.0,
        gt=0,
        le=1_000_000,
        description="False-alarm budget of the 'cusum' detectors: expected false alarms per "
        "line per week, split over the line's slice-signal updates (frames/s x detectors per "
        "frame); sets every threshold of the line.",
    )
    false_alarms_per_event: float | None = Field(
        None,
        gt=0,
        lt=1,
        description="Fixed false-alarm rate per slice-signal update instead of the line-week "
        "budget (e.g. 1e-6); None: derived from LINEWATCH_DRIFT__FALSE_ALARMS_PER_LINE_WEEK.",
    )
    warmup_events: int = Field(
        30, ge=0, le=10_000_000, description="Events before a slice may alarm."
    )
    gap_window_events: int = Field(
        200, gt=0, le=10_000_000, description="Events per reference-gap window."
    )
    slice_idle_s: float = Field(
        6 * 3600.0, gt=0, le=366 * 86400.0, description="Evict slices idle this many seconds."
    )
    max_slices: int = Field(10_000, gt=0, le=10_000_000, description="Hard cap of live slices.")

    @field_validator("detector", "binary_detector", "label_detector")
    @classmethod
    def _parsable_detector(cls, value: str, info: ValidationInfo) -> str:
        from streams.drift.spec import parse_detector_spec  # lazy: streams.drift imports us

        try:
            parse_detector_spec(value, binary=info.field_name != "detector")
        except LinewatchError as exc:
            raise ValueError(str(exc)) from None
        return value.strip()
