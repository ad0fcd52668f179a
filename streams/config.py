"""All configuration of linewatch: one pydantic-settings object read from ``LINEWATCH_*``.

Every field is documented next to its definition; nested values (lists, mappings) are given
as JSON in the environment, e.g. ``LINEWATCH_LINES='{"line-1": {"takt_units_per_minute": 90}}'``.

>>> s = Settings(store="chdb:///tmp/x")
>>> s.store
'chdb:///tmp/x'
>>> s.as_dict()["kafka_sasl_password"] is None
True

An invalid value is an :class:`~streams.errors.InvalidSettings` (a ``ConfigError`` and a
``ValueError``) whose one-line message names the variable, the value and what is allowed:

>>> try:
...     Settings(worker_web_port=-1)
... except InvalidSettings as exc:
...     print(exc)
LINEWATCH_WORKER_WEB_PORT=-1 (given as an option) is invalid: Input should be greater than or \
equal to 1
"""

from __future__ import annotations

import itertools
import re
from datetime import UTC, datetime, time
from functools import lru_cache
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict
from pydantic_settings import SettingsError as _SettingsSourceError

from streams.errors import InvalidSettings, LinewatchError

__all__ = [
    "ENV_PREFIX",
    "EstimationSettings",
    "LineConfig",
    "ReadinessCriteria",
    "Settings",
    "ShiftStart",
    "get_settings",
    "settings_error",
]

ENV_PREFIX = "LINEWATCH_"
"""Every setting ``name`` is read from the environment variable ``LINEWATCH_<NAME>``."""

_TOPIC_NAME = re.compile(r"[A-Za-z0-9._-]{1,249}")
_SHOWN_VALUE_CHARS = 120


class LineConfig(BaseModel):
    """One camera line of the plant."""

    model_config = ConfigDict(allow_inf_nan=False)

    takt_units_per_minute: float = Field(
        60.0, gt=0, le=100_000, description="Line speed: units per minute."
    )
    frames_per_second: float | None = Field(
        None,
        gt=0,
        le=10_000,
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

    name: str = Field(min_length=1)
    start: time


class ReadinessCriteria(BaseModel):
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


class EstimationSettings(BaseModel):
    """Label-free performance estimates (``linewatch estimate``; see docs/estimation.md).

    Given as JSON in ``LINEWATCH_ESTIMATION``, e.g. ``'{"window_frames": 1000}'``.
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


def _default_lines() -> dict[str, LineConfig]:
    return {f"line-{i}": LineConfig(takt_units_per_minute=60.0) for i in (1, 2, 3)}


def _default_shifts() -> list[ShiftStart]:
    return [
        ShiftStart(name="day", start=time(6, 0)),
        ShiftStart(name="evening", start=time(14, 0)),
        ShiftStart(name="night", start=time(22, 0)),
    ]


class Settings(BaseSettings):
    """linewatch's settings; each field is read from ``LINEWATCH_<FIELD>``.

    Construction validates every value (floats must be finite) and raises
    :class:`~streams.errors.InvalidSettings` with one line per problem, see
    :func:`settings_error`.
    """

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, frozen=True, extra="ignore", allow_inf_nan=False
    )

    def __init__(self, **values: Any) -> None:
        """Read the environment, with ``values`` (e.g. command-line options) taking precedence."""
        try:
            super().__init__(**values)
        except (ValidationError, _SettingsSourceError) as exc:
            raise settings_error(exc, given=values) from exc

    # --- store -------------------------------------------------------------------------
    store: str = Field(
        "chdb://.linewatch/store",
        description="clickhouse-connect DSN: chdb://PATH (embedded) or "
        "http(s)://user:password@host:port[/linewatch]. The password may hold any character "
        "(/ # ? @ :); percent-escapes are decoded, so write a % before two hex digits as %25, "
        "or give the password in LINEWATCH_STORE_PASSWORD.",
    )
    store_password: SecretStr | None = Field(
        None, description="ClickHouse password, if not given in the DSN; never shown."
    )
    batch_size: int = Field(
        2000,
        gt=0,
        le=1_000_000,
        description="Rows per store flush (size trigger). Each insert has a fixed cost "
        "(~20-30 ms in chDB), so larger batches are cheaper per frame.",
    )
    flush_interval_s: float = Field(
        5.0, gt=0, le=3600, description="Seconds between flushes (time)."
    )

    # --- kafka -------------------------------------------------------------------------
    kafka_bootstrap: str = Field(
        "127.0.0.1:9092", description="Kafka bootstrap servers: host:port[,host:port...]."
    )
    kafka_security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = Field(
        "PLAINTEXT", description="Kafka security protocol of every client (worker, producer)."
    )
    kafka_sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] | None = Field(
        None, description="SASL mechanism (SASL_* protocols only); default PLAIN."
    )
    kafka_sasl_username: str | None = Field(
        None, description="SASL user; required by the SASL_* protocols."
    )
    kafka_sasl_password: SecretStr | None = Field(
        None, description="SASL password; required by the SASL_* protocols; never shown."
    )
    kafka_ssl_cafile: str | None = Field(None, description="CA bundle for SSL/SASL_SSL.")
    topic_events: str = Field("camera-events", description="Topic of camera events (input).")
    topic_labels: str = Field("labels", description="Topic of ground-truth labels (input).")
    topic_dlq: str = Field("camera-events.dlq", description="Dead-letter topic (output).")
    topic_drift: str = Field("drift-events", description="Drift alarm topic (output).")
    topic_partitions: int = Field(6, gt=0, le=10_000, description="Partitions of camera-events.")
    topic_replication: int = Field(1, gt=0, le=100, description="Replication factor of topics.")
    worker_id: str = Field("linewatch", min_length=1, description="Faust app id / consumer group.")
    worker_web_port: int = Field(
        6066, ge=1, le=65535, description="Faust web port (liveness/readiness)."
    )
    worker_data_dir: str = Field(
        ".linewatch/worker",
        min_length=1,
        description="Faust's own data directory, relative to the current directory and created "
        "with its parents (linewatch keeps no Faust tables there: drift snapshots live in the "
        "ClickHouse table monitor_snapshots).",
    )
    inference_batch_size: int = Field(
        8, gt=0, le=4096, description="Frames per embedded micro-batch."
    )
    worker_batch_size: int = Field(
        64,
        gt=0,
        le=100_000,
        description="Max events per worker micro-batch (Kafka take, one inference run).",
    )
    worker_flush_rows: int = Field(
        2000,
        gt=0,
        le=1_000_000,
        description="Worker write-behind: flush once this many rows are pending (size trigger).",
    )
    worker_flush_interval_s: float = Field(
        1.0,
        gt=0,
        le=3600,
        description="Worker write-behind: flush once the oldest pending row is this old (time "
        "trigger; bounds produce-to-row latency). Offsets are committed only after the flush.",
    )
    worker_write_attempts: int = Field(
        3,
        gt=0,
        le=1000,
        description="Tries of a flush the store rejects (not: cannot be reached, which is "
        "retried without limit) before the batch is bisected and rejected events dead-lettered.",
    )
    inference_batch_timeout_s: float = Field(
        0.5, gt=0, le=600, description="Max wait to fill a batch."
    )
    inference_threads: int | None = Field(
        None,
        gt=0,
        le=1024,
        description="onnxruntime intra-op threads; None: onnxruntime's default.",
    )
    inference_providers: list[str] | None = Field(
        None, description='onnxruntime execution providers, e.g. ["CPUExecutionProvider"].'
    )

    # --- model -------------------------------------------------------------------------
    model: str | None = Field(
        None,
        min_length=1,
        description="Model spec (.json) or bare .onnx path; default: the shipped detector.",
    )
    operating_threshold: float | None = Field(
        None, ge=0, le=1, description="Override the model card's operating threshold."
    )
    reference: str | None = Field(
        None,
        min_length=1,
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
        (0.15, 0.5),
        description="Top confidences in [low, high) go to the review queue; 0 <= low < high <= 1.",
    )

    # --- events and plant --------------------------------------------------------------
    max_image_bytes: int = Field(
        4 * 1024 * 1024, gt=0, le=1024**3, description="Largest accepted frame."
    )
    timezone: str = Field("UTC", description="The plant's IANA timezone, for shifts.")
    shifts: list[ShiftStart] = Field(
        default_factory=_default_shifts,
        description='Work shifts, JSON: [{"name": "day", "start": "06:00"}, ...]; distinct '
        "names and start times.",
    )
    lines: dict[str, LineConfig] = Field(
        default_factory=_default_lines,
        description="Known camera lines; events of other lines are dead-lettered.",
    )
    lux_bucket_edges: list[float] = Field(
        [200.0, 400.0, 900.0], description="Lux edges of the lighting buckets (increasing, >= 0)."
    )
    brightness_bucket_edges: list[float] = Field(
        [0.18, 0.30, 0.61],
        description="Mean-brightness edges (increasing, within 0..1), used without lux (~ the "
        "lux edges as seen by a camera exposed for 650 lux).",
    )
    lighting_bucket_names: list[str] = Field(
        ["dark", "dim", "normal", "bright"],
        description="Names of the lighting buckets: one more than the edges, distinct.",
    )

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
        le=1_000_000,
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
    drift_warmup_events: int = Field(
        30, ge=0, le=10_000_000, description="Events before a slice may alarm."
    )
    gap_window_events: int = Field(
        200, gt=0, le=10_000_000, description="Events per reference-gap window."
    )
    slice_idle_seconds: float = Field(
        6 * 3600.0, gt=0, le=366 * 86400.0, description="Evict slices idle this long."
    )
    max_slices: int = Field(10_000, gt=0, le=10_000_000, description="Hard cap of live slices.")

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
    readiness: ReadinessCriteria = Field(
        default_factory=ReadinessCriteria,
        description="Criteria of the readiness verdict, JSON (keys in the table below).",
    )
    estimation: EstimationSettings = Field(
        default_factory=EstimationSettings,
        description="Label-free estimation, JSON (keys in the table below).",
    )

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown IANA timezone {value!r} (e.g. 'Europe/Berlin')") from exc
        return value

    @field_validator("store")
    @classmethod
    def _known_store_scheme(cls, value: str) -> str:
        scheme = value.partition("://")[0].lower() if "://" in value else ""
        if scheme not in ("chdb", "http", "https"):
            raise ValueError(
                "use chdb://PATH (embedded) or http(s)://user:password@host:port/linewatch"
            )
        return value

    @field_validator("kafka_bootstrap")
    @classmethod
    def _host_ports(cls, value: str) -> str:
        servers = [hp.strip() for hp in value.split(",") if hp.strip()]
        if not servers:
            raise ValueError("give host:port[,host:port...], e.g. 127.0.0.1:9092")
        for server in servers:
            host, _, port = server.rpartition(":")
            if not host or not port.isdigit() or not 1 <= int(port) <= 65535:
                raise ValueError(
                    f"{server!r} is not host:port with a port in 1..65535, e.g. 127.0.0.1:9092"
                )
        return value

    @field_validator("topic_events", "topic_labels", "topic_dlq", "topic_drift")
    @classmethod
    def _kafka_topic_name(cls, value: str) -> str:
        if not _TOPIC_NAME.fullmatch(value) or value in (".", ".."):
            raise ValueError("a Kafka topic name is 1-249 of the characters A-Z a-z 0-9 . _ -")
        return value

    @field_validator("inference_providers")
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

    @field_validator("lux_bucket_edges", "brightness_bucket_edges")
    @classmethod
    def _increasing_edges(cls, value: list[float], info: Any) -> list[float]:
        if any(b <= a for a, b in itertools.pairwise(value)):
            raise ValueError("edges must be strictly increasing, e.g. [0.18, 0.30, 0.61]")
        if any(v < 0 for v in value):
            raise ValueError("edges must be >= 0")
        if info.field_name == "brightness_bucket_edges" and any(v > 1 for v in value):
            raise ValueError("brightness edges are mean brightness, within 0..1")
        return value

    @field_validator("lighting_bucket_names")
    @classmethod
    def _bucket_names(cls, value: list[str]) -> list[str]:
        if not all(value) or len(set(value)) != len(value):
            raise ValueError("names must be non-empty and distinct")
        return value

    @field_validator("shifts")
    @classmethod
    def _distinct_shifts(cls, value: list[ShiftStart]) -> list[ShiftStart]:
        if not value:
            raise ValueError("at least one shift is required")
        if len({s.name for s in value}) != len(value) or len({s.start for s in value}) != len(
            value
        ):
            raise ValueError("shift names and start times must be distinct")
        return value

    @field_validator("lines")
    @classmethod
    def _named_lines(cls, value: dict[str, LineConfig]) -> dict[str, LineConfig]:
        if not value or not all(name.strip() for name in value):
            raise ValueError('name at least one line, e.g. {"line-1": {}}')
        return value

    @model_validator(mode="after")
    def _consistent_buckets(self) -> Settings:
        n = len(self.lighting_bucket_names)
        if len(self.lux_bucket_edges) != n - 1 or len(self.brightness_bucket_edges) != n - 1:
            raise ValueError(
                f"LINEWATCH_LIGHTING_BUCKET_NAMES has {n} names, so LINEWATCH_LUX_BUCKET_EDGES "
                f"({len(self.lux_bucket_edges)}) and LINEWATCH_BRIGHTNESS_BUCKET_EDGES "
                f"({len(self.brightness_bucket_edges)}) need {n - 1} edges each"
            )
        return self

    @model_validator(mode="after")
    def _floor_below_threshold(self) -> Settings:
        threshold = self.operating_threshold
        if threshold is not None and self.store_score_floor > threshold:
            raise ValueError(
                f"LINEWATCH_STORE_SCORE_FLOOR={self.store_score_floor} is above "
                f"LINEWATCH_OPERATING_THRESHOLD={threshold}: boxes at the threshold would not be "
                "stored; keep the floor at or below the threshold"
            )
        return self

    @model_validator(mode="after")
    def _complete_sasl(self) -> Settings:
        protocol = self.kafka_security_protocol
        if protocol.startswith("SASL"):
            if not self.kafka_sasl_username or self.kafka_sasl_password is None:
                raise ValueError(
                    f"LINEWATCH_KAFKA_SECURITY_PROTOCOL={protocol} needs "
                    "LINEWATCH_KAFKA_SASL_USERNAME and LINEWATCH_KAFKA_SASL_PASSWORD"
                )
        elif self.kafka_sasl_mechanism is not None:
            raise ValueError(
                f"LINEWATCH_KAFKA_SASL_MECHANISM={self.kafka_sasl_mechanism} needs "
                "LINEWATCH_KAFKA_SECURITY_PROTOCOL=SASL_PLAINTEXT or SASL_SSL "
                f"(it is {protocol})"
            )
        return self

    @property
    def zone(self) -> ZoneInfo:
        """The plant's timezone."""
        return ZoneInfo(self.timezone)

    def __repr_args__(self) -> Any:
        """``repr``/``str`` show the store DSN with its password masked."""
        from streams.sinks.dsn import mask_dsn

        for key, value in super().__repr_args__():
            yield key, mask_dsn(value) if key == "store" and isinstance(value, str) else value

    def replace(self, **changes: Any) -> Settings:
        """A copy with ``changes``, validated like the environment (unlike ``model_copy``).

        >>> Settings(batch_size=10).replace(batch_size=20).batch_size
        20
        """
        return type(self)(**{**dict(self), **changes})

    def as_dict(self) -> dict[str, Any]:
        """All settings with secrets masked (passwords and the store DSN's), for logs."""
        from streams.sinks.dsn import mask_dsn

        data = self.model_dump(mode="json")
        for key, value in list(data.items()):
            if isinstance(getattr(self, key), SecretStr):
                data[key] = "**********" if value else None
        data["store"] = mask_dsn(self.store)
        return data


def _env_name(field: str) -> str:
    return f"{ENV_PREFIX}{field.upper()}"


def _shown(field: str, value: Any) -> str:
    """A value for an error message: secrets hidden, DSNs masked, long values cut."""
    from streams.sinks.dsn import mask_dsn

    if isinstance(value, SecretStr) or field in _SECRET_FIELDS:
        return "'***'"
    text = mask_dsn(value) if isinstance(value, str) else value
    shown = repr(text) if isinstance(text, str) else str(text)
    if len(shown) > _SHOWN_VALUE_CHARS:
        shown = shown[: _SHOWN_VALUE_CHARS - 1] + "…"
    return shown


def _problem(error: Any, given: dict[str, Any]) -> str:
    loc = [str(part) for part in error.get("loc", ())]
    message = str(error.get("msg", "invalid value"))
    message = message.removeprefix("Value error, ").removeprefix("Assertion failed, ")
    if not loc:  # a check across fields: its message names the variables
        return message
    field, inner = loc[0], loc[1:]
    name = _env_name(field) + (f" {'.'.join(inner)}" if inner else "")
    source = " (given as an option)" if field in given else ""
    value = _shown(field, error.get("input"))
    return f"{name}={value}{source} is invalid: {message}"


_SECRET_FIELDS = frozenset({"store_password", "kafka_sasl_password"})


def settings_error(exc: Exception, *, given: dict[str, Any] | None = None) -> InvalidSettings:
    """One :class:`~streams.errors.InvalidSettings` line for an invalid configuration: for each
    problem the variable, the value (secrets hidden) and what is allowed.

    ``given`` are the values passed to :class:`Settings` directly (command-line options).
    """
    if isinstance(exc, ValidationError):
        problems = [_problem(e, given or {}) for e in exc.errors()]
        return InvalidSettings("; ".join(dict.fromkeys(problems)))
    text = str(exc)
    found = re.search(r'field "([^"]+)"', text)
    if found:
        return InvalidSettings(
            f"{_env_name(found.group(1))} is not valid JSON: give lists and mappings as JSON, "
            """e.g. [0.15, 0.5] or {"line-1": {"takt_units_per_minute": 90}}"""
        )
    return InvalidSettings(f"invalid LINEWATCH_* configuration: {text}")


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read from the environment on first use (not at import).

    For entry points only (``streams.app``); stages get their settings passed in.
    """
    return Settings()
