"""``linewatch schema apply``, ``query`` and ``drift``: the store from the shell.

Every command takes ``--store DSN`` (default ``LINEWATCH_STORE__DSN``). Values given on the command
line are bound as server-side query parameters, never pasted into SQL. ``query`` and ``drift``
run with ClickHouse's ``readonly=1``: no writes, no DDL, no ``file()``/``url()`` table
functions; ``query`` also passes :func:`streams.sinks.sql_guard.check_read_only` (one
SELECT/SHOW/DESCRIBE/EXISTS statement, as parsed by ClickHouse, that reads the store only).
Writes go through ``schema apply`` and the pipeline.
"""

from __future__ import annotations

import csv
import datetime as dt
import enum
import json
import re
import sys
from collections import Counter
from collections.abc import Sequence
from typing import Annotated, Any

import typer

from streams.cli.groups import CliGroups
from streams.cli.interrupt import interruptibly
from streams.cli.options import StoreOpt, open_store, settings_with
from streams.cli.tables import DataTable, data_console
from streams.drift.cause import CAUSES, WHOM_TO_CALL
from streams.errors import ConfigError, StoreReadOnly
from streams.sinks.clickhouse import ClickHouseStore
from streams.sinks.connection import QueryResult
from streams.sinks.reads.alarms import drift_alarms
from streams.sinks.sql_guard import check_read_only

__all__ = ["OutputFormat", "parse_params", "parse_since", "register", "render"]


class OutputFormat(enum.StrEnum):
    """How query results are printed."""

    table = "table"
    csv = "csv"
    json = "json"


FormatOption = Annotated[
    OutputFormat, typer.Option("--format", help="Output format: table, csv or json.")
]


def _open(store: str | None, *, readonly: bool) -> ClickHouseStore:
    return open_store(settings_with(store={"dsn": store}), readonly=readonly)


def _readonly_refusal(exc: StoreReadOnly) -> StoreReadOnly:
    """A clearer error when ClickHouse refused a statement because the connection is read-only."""
    return StoreReadOnly(
        "refused: `linewatch query` is read-only (ClickHouse readonly=1: no INSERT, ALTER, DROP "
        "or other DDL, no settings changes, no file()/url() table functions); schema changes go "
        f"through `linewatch schema apply`, data through `linewatch run` or the worker ({exc})"
    )


def parse_params(items: Sequence[str]) -> dict[str, str]:
    """``name=value`` options to a parameter mapping (values stay strings: ClickHouse parses
    them as the type the placeholder declares).

    >>> parse_params(["line=line-1", "since=2024-05-01 00:00:00"])
    {'line': 'line-1', 'since': '2024-05-01 00:00:00'}
    """
    params: dict[str, str] = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name.strip().isidentifier():
            raise ConfigError(
                f"bad --param {item!r}: write name=value and use it in the SQL as {{name:Type}}"
            )
        params[name.strip()] = value
    return params


def parse_since(text: str) -> dt.datetime:
    """An ISO-8601 time as an aware UTC datetime; a time without offset is taken as UTC.

    >>> parse_since("2024-05-01T08:00:00+02:00").isoformat()
    '2024-05-01T06:00:00+00:00'
    >>> parse_since("2024-05-01").isoformat()
    '2024-05-01T00:00:00+00:00'
    """
    try:
        value = dt.datetime.fromisoformat(text.strip())
    except ValueError as exc:
        raise ConfigError(
            f"bad --since {text!r}: use ISO-8601, e.g. 2024-05-01T06:00:00Z or 2024-05-01"
        ) from exc
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value.astimezone(dt.UTC)


def _print_causes(result: QueryResult) -> None:
    """The listed alarms grouped by cause, each with whom to call."""
    columns, rows = result
    if not rows:
        return
    at = columns.index("cause")
    counts = Counter(str(row[at]) for row in rows)
    table = DataTable("cause", "alarms", "whom to call", title="by cause")
    for name, n in counts.most_common():
        table.add_row(name, str(n), WHOM_TO_CALL.get(name, WHOM_TO_CALL["unknown"]))
    data_console().print(table)


def _cell(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return value


_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def _csv_cell(value: Any) -> Any:
    r"""A CSV cell: control characters other than tab and line ends written as ``\\xNN`` text,
    so that printing the CSV cannot drive the terminal (``--format json`` keeps exact values).

    >>> _csv_cell("ok\x1b[2J\tstill")
    'ok\\x1b[2J\tstill'
    """
    cell = _cell(value)
    if isinstance(cell, str):
        return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", cell)
    return cell


def render(result: QueryResult, fmt: OutputFormat, *, title: str | None = None) -> None:
    """Print a result to stdout as a rich table, CSV or a JSON array of objects."""
    columns, rows = result
    if fmt is OutputFormat.json:
        data = [dict(zip(columns, map(_cell, row), strict=True)) for row in rows]
        typer.echo(json.dumps(data, indent=2, default=str))
    elif fmt is OutputFormat.csv:
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(columns)
        writer.writerows([_csv_cell(v) for v in row] for row in rows)
    else:
        # cells are text (no markup, no terminal control), floats rounded; csv/json keep all
        table = DataTable(*columns, title=title)
        for row in rows:
            table.add_row(*(_cell(v) for v in row))
        data_console().print(table)
        typer.echo(f"{len(rows)} row{'s' if len(rows) != 1 else ''}")


def apply(store: StoreOpt = None) -> None:
    """Create or upgrade the ClickHouse tables (applies pending DDL files, in order)."""
    with _open(store, readonly=False) as s:
        applied = s.apply_schema()
        for name in applied:
            typer.echo(f"applied {name}")
        total = len(s.applied_migrations())
        typer.echo(f"{s.dsn}: schema up to date ({total} files, {len(applied)} newly applied)")


def retention(
    table: Annotated[str, typer.Argument(help="frames, detections, event_keys, labels, …")],
    days: Annotated[float, typer.Argument(help="Days to keep (0: forever).")],
    store: StoreOpt = None,
) -> None:
    """Set how long a table keeps its rows (TTL; whole expired parts are dropped)."""
    with _open(store, readonly=False) as s:
        s.set_retention(table, round(days * 86400))
        ttl = s.retention().get(table, "none (kept forever)")
        typer.echo(f"{s.dsn}: {table} TTL {ttl}")


def query(
    sql: Annotated[str, typer.Argument(help="SQL; reference parameters as {name:Type}.")],
    store: StoreOpt = None,
    param: Annotated[
        list[str] | None,
        typer.Option("--param", "-p", help="name=value, bound to {name:Type}; repeatable."),
    ] = None,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """Run read-only SQL against the store (tables of database linewatch are in scope).

    Runs with ClickHouse ``readonly=1``: INSERT, ALTER, DROP, SET and file()/url() are refused.
    """
    params = parse_params(param or [])
    with _open(store, readonly=True) as s:

        def read() -> QueryResult:
            check_read_only(s, sql, params)
            return s.query(sql, params)

        try:
            result = interruptibly(read)
        except StoreReadOnly as exc:
            raise _readonly_refusal(exc) from exc
    render(result, fmt)


def drift(  # noqa: PLR0917 (one parameter per CLI option)
    ctx: typer.Context,
    line: Annotated[str | None, typer.Option("--line", help="Only this line.")] = None,
    since: Annotated[
        str | None,
        typer.Option("--since", help="Only alarms at/after this ISO time (UTC if no offset)."),
    ] = None,
    store: StoreOpt = None,
    limit: Annotated[int, typer.Option("--limit", min=1, help="Most alarms to list.")] = 50,
    cause: Annotated[
        str | None,
        typer.Option("--cause", help=f"Only this cause: {', '.join(CAUSES)}."),
    ] = None,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """List drift alarms, newest first, with their cause and whom to call.

    `drift calibrate --help`: measure the detectors.
    """
    if ctx.invoked_subcommand is not None:
        return
    if cause is not None and cause not in CAUSES:
        raise ConfigError(f"--cause {cause!r} is not one of {', '.join(CAUSES)}")
    after = None if since is None else parse_since(since)
    with _open(store, readonly=True) as s:
        result = interruptibly(
            lambda: drift_alarms(s, limit=limit, line=line, since=after, cause=cause)
        )
    render(result, fmt, title="drift events")
    if fmt is OutputFormat.table:
        _print_causes(result)


def register(app: typer.Typer, groups: CliGroups) -> None:
    """Add ``schema apply``/``retention``, ``query`` and ``drift``."""

    groups.schema.command("apply")(apply)
    groups.schema.command("retention")(retention)
    app.command("query")(query)
    groups.drift.callback()(drift)
