"""Where events come from and rows go: the store, Kafka, the worker and the checkpoint
(``LINEWATCH_STORE__*``, ``LINEWATCH_KAFKA__*``, ``LINEWATCH_WORKER__*``,
``LINEWATCH_CHECKPOINT__*``)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import (
    Field,
    SecretStr,
    field_validator,
    model_validator,
)

from streams.config_groups.base import _TOPIC_NAME, _Group
from streams.errors import ConfigError, LinewatchError

__all__ = ["CheckpointSettings", "KafkaSettings", "StoreSettings", "WorkerSettings"]


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
    topic_audit_requests: str = Field(
        "audit-requests",
        description="Topic of the units the worker asks a person to review (output; "
        "LINEWATCH_WORKER__AUDIT_BUDGET).",
    )
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
            bare = host.removeprefix("kafka://")
            bracketed = bare.startswith("[") and bare.endswith("]") and len(bare) > 2
            if ("[" in bare or "]" in bare or ":" in bare) and not bracketed:
                raise ValueError(f"{server!r}: write an IPv6 address in brackets, e.g. [::1]:9092")
        return value

    @field_validator(
        "topic_events", "topic_labels", "topic_dlq", "topic_drift", "topic_audit_requests"
    )
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
    session_timeout_s: float = Field(
        60.0,
        ge=6,
        le=90,
        description="Kafka consumer session timeout (Faust's broker_session_timeout): a worker "
        "that sends no heartbeat for this long (SIGKILLed, its host gone) leaves the group and "
        "its partitions go to the other workers; until then nobody consumes them. Shorter "
        "hands over sooner; too short drops a worker whose heartbeats a stalled machine "
        "delays (a rebalance of the whole group). The heartbeat interval follows: a sixth of "
        "it, at most 3 s. The broker bounds it (group.min.session.timeout.ms, 6 s by "
        "default); Faust's request timeout (90 s) caps it. Faust's own BROKER_SESSION_TIMEOUT "
        "and BROKER_HEARTBEAT_INTERVAL variables are not read.",
    )
    audit_budget: str | None = Field(
        None,
        description="Units a person should review, chosen as events are processed and "
        "published on LINEWATCH_KAFKA__TOPIC_AUDIT_REQUESTS, each with the inclusion "
        "probability `audit plan` would give it: '300/day', '1%' or a fraction '0.01'; "
        "None: the worker requests no audits.",
    )
    latency_trace: str | None = Field(
        None,
        min_length=1,
        description="Diagnosis: append each stored event's stage times (Kafka timestamp, take, "
        "model batch, decode, model, state, cut, write) as JSON lines to this file "
        "(streams/runners/latency_trace.py; bench/bench_camera_batch.py --kafka reads them). "
        "None: nothing is stamped.",
    )
    audit_history_h: float = Field(
        24.0,
        gt=0,
        le=24 * 90,
        description="Hours of stored frames (back from the newest) the worker's audit "
        "probabilities share the budget over, as a plan over that window would.",
    )

    @field_validator("audit_budget")
    @classmethod
    def _audit_budget(cls, value: str | None) -> str | None:
        if value is not None:
            from streams.readiness.audit_plan import parse_budget

            try:
                parse_budget(value)
            except ConfigError as exc:
                raise ValueError(str(exc).replace("--budget", "the audit budget")) from exc
        return value


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
        description="Latency budget of the time trigger: flush once the oldest pending row "
        "would otherwise be stored later than this after its event was produced (its Kafka "
        "timestamp in the worker, its arrival in `linewatch run`), the expected write "
        "counted (streams/runners/flush_policy.py). The worker commits offsets only after "
        "the flush.",
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
