"""Reads have limits, and Ctrl-C stops them.

``linewatch query`` ran with ``max_execution_time`` and ``max_memory_usage`` 0: ``SELECT count()
FROM numbers(1e12)`` ran 10 minutes holding the chDB store's lock, and Ctrl-C did nothing until
SIGKILL. Reads now run with ``LINEWATCH_STORE__READ_MAX_EXECUTION_TIME_S`` and
``LINEWATCH_STORE__READ_MAX_MEMORY_BYTES``, and Ctrl-C ends the command at once.
"""

from __future__ import annotations

import fcntl
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from streams.cli import app
from streams.config import Settings
from streams.errors import StoreError
from streams.sinks.chdb_lock import LOCK_FILE
from streams.sinks.clickhouse import ClickHouseStore
from tests.console import LINEWATCH, clean_env

runner = CliRunner()

ENDLESS = [
    "SELECT count() FROM numbers(1e12)",
    "SELECT sum(number) FROM numbers_mt(1000000000000)",
    "SELECT count() FROM system.numbers WHERE number % 7 = 8",
]


@pytest.fixture
def chdb_dsn(tmp_path: Path) -> str:
    dsn = f"chdb://{tmp_path / 'store'}"
    with ClickHouseStore.open(dsn) as store:
        store.apply_schema()
    return dsn


def _lock_is_free(path: Path) -> bool:
    fd = os.open(path / LOCK_FILE, os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    finally:
        os.close(fd)
    return True


@pytest.mark.parametrize("sql", ENDLESS)
def test_ctrl_c_cancels_a_query_and_releases_the_store(
    chdb_dsn: str, tmp_path: Path, sql: str
) -> None:
    path = Path(chdb_dsn.removeprefix("chdb://"))
    env = clean_env(LINEWATCH_STORE__READ_MAX_EXECUTION_TIME_S="600")
    proc = subprocess.Popen(
        [LINEWATCH, "query", sql, "--store", chdb_dsn],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # the store is open: the query starts next
            if (path / LOCK_FILE).read_text().strip() == str(proc.pid):
                break
            time.sleep(0.05)
        time.sleep(1.0)
        assert proc.poll() is None, proc.communicate()
        assert not _lock_is_free(path)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=15)  # the query alone would run for minutes
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 130, err
    assert "interrupted" in err and "Traceback" not in err
    assert _lock_is_free(path)


def test_a_query_over_the_time_limit_is_one_error_line(
    chdb_dsn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LINEWATCH_STORE__READ_MAX_EXECUTION_TIME_S", "1")
    result = runner.invoke(app, ["query", ENDLESS[0], "--store", chdb_dsn])
    assert isinstance(result.exception, StoreError), result.output
    message = str(result.exception)
    assert "TIMEOUT_EXCEEDED" in message and "READ_MAX_EXECUTION_TIME_S" in message


def test_a_query_over_the_memory_limit_is_one_error_line(
    chdb_dsn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LINEWATCH_STORE__READ_MAX_MEMORY_BYTES", str(64 * 1024**2))
    sql = "SELECT length(groupArray(number)) FROM numbers(100000000)"
    result = runner.invoke(app, ["query", sql, "--store", chdb_dsn])
    assert isinstance(result.exception, StoreError), result.output
    message = str(result.exception)
    assert "MEMORY_LIMIT_EXCEEDED" in message and "READ_MAX_MEMORY_BYTES" in message


def test_read_limits_have_defaults_real_queries_fit() -> None:
    store = Settings().store
    assert store.read_max_execution_time_s == 300
    assert store.read_max_memory_bytes == 4 * 1024**3


def test_every_read_connection_runs_with_the_limits(
    store_dsn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``query`` on both store paths: the connection's own settings carry the limits."""
    with ClickHouseStore.open(store_dsn) as store:
        store.apply_schema()
    monkeypatch.setenv("LINEWATCH_STORE__READ_MAX_EXECUTION_TIME_S", "123")
    monkeypatch.setenv("LINEWATCH_STORE__READ_MAX_MEMORY_BYTES", "987654321")
    sql = (
        "SELECT name, value FROM system.settings WHERE name IN "
        "('max_execution_time', 'max_memory_usage', 'readonly') ORDER BY name"
    )
    result = runner.invoke(app, ["query", sql, "--store", store_dsn, "--format", "csv"])
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[1:] == [
        "max_execution_time,123",
        "max_memory_usage,987654321",
        "readonly,1",
    ]
