"""``ClickHouseStore``: linewatch's one door to ClickHouse (embedded chDB or a server).

>>> import tempfile, datetime as dt
>>> from schemas.records import DriftEventRecord
>>> tmp = tempfile.mkdtemp()
>>> with ClickHouseStore.open(f"chdb://{tmp}/store") as store:
...     applied = store.apply_schema()
...     rec = DriftEventRecord(drift_id="d1", line_id="line-1", shift="day", lighting="dim",
...         signal="brightness", detector="page_hinkley",
...         detected_at=dt.datetime(2024, 5, 1, 6, 30, tzinfo=dt.UTC), trigger_event_id="e1",
...         statistic=9.0, threshold=5.0, events_in_slice=120, before_mean=0.5, before_std=0.1,
...         after_mean=0.3, after_std=0.1)
...     (store.insert([rec]), store.insert([rec]))
...     store.query("SELECT count() FROM drift_events").result_rows
(1, 0)
[(1,)]

Design notes (checked against chDB 4.4 / ClickHouse 26.9):

- Writes are idempotent by each record's ``__key__``; the cost of the stored-key lookup is
  bounded by the batch, not by the history (see ``docs/storage.md``):
  frames are looked up in ``event_keys`` (narrow, sorted by ``event_id``, fed by a materialized
  view), which also yields their content hash: same ``event_id`` with other content is an
  ``event_id_conflict`` dead letter (:mod:`streams.sinks.identity`); detections are looked up
  only for frames already stored, by their frames' sort-key prefix (line, capture time, id);
  the small tables by an ``IN`` on their first key column. Duplicates in the batch are
  dropped, and each insert carries ``insert_deduplication_token`` (a hash of its keys).
  Tables are ``ReplacingMergeTree`` with the key in the sort key, and every view that counts
  reads ``FINAL`` (or ``uniqExact``), so counts are exact even for a duplicate that got past
  both the lookup and the token (two writers racing on one batch).
- ``insert``/``write`` count the rows they sent after the lookup. ClickHouse's own
  ``written_rows`` summary is *not* used: it reports the rows sent even when the deduplication
  token discarded the block. The token can only discard a block whose keys were all written
  between this call's lookup and its insert (a concurrent writer): the one overcount left.
- No insert fails for touching many partitions (``max_partitions_per_insert_block = 0``).
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
from collections import Counter, defaultdict
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, NamedTuple, Self

import clickhouse_connect
from clickhouse_connect.driver.client import Client
from clickhouse_connect.driver.exceptions import ClickHouseError, OperationalError
from pydantic import SecretStr

from schemas.records import (
    DeadLetterRecord,
    DetectionRecord,
    FrameRecord,
    StoreRecord,
    stable_id,
)
from streams.errors import SchemaChanged, StoreError, StoreUnavailable, StoreWriteError
from streams.sinks import chdb_lock
from streams.sinks.dsn import DATABASE, StoreDsn, parse_dsn
from streams.sinks.identity import conflict_dead_letter, is_conflict
from streams.sinks.migrations import MIGRATIONS_TABLE, load_migrations
from streams.sinks.sql_guard import bound_text

__all__ = [
    "LOOKUP_CHUNK",
    "RETENTION_COLUMNS",
    "ClickHouseStore",
    "QueryResult",
    "WriteResult",
]

log = logging.getLogger(__name__)

LOOKUP_CHUNK = 2000
"""Keys per ``IN`` query of the existing-key lookup."""

_AUTH_FAILED = 516

RETENTION_COLUMNS: dict[str, str] = {
    "frames": "captured_at",
    "detections": "captured_at",
    "event_keys": "captured_at",
    "drift_events": "detected_at",
    "reference_gap": "window_end",
    "labels": "labelled_at",
    "dead_letters": "received_at",
    "frames_hourly": "hour",
    "frames_daily": "hour",
}
"""Tables whose retention ``set_retention`` manages, and the time column their TTL uses."""


@dataclass
class WriteResult:
    """What one :meth:`ClickHouseStore.write` did, per table."""

    written: Counter[str] = field(default_factory=Counter)
    """Rows inserted per table (after the stored-key lookup)."""
    skipped: Counter[str] = field(default_factory=Counter)
    """Rows not written because their key was already stored or repeated: replays."""
    conflicts: list[DeadLetterRecord] = field(default_factory=list)
    """``event_id_conflict`` dead letters (also written to ``dead_letters``)."""
    found_stored: set[tuple[str, tuple[object, ...]]] = field(default_factory=set)
    """``(table, key)`` of the rows skipped because the store already held them (not the
    repeats inside the call): lets a caller whose previous attempt failed tell the rows that
    attempt did land (see :class:`~streams.runners.checkpoint.Checkpoint`)."""

    @property
    def rows(self) -> int:
        """All rows inserted."""
        return sum(self.written.values())

    def add(self, other: WriteResult) -> None:
        """Accumulate another result."""
        self.written.update(other.written)
        self.skipped.update(other.skipped)
        self.conflicts.extend(other.conflicts)
        self.found_stored |= other.found_stored


class QueryResult(NamedTuple):
    """Column names and rows of a query; unpacks as ``columns, rows``."""

    column_names: tuple[str, ...]
    result_rows: list[tuple[Any, ...]]


def _reason(exc: BaseException) -> str:
    """The first line of a driver error, without the driver's boilerplate."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text[:500]


_SORT_KEYS = "{keys:Array(Tuple(String, DateTime64(3, 'UTC'), String))}"
"""The ``(line_id, captured_at, event_id)`` keys parameter of the sort-key lookups."""


def _key_type(values: Sequence[object]) -> str:
    if all(isinstance(v, str) for v in values):
        return "String"
    if all(isinstance(v, int) and not isinstance(v, bool) for v in values):
        return "Int64"
    raise StoreError(f"unsupported key values {values[:3]!r}: keys must be strings or integers")


def _chunks(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _setting_value(value: float) -> int | float:
    """A limit as ClickHouse reads it: whole numbers without a fraction."""
    return int(value) if float(value).is_integer() else float(value)


class ClickHouseStore:
    """A connection to the linewatch database; thread-safe (one lock around client calls)."""

    def __init__(self, client: Client, dsn: StoreDsn) -> None:
        """Use :meth:`open`."""
        self._client = client
        self._dsn = dsn
        self._lock = threading.RLock()
        self._closed = False

    # --- lifecycle --------------------------------------------------------------------------

    @classmethod
    def open(
        cls,
        dsn: str,
        *,
        password: SecretStr | None = None,
        readonly: bool = False,
        limits: Mapping[str, float] | None = None,
    ) -> ClickHouseStore:
        """Connect to ``dsn`` and check it answers; raise :class:`StoreUnavailable` if not.

        ``chdb://PATH``: embedded store in directory PATH (relative to the cwd; created).
        ``http(s)://user:pass@host:port[/linewatch]``: a ClickHouse server; ``password``
        (e.g. ``LINEWATCH_STORE__PASSWORD``) overrides one given in the DSN.
        ``readonly``: the connection runs with ClickHouse's ``readonly=1`` (reads only).
        ``limits``: settings every query of a read-only connection runs with, e.g.
        ``{"max_execution_time": 300, "max_memory_usage": 4 << 30}`` (0: no limit); an HTTP
        connection also cancels its query when the client goes away (Ctrl-C).
        """
        parsed = parse_dsn(dsn)
        if parsed.kind == "chdb":
            client = cls._open_chdb(parsed)
        else:
            client = cls._open_http(parsed, password)
        store = cls(client, parsed)
        try:
            if readonly:
                store._make_readonly(limits or {})
            store._use_database_if_present()
        except BaseException:
            store.close()
            raise
        return store

    @staticmethod
    def _open_chdb(dsn: StoreDsn) -> Client:
        assert dsn.path is not None
        chdb_lock.acquire(dsn.path)
        try:
            return clickhouse_connect.get_client(dsn=f"chdb://{dsn.path}", tz_mode="aware")
        except Exception as exc:
            chdb_lock.release(dsn.path)
            raise StoreUnavailable(
                f"cannot open chDB store {dsn.path}: {_reason(exc)}; check that no other program "
                "uses the directory and that it is a chDB store, or use another --store"
            ) from exc

    @staticmethod
    def _open_http(dsn: StoreDsn, password: SecretStr | None) -> Client:
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
                    f"TLS to ClickHouse at {dsn.masked} failed: {_reason(exc)}; the server's "
                    "certificate is not trusted here or does not name this host: point "
                    "SSL_CERT_FILE at the CA bundle that signed it, or use the host name the "
                    "certificate was issued for"
                ) from exc
            raise StoreUnavailable(
                f"cannot reach ClickHouse at {dsn.masked}: {_reason(exc)}; check that the server "
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
                f"ClickHouse at {dsn.masked} refused the connection: {_reason(exc)}; {advice}"
            ) from exc

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
                f"lost ClickHouse at {self.dsn} while trying to {doing}: {_reason(exc)}; "
                "back off and retry, and check the server"
            )
        if "TIMEOUT_EXCEEDED" in str(exc) or "MEMORY_LIMIT_EXCEEDED" in str(exc):
            return StoreError(
                f"ClickHouse could not {doing}: {_reason(exc)}; the query hit a read limit: "
                "narrow it (a WHERE on time or line, a LIMIT), or raise "
                "LINEWATCH_STORE__READ_MAX_EXECUTION_TIME_S / "
                "LINEWATCH_STORE__READ_MAX_MEMORY_BYTES"
            )
        return StoreError(f"ClickHouse could not {doing}: {_reason(exc)}")

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

    def query(self, sql: str, parameters: Mapping[str, Any] | None = None) -> QueryResult:
        """Run a query; ``{name:Type}`` placeholders are bound server-side from ``parameters``.

        Unqualified table names resolve in ``linewatch`` once the schema exists.
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
            if not rows and not columns:
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
            try:
                self._client.command(sql, parameters=dict(parameters or {}))
            except (ClickHouseError, OSError) as exc:
                raise self._failure(exc, "run the command") from exc

    # --- schema -----------------------------------------------------------------------------

    def applied_migrations(self) -> dict[str, str]:
        """Applied DDL files and their checksums (empty before the first ``apply_schema``)."""
        exists = self.query(
            "SELECT count() FROM system.tables WHERE database = {db:String} AND name = {t:String}",
            {"db": DATABASE, "t": MIGRATIONS_TABLE.split(".", 1)[1]},
        ).result_rows[0][0]
        if not exists:
            return {}
        rows = self.query(f"SELECT name, checksum FROM {MIGRATIONS_TABLE} FINAL").result_rows
        return {str(name): str(checksum) for name, checksum in rows}

    def apply_schema(self, directory: Path | None = None) -> list[str]:
        """Apply pending DDL files in name order; return the names newly applied.

        Raises :class:`SchemaChanged` (before applying anything) if an applied file was edited.
        """
        with self._lock:
            migrations = load_migrations(directory)
            applied = self.applied_migrations()
            for m in migrations:
                if m.name in applied and applied[m.name] != m.checksum:
                    raise SchemaChanged(
                        f"DDL file {m.name} was applied to {self.dsn} with checksum "
                        f"{applied[m.name][:12]}… but now has {m.checksum[:12]}…; applied files "
                        "must not change: restore it and put the change in a new NNN_name.sql file"
                    )
            newly: list[str] = []
            for m in migrations:
                if m.name in applied:
                    continue
                for statement in m.statements:
                    try:
                        self.command(statement)
                    except StoreError as exc:
                        raise StoreError(f"DDL file {m.name} failed: {exc}") from exc
                self.command(
                    f"INSERT INTO {MIGRATIONS_TABLE} (name, checksum, applied_at) "
                    "VALUES ({name:String}, {checksum:String}, now64(3, 'UTC'))",
                    {"name": m.name, "checksum": m.checksum},
                )
                log.info("applied %s to %s", m.name, self.dsn)
                newly.append(m.name)
            self._client.database = DATABASE
            return newly

    # --- retention --------------------------------------------------------------------------

    def set_retention(self, table: str, seconds: int | None) -> None:
        """Keep ``table``'s rows ``seconds`` after their time column (``None``/0: forever).

        Tables drop whole expired parts (``ttl_only_drop_parts``, ``002_baseline.sql``), so with
        daily-or-finer parts a day's data goes at once, without rewriting anything.
        """
        if table not in RETENTION_COLUMNS:
            raise StoreError(
                f"no retention for table {table!r}: choose one of {', '.join(RETENTION_COLUMNS)}"
            )
        if seconds is not None and seconds < 0:
            raise StoreError(f"retention must be >= 0 seconds, not {seconds}")
        if seconds:
            column = RETENTION_COLUMNS[table]
            self.command(
                f"ALTER TABLE {DATABASE}.{table} MODIFY TTL "
                f"toDateTime({column}) + toIntervalSecond({int(seconds)})"
            )
        elif self.retention().get(table):
            self.command(f"ALTER TABLE {DATABASE}.{table} REMOVE TTL")

    def retention(self) -> dict[str, str]:
        """The TTL expression of each table that has one."""
        found: dict[str, str] = {}
        for name, ddl in self.query(
            "SELECT name, create_table_query FROM system.tables WHERE database = {db:String}",
            {"db": DATABASE},
        ).result_rows:
            match = re.search(r"\bTTL (.+?) SETTINGS", str(ddl))
            if name in RETENTION_COLUMNS and match:
                found[str(name)] = match.group(1).strip()
        return found

    # --- writes -----------------------------------------------------------------------------

    def existing_keys(
        self, model: type[StoreRecord], keys: Sequence[tuple[object, ...]]
    ) -> set[tuple[object, ...]]:
        """Those of ``keys`` already stored in ``model``'s table (any table; not bounded)."""
        if not keys:
            return set()
        key_cols = model.__key__
        firsts = sorted({k[0] for k in keys}, key=repr)
        type_name = _key_type(firsts)
        select = ", ".join(key_cols)
        sql = (
            f"SELECT DISTINCT {select} FROM {DATABASE}.{model.__table__} "
            f"WHERE {key_cols[0]} IN {{keys:Array({type_name})}}"
        )
        wanted = set(keys)
        found: set[tuple[object, ...]] = set()
        for chunk in _chunks(firsts, LOOKUP_CHUNK):
            for row in self.query(sql, {"keys": list(chunk)}).result_rows:
                if tuple(row) in wanted:
                    found.add(tuple(row))
        return found

    def stored_events(self, event_ids: Sequence[str]) -> dict[str, tuple[str, str]]:
        """``event_id -> (content_hash, source)`` of those of ``event_ids`` already stored.

        Reads ``event_keys`` by its primary key (``event_id``): only the granules that can hold
        the given ids, whatever line or time they were stored under. A non-empty hash wins over
        ``""`` when an event was stored both before and after hashes existed.
        """
        found: dict[str, tuple[str, str]] = {}
        ids = sorted(set(event_ids))
        for chunk in _chunks(ids, LOOKUP_CHUNK):
            rows = self.query(
                f"SELECT event_id, content_hash, source FROM {DATABASE}.event_keys "
                "WHERE event_id IN {ids:Array(String)}",
                {"ids": list(chunk)},
            ).result_rows
            for event_id, digest, source in rows:
                if event_id not in found or not found[event_id][0]:
                    found[str(event_id)] = (str(digest), str(source))
        return found

    def _stored_frames_without_keys(
        self, frames: Mapping[str, FrameRecord], known: Mapping[str, tuple[str, str]]
    ) -> dict[str, tuple[str, str]]:
        """Frames stored without their ``event_keys`` row, among ``frames`` not in ``known``.

        ``event_keys`` is filled by a materialized view in a second insert: a process killed
        between the two leaves frames whose keys are missing. They are looked up in ``frames``
        itself by their full sort key ``(line_id, captured_at, event_id)`` (a replay carries the
        stored frame's line and capture time): the primary index then keeps only the granules
        that can hold one of those exact keys - for new frames, none but the newest parts' -
        in one query per :data:`LOOKUP_CHUNK` ids, whatever the number of lines.
        """
        keys = [
            (f.line_id, f.captured_at, event_id)
            for event_id, f in sorted(frames.items())
            if event_id not in known
        ]
        found: dict[str, tuple[str, str]] = {}
        for chunk in _chunks(keys, LOOKUP_CHUNK):
            rows = self.query(
                f"SELECT event_id, content_hash, source FROM {DATABASE}.frames "
                f"WHERE (line_id, captured_at, event_id) IN {_SORT_KEYS}",
                {"keys": list(chunk)},
            ).result_rows
            for event_id, digest, source in rows:
                found[str(event_id)] = (str(digest), str(source))
        return found

    def _stored_detections(self, detections: Sequence[DetectionRecord]) -> set[tuple[object, ...]]:
        """Keys of ``detections`` already stored, read by their frames' sort-key prefix.

        ``(line_id, captured_at, event_id)`` opens the table's sort key, so the primary index
        keeps only the granules that can hold those frames' detections: a detection's line and
        capture time are those of its frame, identical in a replay.
        """
        if not detections:
            return set()
        wanted = {d.key() for d in detections}
        frames = sorted({(d.line_id, d.captured_at, d.event_id) for d in detections})
        found: set[tuple[object, ...]] = set()
        for chunk in _chunks(frames, LOOKUP_CHUNK):
            sql = (
                f"SELECT DISTINCT event_id, det_index FROM {DATABASE}.detections "
                f"WHERE (line_id, captured_at, event_id) IN {_SORT_KEYS}"
            )
            for row in self.query(sql, {"keys": list(chunk)}).result_rows:
                if tuple(row) in wanted:
                    found.add(tuple(row))
        return found

    def insert(self, records: Sequence[StoreRecord], *, known_new: bool = False) -> int:
        """Write records idempotently (grouped by table); return the rows actually written.

        See :meth:`write`, which also says what was skipped and which events conflicted.
        """
        return self.write(records, known_new=known_new).rows

    def write(self, records: Sequence[StoreRecord], *, known_new: bool = False) -> WriteResult:
        """Write records idempotently, table by table (frames first); say what happened.

        Rows whose key is already stored, or repeats a key earlier in ``records``, are skipped.
        A frame whose ``event_id`` is stored (or earlier in ``records``) with *other* content is
        an ``event_id_conflict`` (:mod:`streams.sinks.identity`): it and its detections (those
        whose line and capture time are not the kept frame's) are not written, a dead letter
        naming both sources is.
        On failure nothing of the failing table is written and the whole call can be retried.
        ``known_new=True`` skips the lookup of stored keys, for a caller that can prove none of
        the keys was written before (a streaming worker past its first batch on a partition);
        frames are still checked against ``event_keys`` (a conflict can arrive at any offset).
        """
        result = WriteResult()
        frames: dict[str, FrameRecord] = {}  # event_id -> the first frame with it
        conflicted: set[str] = set()  # event_ids with another content later in records
        batch_detections: list[DetectionRecord] = []
        others: dict[type[StoreRecord], dict[tuple[object, ...], StoreRecord]] = defaultdict(dict)
        for record in records:
            if isinstance(record, FrameRecord):
                first = frames.setdefault(record.event_id, record)
                if first is record:
                    continue
                if is_conflict(first.content_hash, record.content_hash):
                    conflicted.add(record.event_id)
                    result.conflicts.append(
                        conflict_dead_letter(
                            record, stored_source=first.source, stored_hash=first.content_hash
                        )
                    )
                else:
                    result.skipped["frames"] += 1
            elif isinstance(record, DetectionRecord):
                batch_detections.append(record)
            elif others[type(record)].setdefault(record.key(), record) is not record:
                result.skipped[record.__table__] += 1
        detections: dict[tuple[object, ...], DetectionRecord] = {}
        for d in batch_detections:
            if d.event_id in conflicted:
                # a detection carries its frame's line and capture time: keep only those of
                # the frame that stays (the first one); the other content's boxes are dropped
                first = frames[d.event_id]
                if (d.line_id, d.captured_at) != (first.line_id, first.captured_at):
                    continue
            if detections.setdefault(d.key(), d) is not d:
                result.skipped["detections"] += 1
        with self._lock:
            self._check_open(f"write {len(records)} rows")
            stored = self.stored_events(list(frames))
            stored.update(self._stored_frames_without_keys(frames, stored))
            new_frames: list[FrameRecord] = []
            for event_id, frame in frames.items():
                if event_id not in stored:
                    new_frames.append(frame)
                    continue
                digest, source = stored[event_id]
                if is_conflict(digest, frame.content_hash):
                    result.conflicts.append(
                        conflict_dead_letter(frame, stored_source=source, stored_hash=digest)
                    )
                    dropped = [k for k, d in detections.items() if d.event_id == event_id]
                    for k in dropped:
                        del detections[k]
                else:
                    result.skipped["frames"] += 1
                    result.found_stored.add(("frames", frame.key()))
            self._insert_rows(FrameRecord, new_frames, result)
            # a detection can only be stored already if its frame is (frames are written first)
            fresh_ids = {f.event_id for f in new_frames}
            maybe_stored = [d for d in detections.values() if d.event_id not in fresh_ids]
            done = set() if known_new else self._stored_detections(maybe_stored)
            result.skipped["detections"] += len(done)
            result.found_stored |= {("detections", k) for k in done}
            self._insert_rows(
                DetectionRecord, [d for k, d in detections.items() if k not in done], result
            )
            for dl in result.conflicts:
                others[DeadLetterRecord].setdefault(dl.key(), dl)
            # conflict dead letters recur with every replay of the conflicting event: always
            # looked up, even for a caller that knows its own rows are new
            conflict_keys = [dl.key() for dl in result.conflicts]
            for model, unique in others.items():
                if not known_new:
                    existing = self.existing_keys(model, list(unique))
                elif model is DeadLetterRecord and conflict_keys:
                    existing = self.existing_keys(model, conflict_keys)
                else:
                    existing = set()
                result.skipped[model.__table__] += len(existing)
                result.found_stored |= {(model.__table__, k) for k in existing}
                self._insert_rows(
                    model, [r for k, r in unique.items() if k not in existing], result
                )
        return result

    def _insert_rows(
        self, model: type[StoreRecord], fresh: Sequence[StoreRecord], result: WriteResult
    ) -> None:
        """One ``INSERT`` of ``fresh`` rows into ``model``'s table, counted in ``result``.

        ``max_partitions_per_insert_block = 0``: a backfill spanning years of legitimate capture
        times touches many daily partitions; ClickHouse would refuse the whole block
        ("Too many partitions for single INSERT block") and a retry would fail forever.
        """
        if not fresh:
            return
        names = list(model.model_fields)
        columns = [[getattr(r, c) for r in fresh] for c in names]  # columnar: no transpose
        self._insert_values(model, columns, [r.key() for r in fresh], result, by_column=True)

    def insert_new_rows(self, model: type[StoreRecord], rows: Sequence[Sequence[object]]) -> int:
        """Write plain rows (one value per field of ``model``, in field order) whose keys the
        caller can prove are not stored yet, as :meth:`write` with ``known_new=True`` does for
        records; a key repeated within ``rows`` is written once. Return the rows written.

        For a caller that builds tens of thousands of rows of one table at once (``reconcile``):
        it saves building and reading back a pydantic record per row. The values must already
        have their field's type (what validating them as ``model`` would give).
        """
        index = [list(model.model_fields).index(k) for k in model.__key__]
        unique: dict[tuple[object, ...], Sequence[object]] = {}
        for row in rows:
            unique.setdefault(tuple(row[i] for i in index), row)
        result = WriteResult()
        with self._lock:
            self._check_open(f"write {len(rows)} rows")
            self._insert_values(model, list(unique.values()), list(unique), result)
        return result.rows

    def _insert_values(
        self,
        model: type[StoreRecord],
        rows: Sequence[Sequence[object]],
        keys: Sequence[tuple[object, ...]],
        result: WriteResult,
        *,
        by_column: bool = False,
    ) -> None:
        """One ``INSERT`` of ``rows`` (values in field order) with the token of their ``keys``.

        ``by_column``: ``rows`` holds one list per field instead (clickhouse-connect then skips
        turning rows into columns; its store flush row in ``bench/bench_pipeline.py``).
        """
        if not rows or not keys:
            return
        columns = list(model.model_fields)
        token = stable_id(model.__table__, *sorted(keys, key=repr))
        try:
            self._client.insert(
                f"{DATABASE}.{model.__table__}",
                rows,
                column_names=columns,
                column_oriented=by_column,
                settings={
                    "insert_deduplication_token": token,
                    "max_partitions_per_insert_block": 0,
                },
            )
        except (ClickHouseError, OSError) as exc:
            failure = self._failure(exc, f"write {len(keys)} rows to {model.__table__}")
            if isinstance(failure, StoreUnavailable):
                raise failure from exc
            raise StoreWriteError(
                f"{failure}; nothing of this table was written: retry after a back-off"
            ) from exc
        except (ValueError, TypeError, ArithmeticError, struct.error) as exc:
            # the driver could not serialise a value for its column (text that is not UTF-8, an
            # integer past its UInt width): the same rows fail the same way every time
            raise StoreWriteError(
                f"ClickHouse could not write {len(keys)} rows to {model.__table__}: a value does "
                f"not fit its column ({_reason(exc)}); nothing of this table was written"
            ) from exc
        result.written[model.__table__] += len(keys)
