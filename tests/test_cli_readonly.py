"""``linewatch query``, ``drift``, ``metrics`` and ``report`` read with ``readonly=1``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from streams.cli import app
from streams.errors import ConfigError, StoreError
from streams.sinks.clickhouse import ClickHouseStore
from tests.store_fixtures import READER, ChdbHttpServer
from tests.test_store_samples import drift

runner = CliRunner()


def _one_alarm_store(store_dsn: str) -> str:
    with ClickHouseStore.open(store_dsn) as store:
        store.apply_schema()
        store.insert([drift(1, line="line-1", minutes=0)])
    return store_dsn


@pytest.fixture(scope="module")
def chdb_dsn(tmp_path_factory: pytest.TempPathFactory) -> str:
    """One embedded store with one drift alarm for the module: its tests only read it (the
    refusals check it is unchanged), so the 61 DDL statements run once, not per test."""
    return _one_alarm_store(f"chdb://{tmp_path_factory.mktemp('readonly') / 'store'}")


@pytest.fixture(scope="module")
def http_dsn(shared_http_server: ChdbHttpServer) -> str:
    """The same store behind the session's HTTP fixture server, built once for the module
    (pytest tears it down when the session moves to another module, whose tests may reset it)."""
    if not shared_http_server.running:
        shared_http_server.start()
    shared_http_server.reset()
    return _one_alarm_store(shared_http_server.dsn())


@pytest.fixture(params=["chdb", "http"])
def dsn(request: pytest.FixtureRequest) -> str:
    """The module's store with one drift alarm: embedded chDB, or the HTTP fixture server."""
    return str(request.getfixturevalue(f"{request.param}_dsn"))


def _count(dsn: str, sql: str) -> int:
    with ClickHouseStore.open(dsn) as store:
        return int(store.query(sql).result_rows[0][0])


@pytest.mark.parametrize(
    "sql",
    [
        "DROP TABLE linewatch.drift_events",
        "DROP DATABASE linewatch",
        "INSERT INTO linewatch.dead_letters (reason) VALUES ('x')",
        "ALTER TABLE linewatch.drift_events DELETE WHERE 1",
        "TRUNCATE TABLE linewatch.drift_events",
        "CREATE TABLE linewatch.evil (x Int32) ENGINE = Memory",
        "SELECT * FROM file('/etc/passwd', 'LineAsString')",
        "SELECT * FROM url('http://127.0.0.1:1/x', 'LineAsString')",
        "SELECT 1 SETTINGS readonly = 0",
        "SELECT * FROM file('/etc/passwd', 'LineAsString') SETTINGS readonly = 2",
        "SET readonly = 0",
        "SELECT file('/etc/passwd')",
        "SELECT `file`('/etc/passwd') AS x",
        "SELECT length(file('/etc/passwd')) FROM drift_events",
        "DESCRIBE TABLE file('/etc/passwd', 'CSVWithNames')",
        "SELECT * FROM filesystem('/etc')",
        "SELECT * FROM view(SELECT * FROM file('/etc/passwd', 'LineAsString'))",
        "WITH (SELECT * FROM file('/etc/passwd', 'LineAsString') LIMIT 1) AS p SELECT p",
        "SELECT 1; SELECT file('/etc/passwd')",
        "SELECT * FROM s3('http://127.0.0.1:1/bucket/x.csv', 'CSV')",
        "SELECT * FROM remote('127.0.0.1:1', system.one)",
        "SELECT * FROM executable('id', 'TSV', 'x String')",
        "EXPLAIN SELECT * FROM file('/etc/passwd', 'LineAsString')",
    ],
)
def test_query_refuses_writes_ddl_and_table_functions(dsn: str, sql: str) -> None:
    result = runner.invoke(app, ["query", sql, "--store", dsn, "--format", "csv"])
    assert isinstance(result.exception, StoreError), result.output
    assert "refused" in str(result.exception)
    assert "root:" not in result.output
    assert _count(dsn, "SELECT count() FROM linewatch.drift_events") == 1
    assert _count(dsn, "SELECT count() FROM linewatch.dead_letters") == 0
    assert _count(dsn, "SELECT count() FROM system.tables WHERE name = 'evil'") == 0


@pytest.mark.parametrize(
    "template",
    [
        "INSERT INTO FUNCTION file('{target}', 'CSV', 'x String') SELECT 1 FROM drift_events",
        "SELECT drift_id FROM drift_events INTO OUTFILE '{target}'",
        "SELECT drift_id FROM drift_events INTO OUTFILE '{target}' FORMAT CSV",
    ],
)
def test_query_writes_no_file(dsn: str, tmp_path: Path, template: str) -> None:
    target = tmp_path / "leak.csv"
    result = runner.invoke(app, ["query", template.format(target=target), "--store", dsn])
    assert isinstance(result.exception, StoreError), result.output
    assert not target.exists()


@pytest.mark.parametrize(
    ("sql", "first_line"),
    [
        ("SELECT count() AS n FROM drift_events", "n"),
        ("SELECT count() AS n FROM drift_events;", "n"),
        ("SELECT count() AS n FROM linewatch.drift_events FINAL WHERE line_id = 'line-1'", "n"),
        ("WITH 2 AS k SELECT number * k AS n FROM numbers(3) UNION ALL SELECT 9", "n"),
        ("SELECT count() AS n FROM merge('linewatch', '^drift_events$')", "n"),
        ("SELECT length(format('{}-{}', 'a', 'b')) AS n", "n"),
        ("SHOW TABLES FROM linewatch LIKE 'drift%'", "name"),
        ("DESCRIBE TABLE drift_events", "name,type"),
        ("EXISTS TABLE linewatch.frames", "result"),
    ],
)
def test_reads_still_work(dsn: str, sql: str, first_line: str) -> None:
    result = runner.invoke(app, ["query", sql, "--store", dsn, "--format", "csv"])
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[0].startswith(first_line)


def test_csv_cells_cannot_drive_the_terminal(dsn: str) -> None:
    sql = "SELECT concat('a', char(27), ']0;x', char(7), char(10), 'b') AS x"
    result = runner.invoke(app, ["query", sql, "--store", dsn, "--format", "csv"])
    assert result.exit_code == 0, result.output
    assert result.stdout == 'x\n"a\\x1b]0;x\\x07\nb"\n'
    result = runner.invoke(app, ["query", sql, "--store", dsn, "--format", "json"])
    assert json.loads(result.stdout) == [{"x": "a\x1b]0;x\x07\nb"}]


def test_metrics_and_report_need_the_schema_and_never_apply_it(tmp_path: Path) -> None:
    dsn = f"chdb://{tmp_path / 'empty'}"
    for args in (["metrics", "--no-reconcile"], ["report", "--out", str(tmp_path / "r.html")]):
        result = runner.invoke(app, [*args, "--store", dsn])
        assert isinstance(result.exception, ConfigError), result.output
        assert "schema apply" in str(result.exception)
        assert not (tmp_path / "empty").exists(), "a read must not create the store"
    with ClickHouseStore.open(dsn) as store:
        assert store.applied_migrations() == {}


@pytest.mark.parametrize(
    "args",
    [
        ["query", "SELECT 1"],
        ["metrics"],
        ["estimate"],
        ["audit", "plan", "--budget", "1%"],
        ["lab", "list"],
    ],
)
def test_commands_that_need_a_store_never_create_one(args: list[str], tmp_path: Path) -> None:
    missing = tmp_path / "typo"
    result = runner.invoke(app, [*args, "--store", f"chdb://{missing}"])
    assert result.exit_code != 0, result.output
    said = " ".join(f"{result.exception} {result.output}".split())
    assert f"no store at {missing}" in said
    assert not missing.exists()


def test_read_only_user_is_told_to_skip_reconcile(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from streams.cli import options
    from tests.test_readiness_store import build_hand_case

    monkeypatch.setenv("LINEWATCH_INFERENCE__OPERATING_THRESHOLD", "0.5")
    dsn = f"chdb://{tmp_path / 'labelled'}"
    with ClickHouseStore.open(dsn) as store:
        store.apply_schema()
        build_hand_case(store)  # labels not yet reconciled
    real_open = options.open_store

    def as_reader(settings: object, **kwargs: bool) -> ClickHouseStore:  # a read-only user
        return real_open(settings, **{**kwargs, "readonly": True})  # type: ignore[arg-type]

    monkeypatch.setattr(options, "open_store", as_reader)
    result = runner.invoke(app, ["metrics", "--store", dsn])
    assert isinstance(result.exception, StoreError), result.output
    assert "--no-reconcile" in str(result.exception)
    result = runner.invoke(app, ["metrics", "--store", dsn, "--no-reconcile", "--format", "json"])
    assert result.exit_code == 0, result.output


def test_already_read_only_server_user(shared_http_server: ChdbHttpServer, http_dsn: str) -> None:
    """A server user that is read-only already (the deploy's reader) is not sent readonly=1
    again; the guard still refuses file() and writes for it."""
    writer_dsn = http_dsn
    reader_dsn = shared_http_server.dsn(READER)
    ok = runner.invoke(
        app,
        [
            "query",
            "SELECT count() AS n FROM drift_events",
            "--store",
            reader_dsn,
            "--format",
            "csv",
        ],
    )
    assert ok.exit_code == 0, ok.output
    assert ok.stdout.splitlines() == ["n", "1"]
    for sql in ("SELECT file('/etc/passwd')", "DROP TABLE linewatch.drift_events"):
        refused = runner.invoke(app, ["query", sql, "--store", reader_dsn])
        assert isinstance(refused.exception, StoreError), refused.output
    assert _count(writer_dsn, "SELECT count() FROM linewatch.drift_events") == 1
