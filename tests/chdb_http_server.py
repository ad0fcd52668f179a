"""A ClickHouse HTTP-interface server backed by chDB: a TEST FIXTURE, not part of linewatch.

No ClickHouse server binary (nor Docker) can be installed on the machines this project is built
on, so the ``http(s)://`` store path would otherwise never run. This module answers enough of
ClickHouse's HTTP protocol that clickhouse-connect's HTTP client runs against it *unmodified*;
the SQL itself runs in chDB (the ClickHouse engine as a library), in this one process, on one
store directory::

    python -m tests.chdb_http_server --path DIR --port 0 --ready-file F \\
        --user linewatch:secret --user reader:pw:readonly

What it implements (ClickHouse names):

- ``GET /ping`` and ``GET /`` answer ``Ok.``; any other path is a 404.
- The query in the ``query`` URL parameter, in the POST body, or both (``query`` + ``\\n`` +
  body, the server's rule); multipart form fields ``query`` and ``param_*`` (what the client
  sends when bound parameters are too long for a URL).
- ``INSERT … FORMAT F`` followed by data in the body (any format chDB reads: Native,
  RowBinary…); the data goes to chDB through ``INSERT … FROM INFILE``.
- Settings as URL parameters (applied with ``SET`` for this request only), ``database``,
  ``default_format``, ``param_NAME`` bound server-side, ``query_id``.
- Sessions: ``session_id``, ``session_timeout`` (default 60 s), ``session_check``; one chDB
  connection handle per session keeps ``SET``/``USE`` state; a session used by two requests
  at once is refused (``SESSION_IS_LOCKED``), as the server does.
- Request bodies with ``Content-Encoding`` lz4 (frames), zstd, gzip, deflate, chunked or not;
  response bodies compressed when ``enable_http_compression`` is on, picking from
  ``Accept-Encoding`` in the server's order of preference (zstd, lz4, gzip, deflate).
- Users: HTTP Basic auth, ``X-ClickHouse-User``/``X-ClickHouse-Key`` headers or ``user``/
  ``password`` parameters (mixing them is refused, like the server); a wrong user or password
  is ``AUTHENTICATION_FAILED`` (516, HTTP 403). A ``readonly`` user runs with ``readonly=1``
  (chDB refuses writes with ``READONLY``, 164) and may not change settings; a sessionless GET
  runs with ``readonly=2`` like the server's. The readonly user's ``file()`` calls and
  ``INTO OUTFILE`` are refused as a server refuses them (chDB alone would run both).
- Errors: HTTP status from the exception code (the server's mapping), the
  ``X-ClickHouse-Exception-Code`` header and a ``Code: N. DB::Exception: … (version V)`` body.
- Headers the client reads: ``X-ClickHouse-Summary``, ``X-ClickHouse-Query-Id``,
  ``X-ClickHouse-Format``, ``X-ClickHouse-Timezone``, ``X-ClickHouse-Server-Display-Name``.
- Idle keep-alive connections are closed after 10 s (the server's ``keep_alive_timeout``), so
  clients meet stale pooled connections as they do in production.
- Multi-statement queries are refused (``SYNTAX_ERROR``) as the server does (chDB runs them).

- HTTPS with ``--tls-cert``/``--tls-key`` (a test-made self-signed certificate).
- Fault injection: ``--crash-after-inserts N`` exits right after the Nth INSERT is stored and
  before it is answered (a server crash between commit and response).

What it does not do (see docs/testing.md): the internal ``compress``/``decompress`` block
format, progress headers, streaming of results (they are built in memory), mutual TLS, replication,
async inserts, quotas and server-side limits. All engine calls are serialized by one lock.
"""

from __future__ import annotations

import argparse
import base64
import gzip
import json
import os
import re
import signal
import ssl
import sys
import tempfile
import threading
import time
import uuid
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, cast
from urllib.parse import parse_qsl, urlsplit

import chdb
import lz4.frame  # type: ignore[import-untyped]
from backports import zstd

__all__ = ["ChdbHttpServer", "ServerError", "User", "main"]

_connect = cast(Callable[[str], Any], chdb.connect)  # chDB ships no type hints

DISPLAY_NAME = "linewatch-chdb-http-fixture"

# URL parameters the HTTP layer consumes itself; every other parameter is a setting.
_TRANSPORT_PARAMS = frozenset(
    {
        "query",
        "database",
        "default_format",
        "user",
        "password",
        "quota_key",
        "session_id",
        "session_timeout",
        "session_check",
        "query_id",
        "compress",
        "decompress",
        "buffer_size",
        "wait_end_of_query",
        "client_protocol_version",
        "role",
        "max_result_bytes_in_http_buffer",
    }
)
_SETTING_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_CODE = re.compile(r"Code: (\d+)\.")
_INSERT = re.compile(rb"^\s*INSERT\s+INTO\s", re.IGNORECASE)
_INSERT_KEYWORD = re.compile(rb"\b(FORMAT|VALUES|SELECT|WITH)\b", re.IGNORECASE)
_FORMAT_NAME = re.compile(rb"FORMAT\s+(\w+)[ \t]*(?:\r?\n)?", re.IGNORECASE)
_RESULT_STATEMENT = re.compile(
    r"^\s*\(?\s*(SELECT|WITH|SHOW|DESC|DESCRIBE|EXISTS|EXPLAIN|CHECK)\b", re.IGNORECASE
)
_TRAILING_FORMAT = re.compile(r"\bFORMAT\s+(\w+)\s*;?\s*$", re.IGNORECASE)
_INSERT_CLAUSE_SETTINGS = frozenset({"insert_deduplication_token"})
_SET_STATEMENT = re.compile(r"^\s*SET\s", re.IGNORECASE)

# Exception code -> HTTP status, as ClickHouse's exceptionCodeToHTTPStatus maps them.
_STATUS_BY_CODE: dict[int, int] = {
    194: 401,  # REQUIRED_PASSWORD
    192: 403,  # UNKNOWN_USER
    193: 403,  # WRONG_PASSWORD
    516: 403,  # AUTHENTICATION_FAILED
    164: 403,  # READONLY
    497: 403,  # ACCESS_DENIED
    # parse errors, SYNTAX_ERROR, TYPE_MISMATCH, INCORRECT_DATA, BAD_ARGUMENTS
    **dict.fromkeys((6, 26, 27, 36, 38, 41, 53, 62, 72, 117), 400),
    # UNKNOWN_TABLE/FUNCTION/IDENTIFIER/TYPE/STORAGE/DATABASE/SETTING/FORMAT, SESSION_NOT_FOUND
    **dict.fromkeys((46, 47, 50, 54, 60, 73, 81, 115, 372), 404),
    48: 501,  # NOT_IMPLEMENTED
    209: 503,  # SOCKET_TIMEOUT
}
_CONTENT_TYPES = {
    "TabSeparated": "text/tab-separated-values; charset=UTF-8",
    "TSV": "text/tab-separated-values; charset=UTF-8",
    "TabSeparatedWithNames": "text/tab-separated-values; charset=UTF-8",
    "CSV": "text/csv; charset=UTF-8; header=absent",
    "JSON": "application/json; charset=UTF-8",
    "JSONEachRow": "application/x-ndjson; charset=UTF-8",
}
# Response encodings in the server's order of preference (chooseHTTPCompressionMethod).
_RESPONSE_ENCODINGS: tuple[tuple[str, Callable[[bytes], bytes]], ...] = (
    ("zstd", zstd.compress),
    ("lz4", lz4.frame.compress),
    ("gzip", gzip.compress),
    ("deflate", zlib.compress),
)


_FILE_CALL = re.compile(r"^\s*Function (?:file|fileCluster)\b", re.IGNORECASE)
"""An ``EXPLAIN AST`` line of a call of ``file()`` (scalar or table function)."""
_OUT_FILE = re.compile(r"^ Literal ")
"""The ``INTO OUTFILE`` target: a literal child of the top ``SelectWithUnionQuery``."""


class ServerError(Exception):
    """A ClickHouse exception: code and message, rendered like the server renders them."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code

    @classmethod
    def from_chdb(cls, exc: BaseException) -> ServerError:
        text = str(exc).strip()
        start = text.find("Code: ")
        text = text[start:] if start > 0 else text
        match = _CODE.search(text)
        code = int(match.group(1)) if match else 1002
        message = text.split("DB::Exception: ", 1)[1] if "DB::Exception: " in text else text
        return cls(code, message)


@dataclass(frozen=True)
class User:
    """A user of the fixture: name, password and whether it is read-only."""

    name: str
    password: str
    readonly: bool = False

    @classmethod
    def parse(cls, spec: str) -> User:
        """``name:password`` or ``name:password:readonly``."""
        name, _, rest = spec.partition(":")
        password, _, flag = rest.partition(":")
        if not name or flag not in ("", "readonly"):
            raise ValueError(f"bad --user {spec!r}: use name:password[:readonly]")
        return cls(name, password, flag == "readonly")


@dataclass
class _Session:
    user: str
    handle: Any
    timeout_s: float
    expires_at: float
    busy: bool = False
    applied: dict[str, str] = field(default_factory=dict)
    saved: dict[str, tuple[str, bool]] = field(default_factory=dict)


@dataclass
class _Request:
    """One query after the HTTP layer: the SQL (or INSERT statement), its data and options."""

    user: User
    sql: bytes
    params: dict[str, str]
    settings: dict[str, str]
    bound: dict[str, str]
    method: str


def _split_statements_check(sql: str) -> None:
    """Refuse more than one statement, as ClickHouse's HTTP interface does."""
    i, n = 0, len(sql)
    while i < n:
        ch = sql[i]
        if ch in "'\"`":
            j = i + 1
            while j < n and sql[j] != ch:
                j += 2 if sql[j] == "\\" else 1
            i = j + 1
            continue
        if sql.startswith("--", i):
            j = sql.find("\n", i)
            i = n if j < 0 else j + 1
            continue
        if sql.startswith("/*", i):
            j = sql.find("*/", i + 2)
            i = n if j < 0 else j + 2
            continue
        if ch == ";" and sql[i + 1 :].strip(" \t\r\n;"):
            raise ServerError(62, "Syntax error: Multi-statements are not allowed. (SYNTAX_ERROR)")
        i += 1


def _decode_body(data: bytes, encoding: str) -> bytes:
    encoding = encoding.strip().lower()
    if encoding in ("", "identity"):
        return data
    try:
        if encoding == "lz4":
            out = bytearray()
            while data:
                decompressor = lz4.frame.LZ4FrameDecompressor()
                out += decompressor.decompress(data)
                data = decompressor.unused_data
            return bytes(out)
        if encoding == "zstd":
            return bytes(zstd.decompress(data))
        if encoding == "gzip":
            return gzip.decompress(data)
        if encoding == "deflate":
            return zlib.decompress(data)
    except Exception as exc:  # a corrupt body is the client's error
        raise ServerError(
            432, f"Cannot decompress {encoding} request body: {exc}. (UNKNOWN_CODEC)"
        ) from exc
    raise ServerError(48, f"Unsupported Content-Encoding {encoding!r}. (NOT_IMPLEMENTED)")


def _quote(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


class ChdbHttpServer:
    """The engine side: users, sessions and query execution on one chDB store directory."""

    def __init__(
        self,
        path: Path,
        users: list[User],
        display_name: str = DISPLAY_NAME,
        crash_after_inserts: int = 0,
    ) -> None:
        self.path = path
        self.crash_after_inserts = crash_after_inserts
        self.inserts = 0
        self.users = {u.name: u for u in users}
        self.display_name = display_name
        self._engine_lock = threading.Lock()
        self._sessions: dict[str, _Session] = {}
        self._sessions_lock = threading.Lock()
        self._expired: list[_Session] = []
        self._admin = _connect(str(path))
        row = self._admin.query("SELECT version(), timezone()", "TabSeparated").bytes()
        self.version, self.timezone = row.decode().strip().split("\t")
        self.tmp = Path(tempfile.mkdtemp(prefix="chdb-http-"))

    def close(self) -> None:
        with self._engine_lock:
            for session in self._sessions.values():
                if session.handle is not None:
                    session.handle.close()
            self._sessions.clear()
            self._admin.close()

    # --- authentication -------------------------------------------------------------------

    def authenticate(self, headers: Any, params: dict[str, str]) -> User:
        user = headers.get("X-ClickHouse-User")
        key = headers.get("X-ClickHouse-Key")
        auth = headers.get("Authorization")
        in_params = "user" in params or "password" in params
        if user is not None or key is not None:
            if auth or in_params:
                raise ServerError(
                    516,
                    "Invalid authentication: it is not allowed to use X-ClickHouse HTTP headers "
                    "and other authentication methods simultaneously. (AUTHENTICATION_FAILED)",
                )
            name, password = user or "default", key or ""
        elif auth:
            if in_params:
                raise ServerError(
                    516,
                    "Invalid authentication: it is not allowed to use Authorization HTTP header "
                    "and authentication via parameters simultaneously. (AUTHENTICATION_FAILED)",
                )
            scheme, _, info = auth.partition(" ")
            if scheme.lower() != "basic":
                raise ServerError(
                    516,
                    f"Invalid authentication: '{scheme}' HTTP Authorization scheme is not "
                    "supported. (AUTHENTICATION_FAILED)",
                )
            name, _, password = base64.b64decode(info).decode().partition(":")
        else:
            name, password = params.get("user", "default"), params.get("password", "")
        found = self.users.get(name)
        if found is None or found.password != password:
            raise ServerError(
                516,
                f"{name}: Authentication failed: password is incorrect, or there is no user "
                "with such name. (AUTHENTICATION_FAILED)",
            )
        return found

    # --- sessions ---------------------------------------------------------------------------

    def _acquire_session(self, request: _Request, session_id: str) -> _Session:
        """Mark the request's session busy (created if new); no engine call here."""
        raw_timeout = request.params.get("session_timeout", "60")
        try:
            timeout_s = float(int(raw_timeout))
        except ValueError:
            raise ServerError(
                374, f"Invalid session timeout: '{raw_timeout}'. (INVALID_SESSION_TIMEOUT)"
            ) from None
        now = time.monotonic()
        with self._sessions_lock:
            key = f"{request.user.name}\0{session_id}"
            session = self._sessions.get(key)
            if session is not None and session.expires_at < now and not session.busy:
                self._expired.append(self._sessions.pop(key))
                session = None
            if session is None:
                if request.params.get("session_check") == "1":
                    raise ServerError(372, f"Session {session_id} not found. (SESSION_NOT_FOUND)")
                session = _Session(request.user.name, None, timeout_s, now + timeout_s)
                self._sessions[key] = session
            elif session.busy:
                raise ServerError(
                    373,
                    f"Session {session_id} is locked by a concurrent client. (SESSION_IS_LOCKED)",
                )
            session.busy = True
            session.timeout_s = timeout_s
            return session

    def _new_handle(self, user: User, method: str, *, in_session: bool) -> Any:
        handle = _connect(str(self.path))
        if user.readonly:
            handle.query("SET readonly = 1", "TabSeparated")
        elif method == "GET" and not in_session:
            handle.query("SET readonly = 2", "TabSeparated")
        return handle

    # --- execution --------------------------------------------------------------------------

    def execute(self, request: _Request) -> tuple[bytes, dict[str, str]]:
        """Run one request; return the body and the response headers it adds."""
        session_id = request.params.get("session_id")
        session = self._acquire_session(request, session_id) if session_id else None
        try:
            with self._engine_lock:
                with self._sessions_lock:
                    expired, self._expired = self._expired, []
                    now = time.monotonic()
                    for key, old in list(self._sessions.items()):
                        if old.expires_at < now and not old.busy:
                            expired.append(self._sessions.pop(key))
                for old in expired:
                    if old.handle is not None:
                        old.handle.close()
                if session is None:
                    handle = self._new_handle(request.user, request.method, in_session=False)
                else:
                    if session.handle is None:
                        session.handle = self._new_handle(
                            request.user, request.method, in_session=True
                        )
                    handle = session.handle
                try:
                    return self._execute_on(handle, request, session)
                finally:
                    if session is None:
                        handle.close()
        finally:
            if session is not None:
                with self._sessions_lock:
                    session.busy = False
                    session.expires_at = time.monotonic() + session.timeout_s

    def _execute_on(
        self, handle: Any, request: _Request, session: _Session | None
    ) -> tuple[bytes, dict[str, str]]:
        database = request.params.get("database")
        if database:
            self._run(handle, f"USE `{database.replace('`', '')}`", "TabSeparated")
        for name in request.settings:
            if not _SETTING_NAME.match(name):
                raise ServerError(115, f"Unknown setting '{name}'. (UNKNOWN_SETTING)")
        if request.user.readonly:
            self._refuse_setting_changes(handle, request.settings)
        elif session is None:
            self._set(handle, request.settings)
        else:
            if _SET_STATEMENT.match(request.sql[:64].decode(errors="replace")):
                self._overlay(handle, session, {})  # a SET changes the session's own values
            # a per-insert token in the URL rides in the INSERT's SETTINGS clause (see _insert),
            # so the session overlay stays the client's usual set and costs nothing
            self._overlay(
                handle,
                session,
                {k: v for k, v in request.settings.items() if k not in _INSERT_CLAUSE_SETTINGS},
            )
        return self._execute(handle, request)

    def _set(self, handle: Any, values: dict[str, str]) -> None:
        if values:
            assignments = ", ".join(f"{name} = {_quote(v)}" for name, v in values.items())
            self._run(handle, f"SET {assignments}", "TabSeparated")

    def _overlay(self, handle: Any, session: _Session, wanted: dict[str, str]) -> None:
        """Give a session handle exactly ``wanted`` on top of the session's own settings.

        URL settings apply to one query; a session keeps what its ``SET`` statements set. The
        overlay applied last is remembered, so a client that repeats the same settings on each
        request (clickhouse-connect does) costs no extra engine call.
        """
        if session.applied == wanted:
            return
        if session.saved:
            self._run(
                handle,
                "SET "
                + ", ".join(
                    f"{name} = {_quote(value) if changed else 'DEFAULT'}"
                    for name, (value, changed) in session.saved.items()
                ),
                "TabSeparated",
            )
        session.applied, session.saved = {}, {}
        if wanted:
            current = self._current_settings(handle, list(wanted))
            self._set(handle, wanted)
            session.saved = {n: current.get(n, ("", False)) for n in wanted}
            session.applied = dict(wanted)

    @staticmethod
    def _run(handle: Any, sql: str | bytes, fmt: str, params: dict[str, str] | None = None) -> Any:
        try:
            return handle.query(sql, fmt, params=params or {})
        except Exception as exc:
            raise ServerError.from_chdb(exc) from exc

    def _current_settings(self, handle: Any, names: list[str]) -> dict[str, tuple[str, bool]]:
        listed = ", ".join(_quote(n) for n in names)
        result = self._run(
            handle,
            f"SELECT name, value, changed FROM system.settings WHERE name IN ({listed})",
            "JSONEachRow",
        )
        rows = [json.loads(line) for line in result.bytes().splitlines()]
        return {r["name"]: (str(r["value"]), bool(r["changed"])) for r in rows}

    def _refuse_setting_changes(self, handle: Any, settings: dict[str, str]) -> None:
        """A readonly=1 user may send settings only with the values they already have."""
        if not settings:
            return
        current = self._current_settings(handle, list(settings))
        for name, value in settings.items():
            if name not in current or current[name][0] != value:
                raise ServerError(
                    164, f"Cannot modify '{name}' setting in readonly mode. (READONLY)"
                )

    def _refuse_files(self, handle: Any, sql: str, bound: dict[str, str]) -> None:
        """Refuse what a real server refuses its readonly user and chDB would run: the scalar
        ``file()`` (a server reads only under its ``user_files_path``, which the fixture has
        none of) and ``INTO OUTFILE`` (a server never writes a client's file).

        The statement is parsed by the engine (``EXPLAIN AST``), so a string that spells
        ``file(`` or ``INTO OUTFILE`` is data, as on the server; a statement that does not
        parse is left to fail as itself.
        """
        try:
            ast = self._run(handle, f"EXPLAIN AST {sql}", "TabSeparatedRaw", bound).bytes()
        except ServerError:
            return
        lines = ast.decode(errors="replace").splitlines()
        for line in lines:
            if _FILE_CALL.match(line):
                raise ServerError(
                    291,
                    "File is not inside the user_files directory and this user is readonly: "
                    "file() cannot read it. (DATABASE_ACCESS_DENIED)",
                )
        if any(_OUT_FILE.match(line) for line in lines):
            raise ServerError(358, "INTO OUTFILE is not allowed. (INTO_OUTFILE_NOT_ALLOWED)")

    def _execute(self, handle: Any, request: _Request) -> tuple[bytes, dict[str, str]]:
        if _INSERT.match(request.sql):
            keyword = _INSERT_KEYWORD.search(request.sql, 0, 1 << 16)
            if keyword and keyword.group(1).upper() == b"FORMAT":
                named = _FORMAT_NAME.match(request.sql, keyword.start())
                if named is None:
                    raise ServerError(62, "Syntax error: FORMAT without a name. (SYNTAX_ERROR)")
                statement = request.sql[: keyword.start()].decode()
                found = re.search(r"(?i)\bSETTINGS\b", statement)
                head = statement[: found.start()] if found else statement
                settings = statement[found.end() :] if found else ""
                clause = f" SETTINGS {settings.strip()}" if settings.strip() else ""
                return self._insert(
                    handle,
                    request,
                    statement=head.strip(),
                    settings_clause=clause,
                    fmt=named.group(1).decode(),
                    data_start=named.end(),
                )
        try:
            sql = request.sql.decode()
        except UnicodeDecodeError:
            raise ServerError(36, "The query is not valid UTF-8. (BAD_ARGUMENTS)") from None
        if not sql.strip():
            raise ServerError(62, "Empty query. (SYNTAX_ERROR)")
        _split_statements_check(sql)
        if request.user.readonly and _SET_STATEMENT.match(sql):
            raise ServerError(164, "Cannot modify settings in readonly mode. (READONLY)")
        if request.user.readonly:
            self._refuse_files(handle, sql, request.bound)
        fmt = request.params.get("default_format", "TabSeparated")
        trailing = _TRAILING_FORMAT.search(sql)
        produces_rows = bool(_RESULT_STATEMENT.match(sql)) or trailing is not None
        out_format = trailing.group(1) if trailing else fmt
        result = self._run(handle, sql, fmt, request.bound)
        headers = {"X-ClickHouse-Summary": self._summary(result)}
        if produces_rows:
            headers["X-ClickHouse-Format"] = out_format
            headers["Content-Type"] = _CONTENT_TYPES.get(out_format, "application/octet-stream")
        return result.bytes() or b"", headers

    def _insert(
        self,
        handle: Any,
        request: _Request,
        *,
        statement: str,
        settings_clause: str,
        fmt: str,
        data_start: int,
    ) -> tuple[bytes, dict[str, str]]:
        if request.user.readonly:
            raise ServerError(
                164, f"{request.user.name}: Cannot execute query in readonly mode. (READONLY)"
            )
        fd, name = tempfile.mkstemp(dir=self.tmp, suffix=f".{fmt.lower()}")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(memoryview(request.sql)[data_start:])
            per_insert = [
                f"{k} = {_quote(v)}"
                for k, v in request.settings.items()
                if k in _INSERT_CLAUSE_SETTINGS
            ]
            if per_insert:
                joined = ", ".join(per_insert)
                settings_clause = (
                    f"{settings_clause}, {joined}" if settings_clause else f" SETTINGS {joined}"
                )
            sql = f"{statement} FROM INFILE {_quote(name)}{settings_clause} FORMAT {fmt}"
            result = self._run(handle, sql, "TabSeparated", request.bound)
        finally:
            os.unlink(name)
        self.inserts += 1
        if self.inserts == self.crash_after_inserts:
            # fault injection: the rows are stored, the client never hears so (a server crash
            # between commit and response); the client's retry must not duplicate them
            print(f"crashing after insert {self.inserts}, before answering it", flush=True)
            os._exit(3)
        return b"", {"X-ClickHouse-Summary": self._summary(result)}

    @staticmethod
    def _summary(result: Any) -> str:
        elapsed_ns = int(result.elapsed() * 1e9)
        return json.dumps(
            {
                "read_rows": str(result.rows_read()),
                "read_bytes": str(result.bytes_read()),
                "written_rows": str(result.rows_written()),
                "written_bytes": str(result.bytes_written()),
                "total_rows_to_read": "0",
                "result_rows": "0",
                "result_bytes": str(result.size()),
                "elapsed_ns": str(elapsed_ns),
            },
            separators=(",", ":"),
        )


def _read_body(handler: BaseHTTPRequestHandler) -> bytes:
    if handler.headers.get("Transfer-Encoding", "").lower() == "chunked":
        parts: list[bytes] = []
        while True:
            line = handler.rfile.readline(65537)
            size = int(line.split(b";", 1)[0].strip() or b"0", 16)
            if size == 0:
                while handler.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                    pass
                return b"".join(parts)
            parts.append(handler.rfile.read(size))
            handler.rfile.readline(65537)
    length = int(handler.headers.get("Content-Length") or 0)
    return handler.rfile.read(length) if length else b""


def _form_fields(content_type: str, body: bytes) -> dict[str, str]:
    message = BytesParser(policy=HTTP).parsebytes(
        f"Content-Type: {content_type}\r\n\r\n".encode() + body
    )
    fields: dict[str, str] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if name and not part.get_filename():
            payload = part.get_payload(decode=True)
            fields[str(name)] = payload.decode() if isinstance(payload, bytes) else ""
    return fields


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out in separate writes
    timeout = 10  # idle keep-alive connections are closed after 10 s, as the server does
    server_version = "ClickHouse-chdb-fixture"
    app: ChdbHttpServer

    def log_message(self, format: str, *args: Any) -> None:
        return

    def do_GET(self) -> None:
        self._serve("GET")

    def do_POST(self) -> None:
        self._serve("POST")

    def _send(self, status: int, body: bytes, headers: dict[str, str]) -> None:
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Keep-Alive", "timeout=10")
        self.end_headers()
        self.wfile.write(body)

    def _serve(self, method: str) -> None:
        app = self.app
        parts = urlsplit(self.path)
        params = dict(parse_qsl(parts.query, keep_blank_values=True))
        query_id = params.get("query_id") or str(uuid.uuid4())
        base = {
            "X-ClickHouse-Server-Display-Name": app.display_name,
            "X-ClickHouse-Query-Id": query_id,
            "X-ClickHouse-Timezone": app.timezone,
            "Content-Type": "text/plain; charset=UTF-8",
        }
        try:
            body = _read_body(self)
            if parts.path in ("/ping", "/replicas_status") or (
                parts.path == "/" and method == "GET" and "query" not in params
            ):
                self._send(200, b"Ok.\n", base)
                return
            if parts.path != "/":
                raise ServerError(
                    0, f"There is no handle {parts.path}. Use / or /ping. (UNKNOWN_HANDLER)"
                )
            for unsupported in ("compress", "decompress"):
                if params.get(unsupported) == "1":
                    raise ServerError(
                        48,
                        f"the fixture does not implement ClickHouse's internal '{unsupported}' "
                        "block format; use HTTP Content-Encoding. (NOT_IMPLEMENTED)",
                    )
            body = _decode_body(body, self.headers.get("Content-Encoding", ""))
            content_type = self.headers.get("Content-Type", "")
            if content_type.startswith("multipart/form-data"):
                params.update(_form_fields(content_type, body))
                body = b""
            user = app.authenticate(self.headers, params)
            query = params.get("query", "")
            sql = (query.encode() + b"\n" + body) if query and body else (query.encode() or body)
            bound = {k[6:]: v for k, v in params.items() if k.startswith("param_")}
            settings = {
                k: v
                for k, v in params.items()
                if k not in _TRANSPORT_PARAMS and not k.startswith("param_")
            }
            request = _Request(user, sql, params, settings, bound, method)
            result, extra = app.execute(request)
            headers = {**base, **extra}
            result = self._compress(result, headers, settings)
            self._send(200, result, headers)
        except ServerError as exc:
            code = exc.code
            status = _STATUS_BY_CODE.get(code, 404 if code == 0 else 500)
            text = f"Code: {code}. DB::Exception: {exc} (version {app.version})\n"
            self._send(status, text.encode(), {**base, "X-ClickHouse-Exception-Code": str(code)})
        except (ConnectionError, TimeoutError):
            self.close_connection = True
        except Exception as exc:  # a fixture bug must be an answer, not a dropped connection
            text = f"Code: 1001. DB::Exception: fixture error: {exc!r} (version {app.version})\n"
            self._send(500, text.encode(), {**base, "X-ClickHouse-Exception-Code": "1001"})

    def _compress(self, body: bytes, headers: dict[str, str], settings: dict[str, str]) -> bytes:
        if settings.get("enable_http_compression", "1") in ("0", "false", "False"):
            return body
        accepted = self.headers.get("Accept-Encoding", "")
        for name, compress in _RESPONSE_ENCODINGS:
            if name in accepted:
                headers["Content-Encoding"] = name
                return compress(body)
        return body


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--path", type=Path, required=True, help="chDB store directory")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 = any free port")
    parser.add_argument("--ready-file", type=Path, help="written with the port once serving")
    parser.add_argument("--user", action="append", default=[], help="name:password[:readonly]")
    parser.add_argument(
        "--crash-after-inserts",
        type=int,
        default=0,
        help="fault injection: exit right after storing the Nth INSERT, before answering it",
    )
    parser.add_argument("--tls-cert", type=Path, help="serve HTTPS with this PEM certificate")
    parser.add_argument("--tls-key", type=Path, help="the certificate's PEM private key")
    args = parser.parse_args(argv)
    users = [User.parse(spec) for spec in args.user] or [User("default", "")]
    app = ChdbHttpServer(args.path, users, crash_after_inserts=args.crash_after_inserts)
    handler = type("Handler", (_Handler,), {"app": app})
    ThreadingHTTPServer.allow_reuse_address = True
    httpd = ThreadingHTTPServer((args.host, args.port), handler)
    httpd.daemon_threads = True
    if args.tls_cert:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(args.tls_cert, args.tls_key)
        # the handshake happens in the request's thread, not in the accept loop
        httpd.socket = context.wrap_socket(
            httpd.socket, server_side=True, do_handshake_on_connect=False
        )

    def stop(signum: int, frame: object) -> None:
        threading.Thread(target=httpd.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    port = httpd.server_address[1]
    if args.ready_file:
        tmp = args.ready_file.with_suffix(".tmp")
        tmp.write_text(str(port))
        tmp.replace(args.ready_file)
    scheme = "https" if args.tls_cert else "http"
    print(f"chdb-http fixture serving {args.path} on {scheme}://{args.host}:{port}", flush=True)
    try:
        httpd.serve_forever(poll_interval=0.2)
    finally:
        httpd.server_close()
        app.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
