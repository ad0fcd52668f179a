"""``linewatch schema apply``, ``query`` and ``drift`` through Typer's CliRunner."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from streams.cli import app
from streams.cli.store import parse_params, parse_since
from streams.errors import ConfigError, StoreError, StoreUnavailable
from streams.sinks.clickhouse import ClickHouseStore
from streams.sinks.migrations import load_migrations
from tests.test_store_samples import drift

runner = CliRunner()


@pytest.fixture
def dsn(store_dsn: str) -> str:
    """A store with the schema and four drift alarms on two lines (chdb:// and http://)."""
    dsn = store_dsn
    with ClickHouseStore.open(dsn) as store:
        store.apply_schema()
        store.insert(
            [
                drift(1, line="line-1", minutes=0),
                drift(2, line="line-1", minutes=20),
                drift(3, line="line-2", minutes=40, cause="camera"),
                drift(4, line="line-1", minutes=60),
            ]
        )
    return dsn


def test_schema_apply_twice(store_dsn: str) -> None:
    dsn = store_dsn
    names = [m.name for m in load_migrations()]
    first = runner.invoke(app, ["schema", "apply", "--store", dsn])
    assert first.exit_code == 0, first.output
    assert [line.split()[1] for line in first.stdout.splitlines()[:-1]] == names
    assert f"{len(names)} newly applied" in first.stdout
    second = runner.invoke(app, ["schema", "apply", "--store", dsn])
    assert second.exit_code == 0, second.output
    assert "applied 0" not in second.stdout and "0 newly applied" in second.stdout


def test_store_defaults_to_linewatch_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LINEWATCH_STORE__DSN", f"chdb://{tmp_path / 'from-env'}")
    result = runner.invoke(app, ["schema", "apply"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "from-env" / "linewatch.lock").exists()


def test_query_json_with_params(dsn: str) -> None:
    result = runner.invoke(
        app,
        [
            "query",
            "SELECT drift_id, detected_at, events_in_slice FROM drift_events "
            "WHERE line_id = {line:String} AND events_in_slice > {n:UInt64} ORDER BY drift_id",
            "--store",
            dsn,
            "--param",
            "line=line-1",
            "-p",
            "n=121",
            "--format",
            "json",
        ],
    )
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert rows == [
        {
            "drift_id": "drift-line-1-2",
            "detected_at": "2024-05-01T06:20:00.123000+00:00",
            "events_in_slice": 122,
        },
        {
            "drift_id": "drift-line-1-4",
            "detected_at": "2024-05-01T07:00:00.123000+00:00",
            "events_in_slice": 124,
        },
    ]


def test_query_csv_and_table(dsn: str) -> None:
    sql = "SELECT line_id, count() AS n FROM drift_events GROUP BY line_id ORDER BY line_id"
    result = runner.invoke(app, ["query", sql, "--store", dsn, "--format", "csv"])
    assert result.exit_code == 0, result.output
    assert list(csv.reader(io.StringIO(result.stdout))) == [
        ["line_id", "n"],
        ["line-1", "3"],
        ["line-2", "1"],
    ]
    table = runner.invoke(app, ["query", sql, "--store", dsn])
    assert table.exit_code == 0, table.output
    assert "line_id" in table.stdout and "line-2" in table.stdout
    assert table.stdout.rstrip().endswith("2 rows")


def test_query_errors_are_linewatch_errors(dsn: str) -> None:
    bad_sql = runner.invoke(app, ["query", "SELEC 1", "--store", dsn])
    assert isinstance(bad_sql.exception, StoreError)
    bad_param = runner.invoke(app, ["query", "SELECT 1", "--store", dsn, "-p", "oops"])
    assert isinstance(bad_param.exception, ConfigError)
    down = runner.invoke(app, ["query", "SELECT 1", "--store", "http://u:pw@127.0.0.1:1"])
    assert isinstance(down.exception, StoreUnavailable)
    assert "pw@" not in str(down.exception)


def test_drift_filters_by_line_and_since(dsn: str) -> None:
    def ids(*args: str) -> list[str]:
        result = runner.invoke(app, ["drift", "--store", dsn, "--format", "json", *args])
        assert result.exit_code == 0, result.output
        return [row["drift_id"] for row in json.loads(result.stdout)]

    assert ids() == ["drift-line-1-4", "drift-line-2-3", "drift-line-1-2", "drift-line-1-1"]
    assert ids("--line", "line-1") == ["drift-line-1-4", "drift-line-1-2", "drift-line-1-1"]
    assert ids("--line", "line-1", "--since", "2024-05-01T08:10:00+02:00") == [
        "drift-line-1-4",
        "drift-line-1-2",
    ]
    assert ids("--since", "2024-05-01 06:30") == ["drift-line-1-4", "drift-line-2-3"]
    assert ids("--limit", "1") == ["drift-line-1-4"]
    assert ids("--line", "line-1' OR '1'='1") == []
    table = runner.invoke(app, ["drift", "--store", dsn, "--line", "line-2"])
    assert table.exit_code == 0, table.output
    assert "drift-line-2-3" in table.stdout and "1 row" in table.stdout


def test_drift_lists_causes_filters_by_cause_and_says_whom_to_call(dsn: str) -> None:
    result = runner.invoke(app, ["drift", "--store", dsn, "--format", "json", "--cause", "camera"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert [(r["drift_id"], r["cause"]) for r in rows] == [("drift-line-2-3", "camera")]
    assert rows[0]["evidence"] == "camera signals moved"
    table = runner.invoke(app, ["drift", "--store", dsn])
    assert "by cause" in table.stdout and "whom to call" in table.stdout
    assert "maintenance (camera" in table.stdout and "maintenance (lamps" in table.stdout
    bad = runner.invoke(app, ["drift", "--store", dsn, "--cause", "weather"])
    assert isinstance(bad.exception, ConfigError) and "not one of" in str(bad.exception)


def test_drift_rejects_a_bad_since(dsn: str) -> None:
    result = runner.invoke(app, ["drift", "--store", dsn, "--since", "yesterday"])
    assert isinstance(result.exception, ConfigError)
    assert "ISO-8601" in str(result.exception)


def test_param_and_since_parsing() -> None:
    assert parse_params(["a=1", "b=x=y", "c="]) == {"a": "1", "b": "x=y", "c": ""}
    with pytest.raises(ConfigError, match="name=value"):
        parse_params(["=1"])
    assert parse_since("2024-05-01T06:00:00Z").isoformat() == "2024-05-01T06:00:00+00:00"
