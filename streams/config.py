"""All configuration of linewatch: one pydantic-settings object read from ``LINEWATCH_*``.

Settings are grouped by concern; each group is a nested model and each value is read from
``LINEWATCH_<GROUP>__<NAME>`` (two underscores), e.g. ``LINEWATCH_STORE__DSN`` or
``LINEWATCH_WORKER__TAKE_MAX_EVENTS``. Lists and mappings are JSON, e.g.
``LINEWATCH_PLANT__LINES='{"line-1": {"takt_units_per_minute": 90}}'``. The groups:

- ``store``: the ClickHouse store;
- ``checkpoint``: the write-behind of both runners (flush triggers, tries, snapshot cadence);
- ``kafka``: brokers, security and topics;
- ``worker``: the Faust stream worker (app id, web port, take window, offset commits);
- ``inference``: the model, its threshold and onnxruntime;
- ``ingest``: what one event may cost and which frames are accepted;
- ``plant``: timezone, shifts, lines and lighting buckets (how frames are sliced);
- ``drift``: detectors, false-alarm budget and slice bookkeeping;
- ``readiness`` and ``estimation``: the verdict's criteria and label-free estimates.

A whole group may also be given as one JSON object (``LINEWATCH_READINESS='{"max_fpr": 0.05}'``).
A ``LINEWATCH_*`` variable that names no setting is logged once with the nearest variable that
does (a typo is never silently ignored). ``docs/configuration.md`` lists every variable. The
groups' models (fields, bounds, descriptions, checks) are in :mod:`streams.config_groups`; this
module reads them from the environment and explains what is wrong with a value.

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

import difflib
import logging
import os
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from pydantic import (
    Field,
    SecretStr,
    ValidationError,
)
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)
from pydantic_settings import SettingsError as _SettingsSourceError

from streams.config_file import PlantFileSource
from streams.config_groups import (
    ENV_PREFIX,
    GROUPS,
    NESTED_DELIMITER,
    CheckpointSettings,
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
from streams.config_messages import settings_error
from streams.errors import InvalidSettings

__all__ = [
    "ENV_PREFIX",
    "GROUPS",
    "NESTED_DELIMITER",
    "OTHER_VARIABLES",
    "CheckpointSettings",
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
    "unknown_variables",
]

OTHER_VARIABLES: tuple[str, ...] = ("LINEWATCH_CONFIG", "LINEWATCH_KAFKA_LIB")
"""``LINEWATCH_*`` variables read outside the settings groups (the plant file, the local
broker's jars); the
test suite's own ``LINEWATCH_TEST_*`` variables are not settings either."""

_log = logging.getLogger(__name__)


def unknown_variables(environ: Mapping[str, str]) -> list[str]:
    """``LINEWATCH_*`` variables that name no setting, each with the nearest one that does.

    A misspelt name inside a group (``LINEWATCH_CHECKPOINT__FLUSHROWS``) is refused by the group
    itself; this finds the rest, e.g. a flat name without its group:

    >>> unknown_variables({"LINEWATCH_CHECKPOINT__FLUSH_ROWS": "5", "LINEWATCH_TIMEZONE": "UTC"})
    ['LINEWATCH_TIMEZONE names no setting (did you mean LINEWATCH_PLANT__TIMEZONE?)']
    """
    by_name = {
        name: env_name(group, name)
        for group, model in GROUPS.items()
        for name in model.model_fields
    }
    known = {env_name(group) for group in GROUPS} | set(OTHER_VARIABLES) | set(by_name.values())
    found = []
    for variable in sorted(environ):
        upper = variable.upper()
        if not upper.startswith(ENV_PREFIX) or upper in known or NESTED_DELIMITER in upper:
            continue
        if upper.startswith(f"{ENV_PREFIX}TEST_"):
            continue
        name = upper.removeprefix(ENV_PREFIX).lower()
        near = difflib.get_close_matches(name, sorted(by_name), n=1, cutoff=0.6)
        hint = f" (did you mean {by_name[near[0]]}?)" if near else ""
        found.append(f"{variable} names no setting{hint}")
    return found


_warned: set[str] = set()


def _warn_unknown_variables() -> None:
    """Log each variable :func:`unknown_variables` finds, once per process."""
    for problem in unknown_variables(os.environ):
        if problem not in _warned:
            _warned.add(problem)
            _log.warning("%s; it is ignored", problem)


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
        """Options, then ``LINEWATCH_<GROUP>__<NAME>`` (or a group as JSON), then the plant file
        (``linewatch.toml`` or ``$LINEWATCH_CONFIG``, :mod:`streams.config_file`)."""
        _warn_unknown_variables()
        return (init_settings, env_settings, PlantFileSource(settings_cls))

    store: StoreSettings = Field(
        default_factory=StoreSettings,
        description="The ClickHouse store: where it is, what a read may cost.",
    )
    checkpoint: CheckpointSettings = Field(
        default_factory=CheckpointSettings,
        description="Write-behind of both runners: flush triggers, tries of a refused flush, "
        "snapshot cadence.",
    )
    kafka: KafkaSettings = Field(
        default_factory=KafkaSettings,
        description="Kafka brokers, security and topics, for every client.",
    )
    worker: WorkerSettings = Field(
        default_factory=WorkerSettings,
        description="The Faust stream worker: app id, web port, what it takes from Kafka per "
        "inference run, offset commits.",
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

        >>> s = Settings(checkpoint={"flush_rows": 10}).replace(checkpoint={"flush_rows": 20})
        >>> s.checkpoint.flush_rows, s.checkpoint.flush_interval_s
        (20, 1.0)
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


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read from the environment on first use (not at import).

    For entry points only (``streams.app``); stages get their settings passed in.
    """
    return Settings()
