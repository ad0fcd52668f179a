"""``Connection``: one connection to the linewatch database (embedded chDB or a server).

It opens and closes the client, runs ``query`` and ``command`` and one ``INSERT`` block, and turns
every driver error into a :mod:`streams.errors` exception whose message says what to do. The
store's other jobs are built on it: :mod:`streams.sinks.migrations` (schema),
:mod:`streams.sinks.writer` (idempotent writes), :mod:`streams.sinks.admin` (retention);
:class:`~streams.sinks.clickhouse.ClickHouseStore` puts them behind one object.

Design notes (checked against chDB 4.4 / ClickHouse 26.9):

- Query parameters use ClickHouse's server-side ``{name:Type}`` syntax, which chDB supports
  like the server (``Array(String)``, ``DateTime64(3, 'UTC')``, ``Nullable(...)`` …); values
  are never pasted into SQL. A string value is parsed by ClickHouse as the declared type.
  ``query`` and ``command`` refuse (``QueryRefused``) a call whose parameters the client
  would paste into the text instead (``%(name)s`` placeholders, no ``{name:Type}``).
- Datetimes come back timezone-aware UTC (``tz_mode="aware"``); columns are
  ``DateTime64(3, 'UTC')``, so sub-millisecond digits are truncated on write.
- chDB (via clickhouse-connect) returns no column names for an empty result; ``query``
  then asks ``DESCRIBE (…)`` so callers always get the columns of a SELECT.
- chDB: one process per directory (``linewatch.lock``), one directory per process (see
  :mod:`streams.sinks.chdb_lock`).
- ``open(..., readonly=True)`` (``linewatch query``, ``metrics``, ``report``) sets ClickHouse's
  ``readonly=1`` on the connection (unless the user is read-only already): no writes, no DDL,
  no table functions (``file()``, ``url()``, ``INSERT INTO FUNCTION``), and no changing
  settings back (``SETTINGS readonly=0`` is refused too). chDB still lets the scalar ``file()``
  and ``INTO OUTFILE`` through: ``linewatch query`` adds :mod:`streams.sinks.sql_guard`.
"""

from __future__ import annotations

import logging
import re
import struct
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType
from typing import Any, NamedTuple, Self

from clickhouse_connect.driver.client import Client
from clickhouse_connect.driver.exceptions import (
    ClickHouseError,
    OperationalError,
    ProgrammingError,
)
from pydantic import SecretStr

from streams.errors import (
    StoreError,
    StoreReadOnly,
    StoreReadOnlyWrite,
    StoreUnavailable,
    StoreWriteError,
)
from streams.sinks import chdb_lock
from streams.sinks.clients import open_client, reason
from streams.sinks.dsn import DATABASE, StoreDsn, parse_dsn
from streams.sinks.sql_guard import bound_text

__all__ = ["DRIVER_LOGGERS", "Connection", "QueryResult", "quiet_driver_logs"]

DRIVER_LOGGERS = ("urllib3.connectionpool", "clickhouse_connect.driver._backend.http_sync")
"""The loggers of the ClickHouse driver that log each failed attempt of a retried request."""


_INSERT_FAILURES = (ClickHouseError, OSError, ValueError, TypeError, ArithmeticError, struct.error)
"""What an ``INSERT`` can raise: the driver's and the network's errors, and a value the driver
cannot serialise for its column."""


class QueryResult(NamedTuple):
    """Column names and rows of a query; unpacks as ``columns, rows``."""

    column_names: tuple[str, ...]
    result_rows: list[tuple[Any, ...]]


def _read_only_refusal(exc: Exception) -> bool:
    """Whether the server (error code ``READONLY``) or the driver (a setting a read-only user
    cannot send, such as the insert's deduplication token) refused for lack of write rights."""
    text = str(exc)
    return "(READONLY)" in text or (isinstance(exc, ProgrammingError) and "is readonly" in text)


def quiet_driver_logs() -> None:
    """Log only the driver's errors: an unreachable store is reported once, as linewatch's own
    error line, not per retry."""
    for name in DRIVER_LOGGERS:
        logging.getLogger(name).setLevel(logging.ERROR)


def _setting_value(value: float) -> int | float:
    """A limit as ClickHouse reads it: whole numbers without a fraction."""
    return int(value) if float(value).is_integer() else float(value)


class Connection:
    """A connection to the linewatch database; thread-safe (one lock around client calls)."""

    def __init__(self, client: Client, dsn: StoreDsn) -> None:
        """Use :meth:`open`."""
        self._client = client
        self._dsn = dsn
        self._lock = threading.RLock()
        self._closed = False
        self._insert_types: dict[str, dict[str, str]] = {}
        """Column types by name of each table inserted into (``DESCRIBE TABLE``, read once per
        table; forgotten after any :meth:`command`, which may change a table)."""

    # --- lifecycle --------------------------------------------------------------------------

    @classmethod
    def open(
        cls,
        dsn: str,
        *,
        password: SecretStr | None = None,
        readonly: bool = False,
        limits: Mapping[str, float] | None = None,
        existing: bool = False,
    ) -> Self:
        """Connect to ``dsn`` and check it answers; raise :class:`StoreUnavailable` if not.

        ``chdb://PATH``: embedded store in directory PATH (relative to the cwd; created, except
        by a ``readonly`` or ``existing`` open, which refuses a PATH that does not exist).
        ``http(s)://user:pass@host:port[/linewatch]``: a ClickHouse server; ``password``
        (e.g. ``LINEWATCH_STORE__PASSWORD``) overrides one given in the DSN.
        ``readonly``: the connection runs with ClickHouse's ``readonly=1`` (reads only).
        ``limits``: settings every query of a read-only connection runs with, e.g.
        ``{"max_execution_time": 300, "max_memory_usage": 4 << 30}`` (0: no limit); an HTTP
        connection also cancels its query when the client goes away (Ctrl-C).
        """
        parsed = parse_dsn(dsn)
        client = open_client(parsed, password, create=not (readonly or existing))
        store = cls(client, parsed)
        try:
            if readonly:
                store._make_readonly(limits or {})
            store._use_database_if_present()
        except BaseException:
            store.close()
            raise
        return store

    def close(self) -> None:
        """Close the connection and release the chDB directory lock; idempotent."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            try:
                self._client.close()
            finally:
                if self._dsn.path is not None:
                    chdb_lock.release(self._dsn.path)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    @property
    def dsn(self) -> str:
        """The DSN with its password masked."""
        return self._dsn.masked

    @property
    def path(self) -> Path | None:
        """The chDB directory, or None for a server."""
        return self._dsn.path

    # --- client calls -----------------------------------------------------------------------

    def _failure(self, exc: Exception, doing: str) -> StoreError:
        if self._closed:
            return StoreUnavailable(f"the store {self.dsn} is closed; open it again to {doing}")
        if isinstance(exc, OperationalError):
            return StoreUnavailable(
                f"lost ClickHouse at {self.dsn} while trying to {doing}: {reason(exc)}; "
                "back off and retry, and check the server"
            )
        if _read_only_refusal(exc):
            return StoreReadOnly(f"ClickHouse could not {doing}: {reason(exc)}")
        if "TIMEOUT_EXCEEDED" in str(exc) or "MEMORY_LIMIT_EXCEEDED" in str(exc):
            return StoreError(
                f"ClickHouse could not {doing}: {reason(exc)}; the query hit a read limit: "
                "narrow it (a WHERE on time or line, a LIMIT), or raise "
                "LINEWATCH_STORE__READ_MAX_EXECUTION_TIME_S / "
                "LINEWATCH_STORE__READ_MAX_MEMORY_BYTES"
            )
        return StoreError(f"ClickHouse could not {doing}: {reason(exc)}")

    def _make_readonly(self, limits: Mapping[str, float]) -> None:
        """``readonly=1`` and ``limits`` for this connection, unless the user is read-only
        already (a server profile's ``readonly=2`` cannot be lowered; the server's grants then
        apply; a ``readonly=1`` profile cannot take the limits either: the server's own
        profile limits them)."""
        rows = self.query("SELECT value FROM system.settings WHERE name = 'readonly'").result_rows
        level = str(rows[0][0]) if rows else "0"
        settings: dict[str, str] = {}
        if level in ("0", "2"):
            settings = {name: str(_setting_value(value)) for name, value in limits.items()}
            if self._dsn.kind == "http":
                settings["cancel_http_readonly_queries_on_client_close"] = "1"
        if level == "0":
            settings["readonly"] = "1"
        with self._lock:
            try:
                for name, value in settings.items():
                    self._client.set_client_setting(name, value)
            except (ClickHouseError, OSError) as exc:
                raise self._failure(exc, "make the connection read-only") from exc

    def _check_open(self, doing: str) -> None:
        """Refuse calls after :meth:`close` (an HTTP client would otherwise just reconnect)."""
        if self._closed:
            raise StoreUnavailable(f"the store {self.dsn} is closed; open it again to {doing}")

    def _use_database_if_present(self) -> None:
        rows = self.query(
            "SELECT count() FROM system.databases WHERE name = {db:String}", {"db": DATABASE}
        ).result_rows
        if rows[0][0]:
            with self._lock:
                self._client.database = DATABASE

    def query(
        self, sql: str, parameters: Mapping[str, Any] | None = None, *, names: bool = True
    ) -> QueryResult:
        """Run a query; ``{name:Type}`` placeholders are bound server-side from ``parameters``.

        Unqualified table names resolve in ``linewatch`` once the schema exists. chDB returns
        no column names with an empty result: they are then read with a second query
        (``DESCRIBE``) unless ``names=False`` (a caller that reads rows only, such as the
        writer's key lookups, whose result is empty for new rows).
        """
        bound_text(sql, parameters)  # parameters are bound by the server, never pasted
        with self._lock:
            self._check_open("run the query")
            try:
                result = self._client.query(sql, parameters=dict(parameters or {}))
            except (ClickHouseError, OSError) as exc:
                raise self._failure(exc, "run the query") from exc
            rows = [tuple(row) for row in result.result_rows]
            columns = tuple(result.column_names)
            if not rows and not columns and names:
                columns = self._describe(sql, parameters)
            return QueryResult(columns, rows)

    def _describe(self, sql: str, parameters: Mapping[str, Any] | None) -> tuple[str, ...]:
        """Column names of a query: chDB returns none with an empty result (HTTP may too)."""
        body = sql.strip().rstrip(";")
        if not re.match(r"(?is)^\(?\s*(select|with)\b", body):
            return ()
        try:
            described = self._client.query(f"DESCRIBE ({body})", parameters=dict(parameters or {}))
        except (ClickHouseError, OSError):
            return ()
        return tuple(str(row[0]) for row in described.result_rows)

    def command(self, sql: str, parameters: Mapping[str, Any] | None = None) -> None:
        """Run a statement that returns no rows (DDL, ``OPTIMIZE`` …)."""
        bound_text(sql, parameters)  # parameters are bound by the server, never pasted
        with self._lock:
            self._check_open("run the command")
            self._insert_types.clear()  # DDL may change a table's columns
            try:
                self._client.command(sql, parameters=dict(parameters or {}))
            except (ClickHouseError, OSError) as exc:
                raise self._failure(exc, "run the command") from exc

    @contextmanager
    def locked(self, doing: str) -> Iterator[None]:
        """Hold the connection's lock for several calls that must not interleave with other
        threads' (a write's lookups and inserts); refuse if the store is closed."""
        with self._lock:
            self._check_open(doing)
            yield

    def use_database(self) -> None:
        """Resolve unqualified table names in ``linewatch`` (once the schema exists)."""
        with self._lock:
            self._client.database = DATABASE

    def _column_types(self, table: str) -> dict[str, str]:
        """``name -> type`` of ``linewatch.<table>``'s columns (cached; call under the lock)."""
        types = self._insert_types.get(table)
        if types is None:
            described = self._client.query(f"DESCRIBE TABLE {DATABASE}.{table}")
            types = {str(row[0]): str(row[1]) for row in described.result_rows}
            self._insert_types[table] = types
        return types

    def insert_block(
        self,
        table: str,
        rows: Sequence[Sequence[object]],
        *,
        column_names: Sequence[str],
        token: str,
        count: int,
        column_oriented: bool = False,
    ) -> None:
        """One ``INSERT`` of ``rows`` (``count`` rows) into ``linewatch.<table>``.

        ``token`` is the block's ``insert_deduplication_token``; ``column_oriented``: ``rows``
        holds one list per column (clickhouse-connect then skips turning rows into columns).
        ``max_partitions_per_insert_block = 0``: a backfill spanning years of legitimate capture
        times touches many daily partitions; ClickHouse would refuse the whole block
        ("Too many partitions for single INSERT block") and a retry would fail forever.

        The column types come from ``DESCRIBE TABLE``, read once per table (the driver would
        read them again for every insert).

        ClickHouse commits an insert partition by partition (and a large one block by block):
        when it fails, the rows of some days may be stored already. The error says so; a retry
        that looks the stored keys up again (:func:`streams.sinks.writer.write` without
        ``known_new``) skips them.
        """
        with self._lock:
            self._check_open(f"write {count} rows to {table}")
            try:
                types = self._column_types(table)
                known = all(name in types for name in column_names)
                if not known:  # the driver reads the table and names the unknown column
                    self._insert_types.pop(table, None)
                self._client.insert(
                    f"{DATABASE}.{table}",
                    rows,
                    column_names=list(column_names),
                    column_type_names=[types[n] for n in column_names] if known else None,
                    column_oriented=column_oriented,
                    settings={
                        "insert_deduplication_token": token,
                        "max_partitions_per_insert_block": 0,
                    },
                )
            except _INSERT_FAILURES as exc:
                self._insert_types.pop(table, None)  # a retry reads the columns again
                raise self._insert_failure(exc, f"{count} rows to {table}") from exc

    def warm_inserts(self, tables: Sequence[str]) -> None:
        """Load now what the first ``INSERT`` into ``tables`` would load: their column types
        and the driver's insert code, which imports pandas (when installed) on its first
        insert, about 0.6 s with the interpreter lock held, in the middle of a write that
        rows wait for. A table that cannot be described is left for its first insert."""
        from clickhouse_connect.driver import options

        getattr(options, "pd", None)  # its lazy import, as an insert's first check does
        for table in tables:
            with self._lock:
                self._check_open(f"describe {table}")
                try:
                    self._column_types(table)
                except _INSERT_FAILURES:
                    continue  # its first insert reads them again, and says what is wrong

    def _insert_failure(self, exc: Exception, what: str) -> StoreError:
        """The :mod:`streams.errors` exception of an ``INSERT`` of ``what`` that failed."""
        if not isinstance(exc, ClickHouseError | OSError):
            # the driver could not serialise a value for its column (text that is not UTF-8,
            # an integer past its UInt width): the same rows fail the same way
            return StoreWriteError(
                f"ClickHouse could not write {what}: a value does not fit its column "
                f"({reason(exc)}); rows sent before it may be stored already"
            )
        failure = self._failure(exc, f"write {what}")
        if isinstance(failure, StoreUnavailable):
            return failure
        if isinstance(failure, StoreReadOnly):
            return StoreReadOnlyWrite(str(failure))
        return StoreWriteError(
            f"{failure}; some of these rows may be stored already (an insert lands day by "
            "day): retry after a back-off, looking the stored keys up again"
        )
