"""The groups of linewatch's settings: one pydantic model per concern, read by
:class:`streams.config.Settings` from ``LINEWATCH_<GROUP>__<NAME>``.

Each group's fields carry their bounds, default and ``description`` (the text of
``docs/configuration.md``); checks across fields of a group are model validators here.

>>> KafkaSettings(bootstrap="k1:9092").topic_events
'camera-events'
>>> env_name("worker", "take_window_s")
'LINEWATCH_WORKER__TAKE_WINDOW_S'
"""

from __future__ import annotations

import itertools
import json
import re
from datetime import UTC, datetime, time
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationInfo,
    field_validator,
    model_validator,
)

from streams.errors import LinewatchError

__all__ = [
    "ENV_PREFIX",
    "GROUPS",
    "NESTED_DELIMITER",
    "CheckpointSettings",
    "DriftSettings",
    "EstimationSettings",
    "InferenceSettings",
    "IngestSettings",
    "KafkaSettings",
    "LineConfig",
    "PlantSettings",
    "ReadinessCriteria",
    "ShiftStart",
    "StoreSettings",
    "WorkerSettings",
    "env_name",
]

ENV_PREFIX = "LINEWATCH_"
"""Every setting ``<group>.<name>`` is read from ``LINEWATCH_<GROUP>__<NAME>``."""

NESTED_DELIMITER = "__"
"""Separates the group from the setting's name in a variable."""

_TOPIC_NAME = re.compile(r"[A-Za-z0-9._-]{1,249}")


def env_name(group: str, name: str | None = None) -> str:
    """The variable of setting ``group.name`` (or of a whole group, given as JSON).

    >>> env_name("store", "dsn"), env_name("readiness")
    ('LINEWATCH_STORE__DSN', 'LINEWATCH_READINESS')
    """
    if name is None:
        return f"{ENV_PREFIX}{group.upper()}"
    return f"{ENV_PREFIX}{group.upper()}{NESTED_DELIMITER}{name.upper()}"


def _nul_free(value: Any) -> Any:
    r"""``value`` unchanged, or a ``ValueError`` if any text in it holds a NUL character (no
    path, host, topic or name can: the OS and every protocol stop at it).

    >>> _nul_free(["/data", {"k": "v"}])
    ['/data', {'k': 'v'}]
    >>> _nul_free(["/data\x00/x"])
    Traceback (most recent call last):
    ...
    ValueError: holds a NUL character (\x00); no path or name can hold one: remove it
    """
    texts = [value]
    while texts:
        item = texts.pop()
        if isinstance(item, SecretStr):
            item = item.get_secret_value()
        if isinstance(item, str | bytes) and (
            "\x00" in item if isinstance(item, str) else b"\0" in item
        ):
            raise ValueError(
                "holds a NUL character (\\x00); no path or name can hold one: remove it"
            )
        if isinstance(item, dict):
            texts.extend(item.keys())
            texts.extend(item.values())
        elif isinstance(item, list | tuple | set | frozenset):
            texts.extend(item)
    return value


class _Checked(BaseModel):
    """A model whose every field is refused when any text in it holds a NUL character."""

    @field_validator("*", mode="before")
    @classmethod
    def _no_nul(cls, value: Any) -> Any:
        return _nul_free(value)


class _Group(_Checked):
    """A group of settings: frozen, finite floats, unknown names refused (typos), no NUL."""

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)


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
    cameras: list[str] = Field(
        default_factory=list,
        description="The line's camera ids; events of another camera on this line are "
        "dead-lettered (unknown_camera). Empty: any camera.",
    )

    @field_validator("cameras")
    @classmethod
    def _distinct_cameras(cls, value: list[str]) -> list[str]:
        if not all(c.strip() for c in value) or len(set(value)) != len(value):
            raise ValueError('camera ids must be non-empty and distinct, e.g. ["cam-1a", "cam-1b"]')
        return value

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


def _default_lines() -> dict[str, LineConfig]:
    return {f"line-{i}": LineConfig(takt_units_per_minute=60.0) for i in (1, 2, 3)}


def _default_shifts() -> list[ShiftStart]:
    return [
        ShiftStart(name="day", start=time(6, 0)),
        ShiftStart(name="evening", start=time(14, 0)),
        ShiftStart(name="night", start=time(22, 0)),
    ]


class StoreSettings(_Group):
    """The ClickHouse store (``LINEWATCH_STORE__*``): where it is and what a read may cost."""

    dsn: str = Field(
        "chdb://.linewatch/store",
        description="clickhouse-connect DSN: chdb://PATH (embedded) or "
        "http(s)://user:password@host:port[/linewatch]. The password may hold any character "
        "(/ # ? @ :); percent-escapes are decoded, so write a % before two hex digits as %25, "
        "or give the password in LINEWATCH_STORE__PASSWORD.",
    )
    password: SecretStr | None = Field(
        None, description="ClickHouse password, if not given in the DSN; never shown."
    )
    read_max_execution_time_s: float = Field(
        300.0,
        ge=0,
        le=7 * 86_400,
        description="Reads (`linewatch query`, `drift`, `metrics`, `report`): ClickHouse's "
        "max_execution_time per query, in seconds (0: no limit). A 10M-frame store's metrics "
        "and report queries take seconds; a runaway ad-hoc query stops here.",
    )
    read_max_memory_bytes: int = Field(
        4 * 1024**3,
        ge=0,
        le=1024**4,
        description="Reads: ClickHouse's max_memory_usage per query, in bytes (0: no limit; "
        "default 4 GiB).",
    )

    @field_validator("dsn")
    @classmethod
    def _known_store_scheme(cls, value: str) -> str:
        scheme = value.partition("://")[0].lower() if "://" in value else ""
        if scheme not in ("chdb", "http", "https"):
            raise ValueError(
                "use chdb://PATH (embedded) or http(s)://user:password@host:port/linewatch"
            )
        if scheme != "chdb":  # a server DSN must parse: host, port, IPv6 brackets
            from streams.sinks.dsn import parse_dsn  # loads clickhouse-connect: servers only

            try:
                parse_dsn(value)
            except LinewatchError as exc:
                raise ValueError(str(exc)) from exc
        return value

    def __repr_args__(self) -> Any:
        """``repr``/``str`` show the DSN with its password masked."""
        from streams.sinks.dsn import mask_dsn

        for key, value in super().__repr_args__():
            yield key, mask_dsn(value) if key == "dsn" and isinstance(value, str) else value


class KafkaSettings(_Group):
    """Kafka brokers, security and topics (``LINEWATCH_KAFKA__*``), for every client."""

    bootstrap: str = Field(
        "127.0.0.1:9092", description="Kafka bootstrap servers: host:port[,host:port...]."
    )
    security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = Field(
        "PLAINTEXT", description="Kafka security protocol of every client (worker, producer)."
    )
    sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] | None = Field(
        None, description="SASL mechanism (SASL_* protocols only); default PLAIN."
    )
    sasl_username: str | None = Field(
        None, description="SASL user; required by the SASL_* protocols."
    )
    sasl_password: SecretStr | None = Field(
        None, description="SASL password; required by the SASL_* protocols; never shown."
    )
    ssl_cafile: str | None = Field(None, description="CA bundle for SSL/SASL_SSL.")
    topic_events: str = Field("camera-events", description="Topic of camera events (input).")
    topic_labels: str = Field("labels", description="Topic of ground-truth labels (input).")
    topic_dlq: str = Field("camera-events.dlq", description="Dead-letter topic (output).")
    topic_drift: str = Field("drift-events", description="Drift alarm topic (output).")
    topic_partitions: int = Field(
        6, gt=0, le=10_000, description="Partitions of the camera-events topic."
    )
    topic_replication: int = Field(
        1, gt=0, le=100, description="Replication factor of the topics linewatch creates."
    )

    @field_validator("bootstrap")
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

    @model_validator(mode="after")
    def _complete_sasl(self) -> KafkaSettings:
        protocol = self.security_protocol
        if protocol.startswith("SASL"):
            if not self.sasl_username or self.sasl_password is None:
                raise ValueError(
                    f"LINEWATCH_KAFKA__SECURITY_PROTOCOL={protocol} needs "
                    "LINEWATCH_KAFKA__SASL_USERNAME and LINEWATCH_KAFKA__SASL_PASSWORD"
                )
        elif self.sasl_mechanism is not None:
            raise ValueError(
                f"LINEWATCH_KAFKA__SASL_MECHANISM={self.sasl_mechanism} needs "
                "LINEWATCH_KAFKA__SECURITY_PROTOCOL=SASL_PLAINTEXT or SASL_SSL "
                f"(it is {protocol})"
            )
        return self


class WorkerSettings(_Group):
    """The Faust stream worker (``LINEWATCH_WORKER__*``): what it takes from Kafka per
    inference run and how often it commits offsets (its write-behind is ``checkpoint``'s)."""

    app_id: str = Field("linewatch", min_length=1, description="Faust app id / consumer group.")
    web_port: int = Field(6066, ge=1, le=65535, description="Faust web port (liveness/readiness).")
    data_dir: str = Field(
        ".linewatch/worker",
        min_length=1,
        description="Faust's own data directory, relative to the current directory and created "
        "with its parents (linewatch keeps no Faust tables there: drift snapshots live in the "
        "ClickHouse table monitor_snapshots).",
    )
    take_max_events: int = Field(
        64,
        gt=0,
        le=100_000,
        description="Most events the worker takes from Kafka at once (Faust stream.take): one "
        "decode and inference run over them, in slices of LINEWATCH_INFERENCE__BATCH_FRAMES.",
    )
    take_window_s: float = Field(
        0.5,
        gt=0,
        le=600,
        description="Most seconds the worker waits to gather LINEWATCH_WORKER__TAKE_MAX_EVENTS "
        "(Faust stream.take's window) before it runs what it has.",
    )
    commit_interval_s: float = Field(
        0.5,
        gt=0,
        le=60,
        description="The worker commits the offsets of a flush's events right after it stores "
        "them; this timer (Faust's broker_commit_interval, 2.8 s by default there) commits "
        "what else was acknowledged, e.g. after a rebalance.",
    )


class CheckpointSettings(_Group):
    """The one write-behind of both runners (``LINEWATCH_CHECKPOINT__*``): when pending rows
    are flushed to the store, how often a refused flush is tried, how often partition states
    are snapshotted."""

    flush_rows: int = Field(
        2000,
        gt=0,
        le=1_000_000,
        description="Flush once this many rows are pending (size trigger; `linewatch run`, "
        "`demo` and the worker alike). Each insert has a fixed cost (~20-30 ms in chDB), so "
        "larger flushes are cheaper per frame.",
    )
    flush_interval_s: float = Field(
        1.0,
        gt=0,
        le=3600,
        description="Flush once the oldest pending event is this old (time trigger; bounds "
        "produce-to-row latency). The worker commits offsets only after the flush.",
    )
    write_attempts: int = Field(
        3,
        gt=0,
        le=1000,
        description="Tries of a flush the store rejects (not: cannot be reached, which is "
        "retried without limit) before the batch is bisected and the events the store refuses "
        "become store_rejected dead letters.",
    )
    snapshot_every_flushes: int = Field(
        20,
        gt=0,
        le=10_000,
        description="The worker snapshots each partition's state (table monitor_snapshots) on "
        "every this-many-th flush, when its partitions are revoked, when it stops, and when "
        "acknowledgements have waited this many flush intervals. Events are acknowledged to "
        "Kafka only with a snapshot at or past them, so a killed worker replays at most this "
        "many flushes' events from the newest snapshot, and the group's committed lag includes up "
        "to this many flushes' events. 20 keeps snapshot bytes under 10% of the frame rows' at "
        "full speed (bench/bench_snapshot.py: 9.3%; 10 gives 18.6%); 1 = a snapshot per flush.",
    )


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
        "worker owns) before the model runs on it; 0 runs every tail at once.",
    )
    threads: int | None = Field(
        None,
        gt=0,
        le=1024,
        description="onnxruntime intra-op threads; None: the cores this process may use (CPU "
        "affinity and cgroup quota) less one for the decode thread, at least 1.",
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


class PlantSettings(_Group):
    """The plant: timezone, shifts, lines and lighting buckets, which name the slices
    (``LINEWATCH_PLANT__*``)."""

    timezone: str = Field("UTC", description="The plant's IANA timezone, for shifts.")
    shifts: list[ShiftStart] = Field(
        default_factory=_default_shifts,
        description='Work shifts, JSON: [{"name": "day", "start": "06:00"}, ...]; distinct '
        "names and start times.",
    )
    lines: dict[str, LineConfig] = Field(
        default_factory=_default_lines,
        description="Known camera lines, JSON (keys in the table below); events of other lines "
        "are dead-lettered.",
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

    @property
    def zone(self) -> ZoneInfo:
        """The plant's timezone."""
        return ZoneInfo(self.timezone)

    @field_validator("lines", mode="before")
    @classmethod
    def _lines_by_id(cls, value: Any) -> Any:
        """A list of line ids is the common first try: answer with the dict form for them."""
        if isinstance(value, list | tuple) and all(isinstance(v, str) for v in value):
            example = json.dumps({v: {"takt_units_per_minute": 60} for v in value[:3]})
            raise ValueError(
                "lines is a JSON object keyed by line id, each with its settings (or {} for "
                f"the defaults), not a list; for these lines: {example}"
            )
        return value

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown IANA timezone {value!r} (e.g. 'Europe/Berlin')") from exc
        return value

    @field_validator("lux_bucket_edges", "brightness_bucket_edges")
    @classmethod
    def _increasing_edges(cls, value: list[float], info: ValidationInfo) -> list[float]:
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
    def _consistent_buckets(self) -> PlantSettings:
        n = len(self.lighting_bucket_names)
        if len(self.lux_bucket_edges) != n - 1 or len(self.brightness_bucket_edges) != n - 1:
            raise ValueError(
                f"LINEWATCH_PLANT__LIGHTING_BUCKET_NAMES has {n} names, so "
                f"LINEWATCH_PLANT__LUX_BUCKET_EDGES ({len(self.lux_bucket_edges)}) and "
                f"LINEWATCH_PLANT__BRIGHTNESS_BUCKET_EDGES ({len(self.brightness_bucket_edges)}) "
                f"need {n - 1} edges each"
            )
        return self


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


GROUPS: dict[str, type[BaseModel]] = {
    "store": StoreSettings,
    "checkpoint": CheckpointSettings,
    "kafka": KafkaSettings,
    "worker": WorkerSettings,
    "inference": InferenceSettings,
    "ingest": IngestSettings,
    "plant": PlantSettings,
    "drift": DriftSettings,
    "readiness": ReadinessCriteria,
    "estimation": EstimationSettings,
}
"""Every group of :class:`Settings`, by its field name."""
