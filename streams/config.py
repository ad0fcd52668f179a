"""All configuration of linewatch: one pydantic-settings object read from ``LINEWATCH_*``.

Every field is documented next to its definition; nested values (lists, mappings) are given
as JSON in the environment, e.g. ``LINEWATCH_LINES='{"line-1": {"takt_units_per_minute": 90}}'``.

>>> s = Settings(store="chdb:///tmp/x")
>>> s.store
'chdb:///tmp/x'
>>> s.as_dict()["kafka_sasl_password"] is None
True
"""

from __future__ import annotations

from datetime import UTC, datetime, time
from functools import lru_cache
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AwareDatetime,
    BaseModel,
    Field,
    SecretStr,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict

from streams.errors import LinewatchError

__all__ = [
    "EstimationSettings",
    "LineConfig",
    "ReadinessCriteria",
    "Settings",
    "ShiftStart",
    "get_settings",
]


class LineConfig(BaseModel):
    """One camera line of the plant."""

    takt_units_per_minute: float = Field(60.0, gt=0, description="Line speed: units per minute.")
    frames_per_second: float | None = Field(
        None,
        gt=0,
        description="Camera frames per second of the line, for the drift false-alarm budget; "
        "None: one frame per unit (takt_units_per_minute / 60).",
    )

    @property
    def frame_rate(self) -> float:
        """Frames per second: configured, else one frame per unit at the takt rate."""
        if self.frames_per_second is not None:
            return self.frames_per_second
        return self.takt_units_per_minute / 60.0

    @property
    def takt_ms(self) -> float:
        """Time budget per unit in milliseconds."""
        return 60_000.0 / self.takt_units_per_minute


class ShiftStart(BaseModel):
    """A work shift and the local wall-clock time at which it starts."""

    name: str
    start: time


class ReadinessCriteria(BaseModel):
    """Thresholds of the readiness verdict (see ``linewatch report``)."""

    max_fpr: float = Field(0.02, description="Max fraction of good units flagged at threshold.")
    max_fnr_per_class: float = Field(0.10, description="Max miss rate of any defect class.")
    max_p99_latency_takt_ratio: float = Field(
        0.5, description="Max p99 latency as a fraction of the line's takt time."
    )
    max_reference_gap: float = Field(
        0.25,
        description="Max share of a slice's frames outside the lab's range of any image "
        "statistic (reference_gap metric 'outside_lab_range').",
    )


class EstimationSettings(BaseModel):
    """Label-free performance estimates (``linewatch estimate``; see docs/estimation.md).

    Given as JSON in ``LINEWATCH_ESTIMATION``, e.g. ``'{"window_frames": 1000}'``.
    """

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


def _default_lines() -> dict[str, LineConfig]:
    return {f"line-{i}": LineConfig(takt_units_per_minute=60.0) for i in (1, 2, 3)}


def _default_shifts() -> list[ShiftStart]:
    return [
        ShiftStart(name="day", start=time(6, 0)),
        ShiftStart(name="evening", start=time(14, 0)),
        ShiftStart(name="night", start=time(22, 0)),
    ]


class Settings(BaseSettings):
    """linewatch's settings; each field is read from ``LINEWATCH_<FIELD>``."""

    model_config = SettingsConfigDict(env_prefix="LINEWATCH_", frozen=True, extra="ignore")

    # --- store -------------------------------------------------------------------------
    store: str = Field(
        "chdb://.linewatch/store",
        description="clickhouse-connect DSN: chdb://PATH (embedded) or http(s)://u:p@host:port/db.",
    )
    store_password: SecretStr | None = Field(
        None, description="ClickHouse password, if not given in the DSN."
    )
    batch_size: int = Field(
        2000,
        gt=0,
        description="Rows per store flush (size trigger). Each insert has a fixed cost "
        "(~20-30 ms in chDB), so larger batches are cheaper per frame.",
    )
    flush_interval_s: float = Field(5.0, gt=0, description="Seconds between flushes (time).")

    # --- kafka -------------------------------------------------------------------------
    kafka_bootstrap: str = Field("127.0.0.1:9092", description="Kafka bootstrap servers.")
    kafka_security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    kafka_sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] | None = None
    kafka_sasl_username: str | None = None
    kafka_sasl_password: SecretStr | None = None
    kafka_ssl_cafile: str | None = Field(None, description="CA bundle for SSL/SASL_SSL.")
    topic_events: str = "camera-events"
    topic_labels: str = "labels"
    topic_dlq: str = "camera-events.dlq"
    topic_drift: str = "drift-events"
    topic_partitions: int = Field(6, gt=0, description="Partitions of camera-events.")
    topic_replication: int = Field(1, gt=0)
    worker_id: str = Field("linewatch", description="Faust app id / consumer group.")
    worker_web_port: int = Field(6066, description="Faust web port (liveness/readiness).")
    worker_data_dir: str = Field(
        ".linewatch/worker",
        description="Faust's own data directory (linewatch keeps no Faust tables there: drift "
        "snapshots live in the ClickHouse table monitor_snapshots).",
    )
    inference_batch_size: int = Field(8, gt=0, description="Frames per embedded micro-batch.")
    worker_batch_size: int = Field(
        64, gt=0, description="Max events per worker micro-batch (Kafka take, one inference run)."
    )
    worker_flush_rows: int = Field(
        2000,
        gt=0,
        description="Worker write-behind: flush once this many rows are pending (size trigger).",
    )
    worker_flush_interval_s: float = Field(
        1.0,
        gt=0,
        description="Worker write-behind: flush once the oldest pending row is this old (time "
        "trigger; bounds produce-to-row latency). Offsets are committed only after the flush.",
    )
    worker_write_attempts: int = Field(
        3,
        gt=0,
        description="Tries of a flush the store rejects (not: cannot be reached, which is "
        "retried without limit) before the batch is bisected and rejected events dead-lettered.",
    )
    inference_batch_timeout_s: float = Field(0.5, gt=0, description="Max wait to fill a batch.")
    inference_threads: int | None = Field(
        None, gt=0, description="onnxruntime intra-op threads; None: onnxruntime's default."
    )
    inference_providers: list[str] | None = Field(
        None, description='onnxruntime execution providers, e.g. ["CPUExecutionProvider"].'
    )

    # --- model -------------------------------------------------------------------------
    model: str | None = Field(
        None, description="Model spec (.json) or bare .onnx path; default: the shipped detector."
    )
    operating_threshold: float | None = Field(
        None, ge=0, le=1, description="Override the model card's operating threshold."
    )
    reference: str | None = Field(
        None,
        description="Lab reference profile (.json from `linewatch reference build`); "
        "default: the one shipped with the default model.",
    )
    store_score_floor: float = Field(
        0.15,
        ge=0,
        le=1,
        description="Boxes below this confidence are not stored in `detections` (frames keep "
        "the top score in max_confidence); keep it at or below the operating threshold.",
    )
    review_band: tuple[float, float] = Field(
        (0.15, 0.5), description="Top confidences in [low, high) go to the review queue."
    )

    # --- events and plant --------------------------------------------------------------
    max_image_bytes: int = Field(4 * 1024 * 1024, gt=0, description="Largest accepted frame.")
    timezone: str = Field("UTC", description="The plant's IANA timezone, for shifts.")
    shifts: list[ShiftStart] = Field(default_factory=_default_shifts)
    lines: dict[str, LineConfig] = Field(
        default_factory=_default_lines,
        description="Known camera lines; events of other lines are dead-lettered.",
    )
    lux_bucket_edges: list[float] = Field(
        [200.0, 400.0, 900.0], description="Lux edges of the lighting buckets."
    )
    brightness_bucket_edges: list[float] = Field(
        [0.18, 0.30, 0.61],
        description="Mean-brightness (0..1) edges, used without lux (~ the lux edges as seen by "
        "a camera exposed for 650 lux).",
    )
    lighting_bucket_names: list[str] = Field(["dark", "dim", "normal", "bright"])

    # --- hostile input: what one event may cost (issue 8) --------------------------------
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
    image_roots: list[str] = Field(
        default_factory=list,
        description="Folders file:// frames may be read from (JSON list of absolute paths). "
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

    # --- drift -------------------------------------------------------------------------
    drift_detector: str = Field(
        "cusum",
        description="Detector of continuous signals: 'cusum' (calibrated self-starting CUSUM) "
        "or a river.drift class with literal keyword arguments, e.g. "
        "'river.drift.ADWIN(delta=0.002)'.",
    )
    drift_binary_detector: str = Field(
        "cusum",
        description="Detector of 0/1 signals (and lighting mix): 'cusum' (calibrated Bernoulli "
        "CUSUM) or a river.drift / river.drift.binary class, e.g. "
        "'river.drift.binary.HDDMW(drift_confidence=1e-6)'.",
    )
    drift_label_detector: str = Field(
        "cusum",
        description="Detector of the label-driven fnr / fpr streams: 'cusum' (rate CUSUM "
        "against drift_label_fnr / drift_label_fpr) or a river.drift.binary class.",
    )
    drift_label_fnr: float = Field(
        0.05,
        gt=0,
        lt=1,
        description="In-control miss rate per labelled defect of the 'cusum' label detector "
        "(the lab's: the shipped model recalls 0.95-1.0 per class); fnr alarms when the "
        "odds rise x4.",
    )
    drift_label_fpr: float = Field(
        0.02,
        gt=0,
        lt=1,
        description="In-control share of labelled good units flagged (fpr drift events).",
    )
    false_alarms_per_line_week: float = Field(
        1.0,
        gt=0,
        description="False-alarm budget of the 'cusum' detectors: expected false alarms per "
        "line per week, split over the line's slice-signal updates (frames/s x detectors per "
        "frame); sets every threshold of the line.",
    )
    drift_false_alarms_per_event: float | None = Field(
        None,
        gt=0,
        lt=1,
        description="Fixed false-alarm rate per slice-signal update instead of the line-week "
        "budget (e.g. 1e-6); None: derived from false_alarms_per_line_week.",
    )
    drift_warmup_events: int = Field(30, ge=0, description="Events before a slice may alarm.")
    gap_window_events: int = Field(200, gt=0, description="Events per reference-gap window.")
    slice_idle_seconds: float = Field(6 * 3600.0, gt=0, description="Evict slices idle this long.")
    max_slices: int = Field(10_000, gt=0, description="Hard cap of live slices.")

    @field_validator("drift_detector", "drift_binary_detector", "drift_label_detector")
    @classmethod
    def _parsable_detector(cls, value: str, info: ValidationInfo) -> str:
        from streams.drift.spec import parse_detector_spec  # lazy: streams.drift imports us

        try:
            parse_detector_spec(value, binary=info.field_name != "drift_detector")
        except LinewatchError as exc:
            raise ValueError(str(exc)) from None
        return value.strip()

    # --- readiness ---------------------------------------------------------------------
    readiness: ReadinessCriteria = Field(default_factory=ReadinessCriteria)
    estimation: EstimationSettings = Field(default_factory=EstimationSettings)

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown IANA timezone {value!r} (e.g. 'Europe/Berlin')") from exc
        return value

    @model_validator(mode="after")
    def _consistent_buckets(self) -> Settings:
        n = len(self.lighting_bucket_names)
        if len(self.lux_bucket_edges) != n - 1 or len(self.brightness_bucket_edges) != n - 1:
            raise ValueError("need one more lighting bucket name than bucket edges")
        if list(self.lux_bucket_edges) != sorted(self.lux_bucket_edges):
            raise ValueError("lux_bucket_edges must be increasing")
        if not self.shifts:
            raise ValueError("at least one shift is required")
        return self

    @property
    def zone(self) -> ZoneInfo:
        """The plant's timezone."""
        return ZoneInfo(self.timezone)

    def as_dict(self) -> dict[str, Any]:
        """All settings with secrets masked, for logs and ``linewatch config``."""
        data = self.model_dump(mode="json")
        for key, value in list(data.items()):
            if isinstance(getattr(self, key), SecretStr):
                data[key] = "**********" if value else None
        return data


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read from the environment on first use (not at import)."""
    return Settings()
