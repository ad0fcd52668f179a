"""A clickhouse-connect client for a parsed store DSN: the embedded chDB directory (under its
lock) or a ClickHouse server, every failure to open one a :mod:`streams.errors` exception that
says what to do. :class:`~streams.sinks.connection.Connection` is built on it."""

from __future__ import annotations

import clickhouse_connect
from clickhouse_connect.driver.client import Client
from clickhouse_connect.driver.exceptions import ClickHouseError, OperationalError
from pydantic import SecretStr

from streams.errors import ConfigError, StoreUnavailable
from streams.sinks import chdb_lock
from streams.sinks.dsn import StoreDsn

__all__ = ["open_client", "reason"]

_AUTH_FAILED = 516


def reason(exc: BaseException) -> str:
    """The first line of a driver error, without the driver's boilerplate."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text[:500]


def open_client(dsn: StoreDsn, password: SecretStr | None, *, create: bool = True) -> Client:
    """The client of ``dsn``; ``create=False``: an embedded store's directory must exist
    already (a command that only reads a store never creates an empty one)."""
    if dsn.kind == "chdb":
        if not create and not (dsn.path and dsn.path.exists()):
            raise ConfigError(
                f"no store at {dsn.path}: nothing was written there; run `linewatch run`, "
                "`linewatch demo` or the worker with this --store first (or `linewatch schema "
                "apply`), or name an existing store with --store / LINEWATCH_STORE__DSN"
            )
        return _open_chdb(dsn)
    return _open_http(dsn, password)


def _open_chdb(dsn: StoreDsn) -> Client:
    """The embedded client of ``dsn``'s directory, holding its lock."""
    assert dsn.path is not None
    chdb_lock.acquire(dsn.path)
    try:
        return clickhouse_connect.get_client(dsn=f"chdb://{dsn.path}", tz_mode="aware")
    except Exception as exc:
        chdb_lock.release(dsn.path)
        raise StoreUnavailable(
            f"cannot open chDB store {dsn.path}: {reason(exc)}; check that no other program "
            "uses the directory and that it is a chDB store, or use another --store"
        ) from exc


def _open_http(dsn: StoreDsn, password: SecretStr | None) -> Client:
    """A client of the server ``dsn`` names; ``password`` overrides the DSN's."""
    try:
        return clickhouse_connect.get_client(
            interface="https" if dsn.secure else "http",
            host=dsn.host,
            port=dsn.port,
            username=dsn.username,
            password=password.get_secret_value() if password else dsn.password,
            connect_timeout=5,
            tz_mode="aware",
        )
    except OperationalError as exc:
        if "CERTIFICATE_VERIFY_FAILED" in str(exc) or "SSLError" in str(exc):
            raise StoreUnavailable(
                f"TLS to ClickHouse at {dsn.masked} failed: {reason(exc)}; the server's "
                "certificate is not trusted here or does not name this host: point "
                "SSL_CERT_FILE at the CA bundle that signed it, or use the host name the "
                "certificate was issued for"
            ) from exc
        raise StoreUnavailable(
            f"cannot reach ClickHouse at {dsn.masked}: {reason(exc)}; check that the server "
            "is running and the host/port are right (LINEWATCH_STORE__DSN / --store), or use "
            "an "
            "embedded store: --store chdb://.linewatch/store"
        ) from exc
    except ClickHouseError as exc:
        if getattr(exc, "code", None) == _AUTH_FAILED or "Authentication" in str(exc):
            advice = "check the user and password (LINEWATCH_STORE__PASSWORD)"
        else:
            advice = "check the DSN and the server's logs"
        raise StoreUnavailable(
            f"ClickHouse at {dsn.masked} refused the connection: {reason(exc)}; {advice}"
        ) from exc
