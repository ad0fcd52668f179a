"""All configuration of linewatch: one pydantic-settings object read from ``LINEWATCH_*``.

Settings are grouped by concern; each group is a nested model and each value is read from
``LINEWATCH_<GROUP>__<NAME>`` (two underscores), e.g. ``LINEWATCH_STORE__DSN`` or
``LINEWATCH_WORKER__TAKE_MAX_EVENTS``. Lists and mappings are JSON, e.g.
``LINEWATCH_PLANT__LINES='{"line-1": {"takt_units_per_minute": 90}}'``. The groups:

- ``store``: the ClickHouse store and the embedded runner's batch writer;
- ``kafka``: brokers, security and topics;
- ``worker``: the Faust stream worker (app id, web port, take window, write-behind);
- ``inference``: the model, its threshold and onnxruntime;
- ``ingest``: what one event may cost and which frames are accepted;
- ``plant``: timezone, shifts, lines and lighting buckets (how frames are sliced);
- ``drift``: detectors, false-alarm budget and slice bookkeeping;
- ``readiness`` and ``estimation``: the verdict's criteria and label-free estimates.

The flat names of the previous release (``LINEWATCH_STORE``, ``LINEWATCH_BATCH_SIZE``, ...) still
work for one release: each is read into its new place with a :class:`DeprecationWarning` and a
log line naming the new variable (:data:`DEPRECATED_NAMES`); the new variable wins when both are
set. ``docs/configuration.md`` lists every variable with its old name. The groups' models
(fields, bounds, descriptions, checks) are in :mod:`streams.config_groups`; this module reads
them from the environment and explains what is wrong with a value.

>>> s = Settings(store={"dsn": "chdb:///tmp/x"})
>>> s.store.dsn
'chdb:///tmp/x'
>>> s.as_dict()["kafka"]["sasl_password"] is None
True

An invalid value is an :class:`~streams.errors.InvalidSettings` (a ``ConfigError`` and a
``ValueError``) whose one-line message names the variable, the value and what is allowed:

>>> try:
...     Settings(worker={"web_port": -1})
... except InvalidSettings as exc:
...     print(exc)
LINEWATCH_WORKER__WEB_PORT=-1 (given as an option) is invalid: Input should be greater than or \
equal to 1
"""

from __future__ import annotations

import json
import logging
import os
import re
import types
import typing
import warnings
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from pydantic import (
    BaseModel,
    Field,
    SecretStr,
    ValidationError,
)
from pydantic.fields import FieldInfo
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)
from pydantic_settings import SettingsError as _SettingsSourceError

from streams.config_groups import (
    ENV_PREFIX,
    GROUPS,
    NESTED_DELIMITER,
    DriftSettings,
    EstimationSettings,
    InferenceSettings,
    IngestSettings,
    KafkaSettings,
    LineConfig,
    PlantSettings,
    ReadinessCriteria,
    ShiftStart,
    StoreSettings,
    WorkerSettings,
    env_name,
)
from streams.errors import InvalidSettings

__all__ = [
    "DEPRECATED_NAMES",
    "ENV_PREFIX",
    "GROUPS",
    "NESTED_DELIMITER",
    "DriftSettings",
    "EstimationSettings",
    "InferenceSettings",
    "IngestSettings",
    "KafkaSettings",
    "LineConfig",
    "PlantSettings",
    "ReadinessCriteria",
    "Settings",
    "ShiftStart",
    "StoreSettings",
    "WorkerSettings",
    "env_name",
    "get_settings",
    "settings_error",
]

_SHOWN_VALUE_CHARS = 120
_log = logging.getLogger(__name__)


DEPRECATED_NAMES: dict[str, tuple[str, str]] = {
    f"{ENV_PREFIX}{old.upper()}": (group, new)
    for old, group, new in [
        ("store", "store", "dsn"),
        ("store_password", "store", "password"),
        ("batch_size", "store", "flush_rows"),
        ("flush_interval_s", "store", "flush_interval_s"),
        ("kafka_bootstrap", "kafka", "bootstrap"),
        ("kafka_security_protocol", "kafka", "security_protocol"),
        ("kafka_sasl_mechanism", "kafka", "sasl_mechanism"),
        ("kafka_sasl_username", "kafka", "sasl_username"),
        ("kafka_sasl_password", "kafka", "sasl_password"),
        ("kafka_ssl_cafile", "kafka", "ssl_cafile"),
        ("topic_events", "kafka", "topic_events"),
        ("topic_labels", "kafka", "topic_labels"),
        ("topic_dlq", "kafka", "topic_dlq"),
        ("topic_drift", "kafka", "topic_drift"),
        ("topic_partitions", "kafka", "topic_partitions"),
        ("topic_replication", "kafka", "topic_replication"),
        ("worker_id", "worker", "app_id"),
        ("worker_web_port", "worker", "web_port"),
        ("worker_data_dir", "worker", "data_dir"),
        ("worker_batch_size", "worker", "take_max_events"),
        ("inference_batch_timeout_s", "worker", "take_window_s"),
        ("worker_flush_rows", "worker", "flush_rows"),
        ("worker_flush_interval_s", "worker", "flush_interval_s"),
        ("worker_write_attempts", "worker", "write_attempts"),
        ("model", "inference", "model"),
        ("operating_threshold", "inference", "operating_threshold"),
        ("store_score_floor", "inference", "store_score_floor"),
        ("review_band", "inference", "review_band"),
        ("inference_batch_size", "inference", "batch_frames"),
        ("inference_threads", "inference", "threads"),
        ("inference_providers", "inference", "providers"),
        ("max_image_bytes", "ingest", "max_image_bytes"),
        ("max_image_pixels", "ingest", "max_image_pixels"),
        ("min_image_side", "ingest", "min_image_side"),
        ("image_roots", "ingest", "image_roots"),
        ("captured_at_min", "ingest", "captured_at_min"),
        ("captured_at_max_ahead_s", "ingest", "captured_at_max_ahead_s"),
        ("dead_letter_max_payload_bytes", "ingest", "dead_letter_max_payload_bytes"),
        ("timezone", "plant", "timezone"),
        ("shifts", "plant", "shifts"),
        ("lines", "plant", "lines"),
        ("lux_bucket_edges", "plant", "lux_bucket_edges"),
        ("brightness_bucket_edges", "plant", "brightness_bucket_edges"),
        ("lighting_bucket_names", "plant", "lighting_bucket_names"),
        ("reference", "drift", "reference"),
        ("drift_detector", "drift", "detector"),
        ("drift_binary_detector", "drift", "binary_detector"),
        ("drift_label_detector", "drift", "label_detector"),
        ("drift_label_fnr", "drift", "label_fnr"),
        ("drift_label_fpr", "drift", "label_fpr"),
        ("false_alarms_per_line_week", "drift", "false_alarms_per_line_week"),
        ("drift_false_alarms_per_event", "drift", "false_alarms_per_event"),
        ("drift_warmup_events", "drift", "warmup_events"),
        ("gap_window_events", "drift", "gap_window_events"),
        ("slice_idle_seconds", "drift", "slice_idle_s"),
        ("max_slices", "drift", "max_slices"),
    ]
}
"""The previous release's flat variables (read for one more release, with a warning) and the
``(group, name)`` each now sets."""

_OLD_NAME = {new: old for old, new in DEPRECATED_NAMES.items()}


def _is_complex(info: FieldInfo) -> bool:
    """Whether a setting is given as JSON (lists, tuples, mappings, models), e.g. review_band.

    >>> _is_complex(InferenceSettings.model_fields["providers"])
    True
    >>> _is_complex(InferenceSettings.model_fields["threads"])
    False
    """
    kinds = [info.annotation]
    if typing.get_origin(info.annotation) in (typing.Union, types.UnionType):
        kinds = [a for a in typing.get_args(info.annotation) if a is not type(None)]
    return any(
        typing.get_origin(kind) in (list, tuple, dict)
        or (isinstance(kind, type) and issubclass(kind, BaseModel))
        for kind in kinds
    )


def _deprecated_values(environ: Mapping[str, str]) -> dict[str, dict[str, Any]]:
    """The settings given by deprecated flat variables, as ``{group: {name: value}}``, with one
    :class:`DeprecationWarning` and log line per variable naming its replacement."""
    found: dict[str, dict[str, Any]] = {}
    upper = {name.upper(): value for name, value in environ.items()}
    for old, (group, name) in DEPRECATED_NAMES.items():
        if old not in upper:
            continue
        new = env_name(group, name)
        if new in upper:
            message = (
                f"{old} is deprecated and ignored because {new} is set too (the new name wins); "
                f"remove {old}"
            )
        else:
            message = (
                f"{old} is deprecated and will stop working in the next release: rename it to {new}"
            )
            raw = upper[old]
            value: Any = raw
            if _is_complex(GROUPS[group].model_fields[name]):
                try:
                    value = json.loads(raw)
                except ValueError:
                    raise InvalidSettings(
                        f"{old} (now {new}) is not valid JSON: give lists and mappings as JSON, "
                        """e.g. [0.15, 0.5] or {"line-1": {"takt_units_per_minute": 90}}"""
                    ) from None
            found.setdefault(group, {})[name] = value
        warnings.warn(message, DeprecationWarning, stacklevel=4)
        _log.warning("%s", message)
    return found


class _DeprecatedEnvSource(PydanticBaseSettingsSource):
    """The deprecated flat variables, below the new ones in priority."""

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False  # everything is read at once in __call__

    def __call__(self) -> dict[str, Any]:
        return _deprecated_values(os.environ)


class _EnvSource(EnvSettingsSource):
    """``LINEWATCH_<GROUP>__<NAME>`` variables; ``LINEWATCH_STORE`` is the deprecated DSN, not
    the store group as JSON."""

    def _load_env_vars(self) -> Mapping[str, str | None]:
        env = super()._load_env_vars()
        return {k: v for k, v in env.items() if k.upper() != env_name("store")}


class Settings(BaseSettings):
    """linewatch's settings, one nested model per group; ``group.name`` is read from
    ``LINEWATCH_<GROUP>__<NAME>``.

    Construction validates every value (floats must be finite) and raises
    :class:`~streams.errors.InvalidSettings` with one line per problem, see
    :func:`settings_error`. Keyword arguments (command-line options) give groups as mappings,
    merged over the environment: ``Settings(store={"dsn": "chdb:///tmp/x"})``.
    """

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_nested_delimiter=NESTED_DELIMITER,
        frozen=True,
        extra="ignore",
        allow_inf_nan=False,
    )

    def __init__(self, **values: Any) -> None:
        """Read the environment, with ``values`` (e.g. command-line options) taking precedence."""
        try:
            super().__init__(**values)
        except InvalidSettings:
            raise
        except (ValidationError, _SettingsSourceError, ValueError, TypeError) as exc:
            # a validator's ValueError/TypeError that pydantic does not wrap is one line too
            raise settings_error(exc, given=values) from exc

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Options, then ``LINEWATCH_<GROUP>__<NAME>``, then the deprecated flat names."""
        return (init_settings, _EnvSource(settings_cls), _DeprecatedEnvSource(settings_cls))

    store: StoreSettings = Field(
        default_factory=StoreSettings,
        description="The ClickHouse store, and how embedded runs flush to it.",
    )
    kafka: KafkaSettings = Field(
        default_factory=KafkaSettings,
        description="Kafka brokers, security and topics, for every client.",
    )
    worker: WorkerSettings = Field(
        default_factory=WorkerSettings,
        description="The Faust stream worker: app id, web port, what it takes from Kafka per "
        "inference run, write-behind to the store.",
    )
    inference: InferenceSettings = Field(
        default_factory=InferenceSettings,
        description="The detector: model, operating threshold, stored scores, review band, "
        "onnxruntime.",
    )
    ingest: IngestSettings = Field(
        default_factory=IngestSettings,
        description="What one event may cost and which frames are accepted; the rest are dead "
        "letters.",
    )
    plant: PlantSettings = Field(
        default_factory=PlantSettings,
        description="Timezone, shifts, lines and lighting buckets: what names a slice.",
    )
    drift: DriftSettings = Field(
        default_factory=DriftSettings,
        description="Drift detection: lab reference, detectors, false-alarm budget, slices.",
    )
    readiness: ReadinessCriteria = Field(
        default_factory=ReadinessCriteria,
        description="Criteria of the readiness verdict (`linewatch report`).",
    )
    estimation: EstimationSettings = Field(
        default_factory=EstimationSettings,
        description="Label-free performance estimates (`linewatch estimate`).",
    )

    def replace(self, **changes: Any) -> Settings:
        """A copy with ``changes``, validated like the environment (unlike ``model_copy``).

        A mapping is merged into its group; a group model replaces the group. The environment
        is not read again.

        >>> s = Settings(store={"flush_rows": 10}).replace(store={"flush_rows": 20})
        >>> s.store.flush_rows, s.store.flush_interval_s
        (20, 5.0)
        """
        data = self.model_dump()  # secrets stay SecretStr
        for key, value in changes.items():
            if key not in GROUPS:
                raise InvalidSettings(f"no settings group {key!r}; groups: {', '.join(GROUPS)}")
            data[key] = {**data[key], **value} if isinstance(value, Mapping) else value
        try:
            return type(self).model_validate(data)
        except InvalidSettings:
            raise
        except (ValidationError, ValueError, TypeError) as exc:
            raise settings_error(exc, given=changes) from exc

    def as_dict(self) -> dict[str, Any]:
        """All settings by group with secrets masked (passwords and the store DSN's), for logs."""
        from streams.sinks.dsn import mask_dsn

        data = self.model_dump(mode="json")
        for group, values in data.items():
            for key, value in list(values.items()):
                if isinstance(getattr(getattr(self, group), key), SecretStr):
                    values[key] = "**********" if value else None
        data["store"]["dsn"] = mask_dsn(self.store.dsn)
        return data


def _shown(secret: bool, value: Any) -> str:
    """A value for an error message: secrets hidden, DSNs masked, long values cut."""
    from streams.sinks.dsn import mask_dsn

    if isinstance(value, SecretStr) or secret:
        return "'***'"
    text = mask_dsn(value) if isinstance(value, str) else value
    shown = repr(text) if isinstance(text, str) else str(text)
    if len(shown) > _SHOWN_VALUE_CHARS:
        shown = shown[: _SHOWN_VALUE_CHARS - 1] + "…"
    return shown


def _given(given: Mapping[str, Any], group: str, name: str) -> bool:
    values = given.get(group)
    if isinstance(values, Mapping):
        return name in values
    return values is not None


def _problem(error: Any, given: Mapping[str, Any], environ: Mapping[str, str]) -> str:
    loc = [str(part) for part in error.get("loc", ())]
    message = str(error.get("msg", "invalid value"))
    message = message.removeprefix("Value error, ").removeprefix("Assertion failed, ")
    if len(loc) < 2 or loc[0] not in GROUPS:  # a check across fields names the variables
        return message
    group, name, inner = loc[0], loc[1], loc[2:]
    variable = env_name(group, name)
    shown = variable + (f" {'.'.join(inner)}" if inner else "")
    old = _OLD_NAME.get((group, name))
    if _given(given, group, name):
        source = " (given as an option)"
    elif old is not None and old in environ and variable not in environ:
        source = f" (given as {old}, deprecated)"
    else:
        source = ""
    secret = (group, name) in _SECRET_FIELDS
    return f"{shown}={_shown(secret, error.get('input'))}{source} is invalid: {message}"


_SECRET_FIELDS = frozenset({("store", "password"), ("kafka", "sasl_password")})


def _bad_json(group: str, environ: Mapping[str, str]) -> str:
    """The variable of ``group`` whose JSON value does not parse, or the group's own."""
    prefix = env_name(group) + NESTED_DELIMITER
    for variable, value in environ.items():
        if variable.startswith(prefix):
            try:
                json.loads(value)
            except ValueError:
                name = variable[len(prefix) :].lower().split(NESTED_DELIMITER)[0]
                info = GROUPS[group].model_fields.get(name)
                if info is not None and _is_complex(info):
                    return variable
    return env_name(group)


def settings_error(exc: Exception, *, given: Mapping[str, Any] | None = None) -> InvalidSettings:
    """One :class:`~streams.errors.InvalidSettings` line for an invalid configuration: for each
    problem the variable, the value (secrets hidden) and what is allowed.

    ``given`` are the values passed to :class:`Settings` directly (command-line options).
    """
    environ = {name.upper(): value for name, value in os.environ.items()}
    if isinstance(exc, ValidationError):
        problems = [" ".join(_problem(e, given or {}, environ).split()) for e in exc.errors()]
        return InvalidSettings("; ".join(dict.fromkeys(problems)))
    text = str(exc)
    found = re.search(r'field "([^"]+)"', text)
    if found:
        group = found.group(1)
        variable = _bad_json(group, environ) if group in GROUPS else env_name(group)
        return InvalidSettings(
            f"{variable} is not valid JSON: give lists and mappings as JSON, "
            """e.g. [0.15, 0.5] or {"line-1": {"takt_units_per_minute": 90}}"""
        )
    return InvalidSettings(f"invalid LINEWATCH_* configuration: {' '.join(text.split())}")


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read from the environment on first use (not at import).

    For entry points only (``streams.app``); stages get their settings passed in.
    """
    return Settings()
