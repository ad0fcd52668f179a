"""No command output and no worker log shows a password: every DSN goes through ``mask_dsn``.

The commands run as the installed console script (as a user runs them), against a ClickHouse
DSN whose port nobody listens on, so each of them reaches the point where it names the store.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from streams.config import Settings
from streams.errors import ConfigError
from streams.sinks.clickhouse import ClickHouseStore
from streams.sinks.dsn import mask_dsn, parse_dsn
from tests.console import run_linewatch
from tests.worker_harness import free_port

PASSWORD = "p/a#s?s@w:o%rd"
"""A store password with every character that breaks naive URL parsing."""
KAFKA_PASSWORD = "kafka-S3cret-pw"
STORE_PASSWORD = "store-S3cret-pw"
SECRETS = (PASSWORD, KAFKA_PASSWORD, STORE_PASSWORD, "s?s@w", "a#s")


@pytest.mark.parametrize(
    ("dsn", "masked"),
    [
        (f"http://lw:{PASSWORD}@ch.local:8123/linewatch", "http://lw:***@ch.local:8123/linewatch"),
        (f"https://lw:{PASSWORD}@ch.local", "https://lw:***@ch.local"),
        (f"http://lw:{PASSWORD}@[::1]:8123", "http://lw:***@[::1]:8123"),
        ("http://lw:a%40b@h:1/linewatch", "http://lw:***@h:1/linewatch"),
        ("http://lw@h:1", "http://lw@h:1"),
        ("http://h:1/linewatch", "http://h:1/linewatch"),
        (f"lw:{PASSWORD}@h:1", "lw:***@h:1"),
        ("chdb:///var/lib/linewatch", "chdb:///var/lib/linewatch"),
    ],
)
def test_mask_dsn(dsn: str, masked: str) -> None:
    assert mask_dsn(dsn) == masked


def test_parse_dsn_keeps_any_password() -> None:
    d = parse_dsn(f"http://lw:{PASSWORD}@ch.local:8123/linewatch")
    assert (d.username, d.host, d.port) == ("lw", "ch.local", 8123)
    assert d.password == PASSWORD  # '%rd' is no percent-escape: kept as written
    assert parse_dsn("http://lw:a%40b@h:1").password == "a@b"
    assert PASSWORD not in d.masked and PASSWORD not in repr(d)


def test_settings_never_show_secrets() -> None:
    s = Settings(
        store={"dsn": f"http://lw:{PASSWORD}@h:1/linewatch", "password": STORE_PASSWORD},
        kafka={"sasl_password": KAFKA_PASSWORD},
    )
    dumped = str(s.as_dict()) + repr(s) + str(s)
    assert not [secret for secret in SECRETS if secret in dumped]
    with pytest.raises(ConfigError) as bad:
        Settings(
            store={
                "dsn": f"ftp://lw:{PASSWORD}@h:1",
                "password": STORE_PASSWORD,
                "read_max_memory_bytes": -1,
            }
        )
    assert not [secret for secret in SECRETS if secret in str(bad.value)]
    assert "lw:***@h:1" in str(bad.value)


def _env(tmp_path: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        LINEWATCH_STORE__DSN=f"http://lw:{PASSWORD}@127.0.0.1:{free_port()}/linewatch",
        LINEWATCH_KAFKA__SASL_PASSWORD=KAFKA_PASSWORD,
        LINEWATCH_WORKER__DATA_DIR=str(tmp_path / "faust"),
        LINEWATCH_WORKER__WEB_PORT=str(free_port()),
        PYTHONUNBUFFERED="1",
    )
    return env


COMMANDS = [
    ["schema", "apply"],
    ["query", "SELECT 1"],
    ["drift"],
    ["metrics"],
    ["metrics", "--no-reconcile"],
    ["report", "--out", "r.html"],
    ["assess", "--frames", "1"],
    ["run", "--source", "simulate:production?events=1"],
    ["worker"],
]


@pytest.mark.parametrize("args", COMMANDS, ids=lambda a: " ".join(a[:2]))
def test_no_command_shows_a_password(args: list[str], tmp_path: Path) -> None:
    done = run_linewatch(args, env=_env(tmp_path), cwd=tmp_path)
    output = done.stdout + done.stderr
    assert done.returncode == 2, output
    assert "lw:***@127.0.0.1" in output  # the store is named, masked
    assert not [secret for secret in SECRETS if secret in output], output
    errors = [line for line in output.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "Traceback" not in output, output


def test_store_password_variable_is_never_shown(tmp_path: Path) -> None:
    env = _env(tmp_path)
    env["LINEWATCH_STORE__DSN"] = env["LINEWATCH_STORE__DSN"].replace(f"lw:{PASSWORD}@", "lw@")
    env["LINEWATCH_STORE__PASSWORD"] = STORE_PASSWORD
    done = run_linewatch(["query", "SELECT 1"], env=env, cwd=tmp_path)
    output = done.stdout + done.stderr
    assert done.returncode == 2 and "lw@127.0.0.1" in output, output
    assert not [secret for secret in SECRETS if secret in output], output


@pytest.mark.parametrize(
    "args",
    [["schema", "apply"], ["query", "SELECT count() FROM frames"], ["metrics", "--format", "json"]],
    ids=lambda a: a[0],
)
def test_successful_commands_on_a_server_show_no_password(
    args: list[str], http_store_dsn: str, tmp_path: Path
) -> None:
    from tests.store_fixtures import WRITER

    with ClickHouseStore.open(http_store_dsn) as store:
        store.apply_schema()
    env = _env(tmp_path)
    env["LINEWATCH_STORE__DSN"] = http_store_dsn
    done = run_linewatch([*args, "--store", http_store_dsn], env=env, cwd=tmp_path)
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    assert WRITER[1] not in output and KAFKA_PASSWORD not in output, output
    if args[0] == "schema":
        assert f"{WRITER[0]}:***@127.0.0.1" in output
