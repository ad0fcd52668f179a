"""ClickHouseStore against real embedded chDB stores in tmp dirs (no mocks)."""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

import pytest

from schemas.records import DeadLetterRecord, FrameRecord, LabelRecord, StoreRecord
from streams.errors import (
    ConfigError,
    SchemaChanged,
    StoreError,
    StoreLocked,
    StoreReadOnly,
    StoreReadOnlyWrite,
    StoreUnavailable,
    StoreWriteError,
)
from streams.sinks import chdb_lock
from streams.sinks.clickhouse import ClickHouseStore
from streams.sinks.dsn import parse_dsn
from streams.sinks.migrations import default_schema_dir, load_migrations
from tests.store_fixtures import READER, ChdbHttpServer, ServerFactory
from tests.test_store_samples import (
    BERLIN,
    T0,
    dead_letter,
    detection,
    drift,
    frame,
    gap,
    one_of_each,
)


@pytest.fixture
def store(store_dsn: str) -> Iterator[ClickHouseStore]:
    """An empty store with the schema, embedded (chdb) and behind HTTP (the fixture server)."""
    with ClickHouseStore.open(store_dsn) as s:
        s.apply_schema()
        yield s


def count(store: ClickHouseStore, table: str) -> int:
    """Visible rows, deliberately without FINAL."""
    return int(store.query(f"SELECT count() FROM linewatch.{table}").result_rows[0][0])


R = TypeVar("R", bound=StoreRecord)


def read_back(store: ClickHouseStore, model: type[R]) -> list[R]:
    key = ", ".join(model.__key__)
    columns, rows = store.query(f"SELECT * FROM linewatch.{model.__table__} ORDER BY {key}")
    return [model.model_validate(dict(zip(columns, row, strict=True))) for row in rows]


# --- schema -------------------------------------------------------------------------------


def test_apply_schema_is_idempotent_and_recorded(store_dsn: str) -> None:
    shipped = load_migrations()
    with ClickHouseStore.open(store_dsn) as store:
        assert store.applied_migrations() == {}
        first = store.apply_schema()
        assert first == [m.name for m in shipped]
        assert store.apply_schema() == []
        ledger = store.applied_migrations()
    assert ledger == {m.name: m.checksum for m in shipped}
    for m in shipped:
        data = (default_schema_dir() / m.name).read_bytes()
        assert ledger[m.name] == hashlib.sha256(data).hexdigest()
    # and again after reopening: nothing pending
    with ClickHouseStore.open(store_dsn) as store:
        assert store.apply_schema() == []
        (n,) = store.query("SELECT count() FROM schema_migrations").result_rows[0]
        assert n == len(shipped)


def test_every_table_is_replacing_merge_tree_sorted_by_its_key(store: ClickHouseStore) -> None:
    from schemas import records

    models: list[type[StoreRecord]] = [
        records.FrameRecord,
        records.DetectionRecord,
        records.DriftEventRecord,
        records.ReferenceGapRecord,
        records.DeadLetterRecord,
        records.LabelRecord,
    ]
    for model in models:
        (engine, sorting_key) = store.query(
            "SELECT engine, sorting_key FROM system.tables "
            "WHERE database = 'linewatch' AND name = {t:String}",
            {"t": model.__table__},
        ).result_rows[0]
        assert engine == "ReplacingMergeTree"
        sort_cols = [c.strip() for c in sorting_key.split(",")]
        assert set(model.__key__) <= set(sort_cols), model.__table__
        columns = [
            r[0]
            for r in store.query(
                "SELECT name FROM system.columns WHERE database = 'linewatch' "
                "AND table = {t:String} ORDER BY position",
                {"t": model.__table__},
            ).result_rows
        ]
        assert columns == list(model.model_fields), model.__table__


def test_changed_applied_file_is_refused_and_new_files_are_applied(
    tmp_path: Path, store_dsn: str
) -> None:
    ddl = tmp_path / "ddl"
    shutil.copytree(default_schema_dir(), ddl)
    with ClickHouseStore.open(store_dsn) as store:
        store.apply_schema(ddl)
        frames = ddl / "002_baseline.sql"
        frames.write_text(frames.read_text() + "\n-- edited\n")
        (ddl / "110_extra.sql").write_text(
            "CREATE TABLE IF NOT EXISTS linewatch.extra (k String) ENGINE = MergeTree ORDER BY k;"
        )
        with pytest.raises(SchemaChanged, match=r"002_baseline\.sql.*new NNN_name\.sql"):
            store.apply_schema(ddl)
        # refused before applying anything
        assert "110_extra.sql" not in store.applied_migrations()
        frames.write_text(frames.read_text().replace("\n-- edited\n", ""))
        assert store.apply_schema(ddl) == ["110_extra.sql"]
        assert count(store, "extra") == 0


def test_broken_ddl_names_the_file_and_is_not_recorded(tmp_path: Path, store_dsn: str) -> None:
    ddl = tmp_path / "ddl"
    ddl.mkdir()
    shutil.copy(default_schema_dir() / "001_schema_migrations.sql", ddl)
    (ddl / "002_bad.sql").write_text(
        "CREATE TABLE IF NOT EXISTS linewatch.bad (k Strin) ENGINE=Log;"
    )
    with ClickHouseStore.open(store_dsn) as store:
        with pytest.raises(StoreError, match=r"002_bad\.sql"):
            store.apply_schema(ddl)
        assert list(store.applied_migrations()) == ["001_schema_migrations.sql"]


# --- writes and reads ---------------------------------------------------------------------


def test_every_record_type_round_trips(store: ClickHouseStore) -> None:
    originals = one_of_each(0) + one_of_each(1)
    assert store.insert(originals) == len(originals)
    for model in {type(r) for r in originals}:
        expected = sorted((r for r in originals if type(r) is model), key=lambda r: r.key())
        got = read_back(store, model)
        assert got == expected, model.__table__
    f0 = read_back(store, FrameRecord)[0]
    for value in (f0.captured_at, f0.ingested_at):
        assert value.utcoffset() == dt.timedelta(0)
    # the Berlin-offset ingested_at is the same instant, now in UTC
    assert f0.ingested_at == frame(0).ingested_at
    assert frame(0).ingested_at.tzinfo == BERLIN
    assert (f0.predicted_defective, read_back(store, FrameRecord)[1].predicted_defective) == (
        True,
        False,
    )
    assert f0.sensor_lux == 420.0 and f0.sensor_colour_temp_k is None
    lbl = read_back(store, LabelRecord)[0]
    assert lbl.class_names == ["scratch", "crack"]
    assert lbl.boxes == [[1.0, 2.0, 30.5, 40.0], [5.0, 6.0, 7.0, 8.0]]
    (dl,) = [r for r in read_back(store, DeadLetterRecord) if r.key() == dead_letter(0).key()]
    assert dl.payload == "not json 0 \u00e9'\""


def test_nullable_sensor_values_round_trip(store: ClickHouseStore) -> None:
    store.insert([frame(1, lux=None), frame(2, lux=0.0)])
    rows = store.query("SELECT event_id, sensor_lux FROM frames ORDER BY event_id").result_rows
    assert rows == [("evt-000001", None), ("evt-000002", 0.0)]


def test_replay_is_idempotent_without_final(store: ClickHouseStore) -> None:
    batch = [frame(i) for i in range(50)] + [detection(i, k) for i in range(50) for k in range(3)]
    assert store.insert(batch) == 200
    assert store.insert(batch) == 0
    overlapping = [frame(i) for i in range(25, 75)] + [
        detection(i, k) for i in range(25, 75) for k in range(3)
    ]
    assert store.insert(overlapping) == 25 + 75
    assert (count(store, "frames"), count(store, "detections")) == (75, 225)
    assert store.insert(list(reversed(overlapping + batch))) == 0
    assert (count(store, "frames"), count(store, "detections")) == (75, 225)


def test_duplicates_within_one_batch_are_written_once(store: ClickHouseStore) -> None:
    batch = [frame(1), frame(1), frame(2), detection(1, 0), detection(1, 0), detection(1, 1)]
    batch += [dead_letter(3), dead_letter(3), drift(1), drift(1), gap(1), gap(1)]
    assert store.insert(batch) == 7
    assert count(store, "frames") == 2
    assert count(store, "detections") == 2
    assert count(store, "dead_letters") == 1
    assert count(store, "drift_events") == count(store, "reference_gap") == 1


def test_existing_key_lookup_is_chunked(
    store: ClickHouseStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    import streams.sinks.lookups as module

    monkeypatch.setattr(module, "LOOKUP_CHUNK", 7)
    first = [detection(i, k) for i in range(20) for k in range(2)]
    assert store.insert(first) == 40
    assert store.insert([*first, detection(20, 0)]) == 1
    assert count(store, "detections") == 41


def test_a_write_of_new_frames_is_one_lookup_and_one_insert_per_table(
    store: ClickHouseStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The frame lookup reads event_keys and keyless frames in one query, asks no column names
    of its (empty) result, and inserts read their column types once per table."""
    store.insert([frame(0), detection(0, 0)])  # the column types of both tables are known now
    client = store._client
    sent: list[str] = []
    for name in ("query", "command", "insert"):
        method = getattr(client, name)

        def spy(sql: str, *args: object, _method: object = method, **kwargs: object) -> object:
            sent.append(sql.split(maxsplit=1)[0].upper())
            return _method(sql, *args, **kwargs)  # type: ignore[operator]

        monkeypatch.setattr(client, name, spy)
    assert store.insert([frame(i) for i in range(1, 30)] + [detection(1, 0), detection(2, 0)]) == 31
    assert sent == ["SELECT", "LINEWATCH.FRAMES", "LINEWATCH.DETECTIONS"]


def test_concurrent_overlapping_inserts_write_each_row_once(store: ClickHouseStore) -> None:
    batches = [[frame(i) for i in range(start, start + 40)] for start in range(0, 200, 20)]
    with ThreadPoolExecutor(max_workers=4) as pool:
        written = sum(pool.map(store.insert, batches))
    assert written == count(store, "frames") == 220


def test_query_parameters_are_bound_not_pasted(store: ClickHouseStore) -> None:
    store.insert([drift(1, line="line-1"), drift(2, line="line-2", minutes=30), drift(3)])
    sql = "SELECT drift_id FROM drift_events WHERE line_id = {line:String} ORDER BY drift_id"
    assert store.query(sql, {"line": "line-1"}).result_rows == [
        ("drift-line-1-1",),
        ("drift-line-1-3",),
    ]
    assert store.query(sql, {"line": "line-1' OR 1=1 --"}).result_rows == []
    in_sql = "SELECT count() FROM drift_events WHERE drift_id IN {ids:Array(String)}"
    assert store.query(in_sql, {"ids": ["drift-line-2-2", "nope"]}).result_rows == [(1,)]
    since_sql = (
        "SELECT drift_id FROM drift_events WHERE detected_at >= {since:DateTime64(3, 'UTC')}"
    )
    since = (T0 + dt.timedelta(minutes=10)).astimezone(BERLIN)  # aware, non-UTC offset
    assert store.query(since_sql, {"since": since}).result_rows == [("drift-line-2-2",)]
    # strings are parsed by ClickHouse as the declared type (as the CLI passes them)
    assert store.query(since_sql, {"since": "2024-05-01 06:10:00"}).result_rows == [
        ("drift-line-2-2",)
    ]
    with pytest.raises(StoreError, match="missing"):
        store.query("SELECT {missing:UInt8}")


def test_bad_sql_is_a_store_error_and_closed_store_is_unavailable(store_dsn: str) -> None:
    store = ClickHouseStore.open(store_dsn)
    with pytest.raises(StoreError, match="Syntax error"):
        store.query("SELEC 1")
    store.close()
    store.close()  # idempotent
    with pytest.raises(StoreUnavailable, match="closed"):
        store.query("SELECT 1")
    with pytest.raises(StoreUnavailable, match="closed"):
        store.insert([frame(1)])


# --- opening: paths, locks, servers -------------------------------------------------------


def test_relative_chdb_path_resolves_against_cwd(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    with ClickHouseStore.open("chdb://rel/store") as store:
        assert store.path == tmp_path / "rel" / "store"
        assert (tmp_path / "rel" / "store" / chdb_lock.LOCK_FILE).read_text().strip() == str(
            os.getpid()
        )
    assert chdb_lock.held_path() is None


_HOLDER = textwrap.dedent(
    """
    import sys
    from streams.sinks.clickhouse import ClickHouseStore
    store = ClickHouseStore.open(sys.argv[1])
    print("ready", flush=True)
    sys.stdin.readline()
    store.close()
    print("closed", flush=True)
    """
)


def test_store_locked_while_another_process_holds_the_path(tmp_path: Path) -> None:
    dsn = f"chdb://{tmp_path / 'store'}"
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLDER, dsn],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdin is not None
        assert holder.stdout.readline().strip() == "ready"
        with pytest.raises(StoreLocked) as err:
            ClickHouseStore.open(dsn)
        message = str(err.value)
        assert str(tmp_path / "store") in message
        assert f"pid {holder.pid}" in message
        assert "stop the other linewatch process or use another --store" in message
        assert chdb_lock.held_path() is None  # the failed open left nothing behind
        holder.stdin.write("\n")
        holder.stdin.flush()
        assert holder.stdout.readline().strip() == "closed"
        assert holder.wait(timeout=60) == 0
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait()
    with ClickHouseStore.open(dsn) as store:  # free again
        assert store.query("SELECT 1").result_rows == [(1,)]


def test_one_chdb_path_per_process(tmp_path: Path) -> None:
    first = ClickHouseStore.open(f"chdb://{tmp_path / 'a'}")
    try:
        with pytest.raises(StoreUnavailable, match="one store directory per process") as err:
            ClickHouseStore.open(f"chdb://{tmp_path / 'b'}")
        assert not isinstance(err.value, StoreLocked)
        assert str(tmp_path / "a") in str(err.value)
        # the same path again shares the engine and the lock
        with ClickHouseStore.open(f"chdb://{tmp_path / 'a'}/") as again:
            again.command("CREATE TABLE default.t (k String) ENGINE = MergeTree ORDER BY k")
        assert first.query("SELECT count() FROM default.t").result_rows == [(0,)]
        assert chdb_lock.held_path() == tmp_path / "a"
    finally:
        first.close()
    assert chdb_lock.held_path() is None
    with ClickHouseStore.open(f"chdb://{tmp_path / 'b'}") as other:
        assert other.query("SELECT 1").result_rows == [(1,)]


def test_unreachable_server_fails_fast_with_masked_password() -> None:
    with pytest.raises(StoreUnavailable) as err:
        ClickHouseStore.open("http://ops:s3cret@127.0.0.1:1/linewatch")
    message = str(err.value)
    assert "http://ops:***@127.0.0.1:1/linewatch" in message
    assert "s3cret" not in message
    assert "--store" in message


@pytest.mark.parametrize(
    ("dsn", "match"),
    [
        ("mysql://h/db", "unsupported store DSN"),
        ("http://u:pw@h:8123/other", "names a database other than 'linewatch'"),
        ("chdb://", "names no directory"),
        ("chdb://:memory:", "names no directory"),
    ],
)
def test_bad_dsns_are_config_errors(dsn: str, match: str) -> None:
    with pytest.raises(ConfigError, match=match) as err:
        parse_dsn(dsn)
    assert "pw" not in str(err.value)


def test_http_dsn_defaults() -> None:
    d = parse_dsn("http://ch.local")
    assert (d.host, d.port, d.username, d.password, d.secure) == (
        "ch.local",
        8123,
        "default",
        "",
        False,
    )
    assert parse_dsn("https://a%40b:p%3Aw@ch.local/linewatch").username == "a@b"
    assert parse_dsn("https://a%40b:p%3Aw@ch.local/linewatch").password == "p:w"


def test_empty_results_still_name_their_columns(store: ClickHouseStore) -> None:
    empty = store.query(
        "WITH 1 AS one SELECT drift_id, line_id AS line FROM drift_events "
        "WHERE line_id = {line:String}",
        {"line": "nowhere"},
    )
    assert empty == (("drift_id", "line"), [])
    assert store.query("SELECT 1 AS a WHERE 0;").column_names == ("a",)


def test_read_only_server_user_can_query_but_not_write(
    http_store_dsn: str, shared_http_server: ChdbHttpServer
) -> None:
    with ClickHouseStore.open(http_store_dsn) as writer:
        writer.apply_schema()
        writer.insert([frame(1)])
    with ClickHouseStore.open(shared_http_server.dsn(READER)) as reader:
        assert count(reader, "frames") == 1
        assert reader.query(
            "SELECT event_id FROM frames WHERE event_id = {e:String}", {"e": "evt-000001"}
        ).result_rows == [("evt-000001",)]
        with pytest.raises(StoreReadOnlyWrite, match="readonly"):  # a StoreWriteError too
            reader.insert([frame(2)])
        assert reader.apply_schema() == []  # nothing pending: no write attempted
        with pytest.raises(StoreReadOnly, match="readonly"):
            reader.command("OPTIMIZE TABLE frames FINAL")
    with ClickHouseStore.open(http_store_dsn) as writer:
        assert count(writer, "frames") == 1


def test_a_read_only_connection_refuses_writes_with_typed_errors(tmp_path: Path) -> None:
    dsn = f"chdb://{tmp_path / 'store'}"
    with ClickHouseStore.open(dsn) as writer:
        writer.apply_schema()
    with ClickHouseStore.open(dsn, readonly=True) as reader:
        with pytest.raises(StoreReadOnlyWrite) as refused:
            reader.insert([frame(1)])
        assert isinstance(refused.value, StoreWriteError)  # bisected and retried like any
        with pytest.raises(StoreReadOnly):
            reader.command("OPTIMIZE TABLE frames FINAL")
        with pytest.raises(StoreError) as other:
            reader.query("SELECT no_such_column FROM frames")
        assert not isinstance(other.value, StoreReadOnly)


def test_https_store_with_a_private_ca(
    http_server_factory: ServerFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = http_server_factory("tls", tls=True)
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    with pytest.raises(StoreUnavailable, match=r"certificate is not trusted.*SSL_CERT_FILE"):
        ClickHouseStore.open(server.dsn())
    monkeypatch.setenv("SSL_CERT_FILE", str(server.cert_file))
    with ClickHouseStore.open(server.dsn()) as store:
        assert store.dsn.startswith("https://linewatch:***@127.0.0.1:")
        store.apply_schema()
        assert store.insert([frame(1)]) == 1
        assert count(store, "frames") == 1
