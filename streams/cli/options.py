"""Command-line options shared by several commands, settings with their overrides, and the
one way commands open the store.

>>> settings_with(store={"dsn": "chdb:///tmp/x"}, inference={"model": None}).store.dsn
'chdb:///tmp/x'
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Annotated, Any

import typer

from streams.config import Settings
from streams.errors import ConfigError, StoreError, StoreReadOnly

if TYPE_CHECKING:  # chDB and clickhouse-connect load only when a command opens the store
    from streams.sinks import ClickHouseStore

__all__ = [
    "ModelOpt",
    "ReconcileOpt",
    "ReferenceOpt",
    "StoreOpt",
    "open_store",
    "reconcile_labels",
    "settings_with",
]

_warned_password: list[bool] = []


def _warn_password_in_store(value: str | None) -> str | None:
    """Warn once per process that a password in ``--store`` is visible in ``ps``."""
    from streams.sinks.dsn import has_password

    if value is not None and not _warned_password and has_password(value):
        _warned_password.append(True)
        typer.secho(
            "warning: --store holds a password, which every local user can read in `ps` and "
            "the shell history keeps; leave it out of the DSN and set LINEWATCH_STORE__PASSWORD "
            "in the environment instead",
            fg=typer.colors.YELLOW,
            err=True,
        )
    return value


StoreOpt = Annotated[
    str | None,
    typer.Option(
        "--store",
        help="Store DSN: chdb://PATH or http(s)://user@host:port (the password in "
        "LINEWATCH_STORE__PASSWORD, not here: options are visible in `ps`). "
        "Default: LINEWATCH_STORE__DSN.",
        callback=_warn_password_in_store,
    ),
]
ModelOpt = Annotated[
    str | None,
    typer.Option(
        "--model",
        help="Model spec .json or bare .onnx (default: $LINEWATCH_INFERENCE__MODEL, else shipped).",
    ),
]
ReferenceOpt = Annotated[
    str | None,
    typer.Option(
        "--reference",
        help="Lab reference profile .json (default: $LINEWATCH_DRIFT__REFERENCE, else shipped).",
    ),
]
ReconcileOpt = Annotated[
    bool,
    typer.Option(
        "--reconcile/--no-reconcile",
        help="First pair new labels with their frames (a write, through the pipeline's "
        "reconcile step); --no-reconcile reads only, e.g. as a read-only ClickHouse user.",
    ),
]


def settings_with(**overrides: Mapping[str, Any]) -> Settings:
    """The environment's settings with the given command-line values, by group
    (``settings_with(worker={"web_port": 7000})``; a value ``None``: keep the setting).

    The overrides are validated like the environment: a bad value is a :class:`ConfigError`
    whose message names the variable, e.g. ``LINEWATCH_WORKER__WEB_PORT``.
    """
    given: dict[str, dict[str, Any]] = {}
    for group, values in overrides.items():
        kept = {name: value for name, value in values.items() if value is not None}
        if kept:
            given[group] = kept
    return Settings(**given)


def open_store(
    settings: Settings,
    *,
    readonly: bool = False,
    require_schema: bool = False,
    existing: bool = False,
) -> ClickHouseStore:
    """Open ``settings.store.dsn``; ``readonly``: with ClickHouse's ``readonly=1`` (no writes, no
    DDL, no ``file()``/``url()``); ``require_schema``: refuse a store whose schema is not up to
    date; ``existing``: refuse an embedded store that does not exist yet rather than create it
    (read-only commands never create or apply it: that is ``linewatch schema apply``'s job)."""
    from streams.sinks import ClickHouseStore
    from streams.sinks.migrations import load_migrations

    limits = (
        {
            "max_execution_time": settings.store.read_max_execution_time_s,
            "max_memory_usage": settings.store.read_max_memory_bytes,
        }
        if readonly
        else None
    )
    store = ClickHouseStore.open(
        settings.store.dsn,
        password=settings.store.password,
        readonly=readonly,
        limits=limits,
        existing=existing or require_schema,
    )
    if require_schema:
        try:
            applied = store.applied_migrations()
            pending = [m.name for m in load_migrations() if m.name not in applied]
        except BaseException:
            store.close()
            raise
        if pending:
            store.close()
            raise ConfigError(
                f"the store {store.dsn} lacks {len(pending)} schema file(s) ({pending[0]}…): "
                "run `linewatch schema apply` with the same --store (or a `linewatch run` or "
                "the worker) first"
            )
    return store


def reconcile_labels(settings: Settings) -> None:
    """Pair stored labels with their frames (the pipeline's reconcile step, a write)."""
    from streams.readiness import reconcile

    with open_store(settings, require_schema=True) as store:
        try:
            reconcile(store, settings)
        except StoreReadOnly as exc:
            raise StoreError(
                f"cannot pair new labels with frames: the store user of {store.dsn} is read-only; "
                "pass --no-reconcile to read what is reconciled already, or run once as the "
                "writer user"
            ) from exc
