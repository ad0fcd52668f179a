"""Masking never fails open: no DSN, parsed or not, shows its password.

``mask_dsn`` used to give up when the host part was no host name (a space, a comma, ``!``) and
printed the DSN whole; with ``@`` in the password, what followed it leaked. A password given in
``--store`` is visible to every local user in ``ps``: linewatch says so, once.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from streams.cli import app
from streams.errors import ConfigError
from streams.sinks.dsn import has_password, mask_dsn, parse_dsn
from tests.console import clean_env, run_linewatch

runner = CliRunner()

HEAD, TAIL = "Qx7", "Zk9"
"""Every generated password starts and ends with these: neither may appear masked."""

_PASSWORD_TEXT = st.text(alphabet="ab@:/#?%!, []*=&;\\'\"\t", max_size=12)
_HOST = st.text(alphabet="hc.1:[] ,!-_%/?#*'", min_size=0, max_size=14)
_SCHEMES = st.sampled_from(["http://", "https://", "HTTP://", "", "ftp://", "clickhouse://"])
_USER = st.text(alphabet="lwops-_.", max_size=6)


@settings(max_examples=400, deadline=None)
@given(scheme=_SCHEMES, user=_USER, middle=_PASSWORD_TEXT, host=_HOST, path=_HOST)
def test_no_dsn_shows_its_password(
    scheme: str, user: str, middle: str, host: str, path: str
) -> None:
    password = f"{HEAD}{middle}{TAIL}"
    dsn = f"{scheme}{user}:{password}@{host}{'/' + path if path else ''}"
    masked = mask_dsn(dsn)
    assert HEAD not in masked and TAIL not in masked, (dsn, masked)
    assert has_password(dsn)
    try:
        parsed = parse_dsn(dsn)
    except ConfigError as exc:
        assert HEAD not in str(exc) and TAIL not in str(exc)
    else:
        assert HEAD not in parsed.masked and HEAD not in repr(parsed)


@pytest.mark.parametrize(
    ("dsn", "masked"),
    [
        (
            "http://linewatch:TopSecret9@127.0.0.1 :8123/linewatch",
            "http://linewatch:***@127.0.0.1 :8123/linewatch",
        ),
        ("http://lw:TopSecret9@ch,2:8123", "http://lw:***@ch,2:8123"),
        ("http://lw:TopSecret9@ch!:8123", "http://lw:***@ch!:8123"),
        ("http://lw:Top@Secret9@ch host:8123", "http://lw:***@ch host:8123"),
        ("http://lw:Top@Sec/ret9@h:1", "http://lw:***@h:1"),
        ("http://lw:Top@Sec/ret@9@h x", "http://lw:***@h x"),
        ("http://lw:p@[::1:8123", "http://lw:***@[::1:8123"),
        ("http://lw:#?%/:@h", "http://lw:***@h"),
        ("http://lw:TopSecret9", "http://lw:***"),
        ("https://lw:TopSecret9/linewatch", "https://lw:***/linewatch"),
    ],
)
def test_unparsable_dsns_are_masked_to_the_last_at(dsn: str, masked: str) -> None:
    assert mask_dsn(dsn) == masked


@pytest.mark.parametrize(
    "dsn",
    [
        "http://linewatch:TopSecret9@127.0.0.1 :8123/linewatch",
        "http://linewatch:TopSecret9@ch,replica:8123/linewatch",
        "http://linewatch:TopSecret9@ch!:8123/linewatch",
        "http://linewatch:Top@Secret9@ch host:8123",
    ],
)
def test_a_bad_host_is_one_error_line_without_the_password(dsn: str, tmp_path: Path) -> None:
    for env, args in (
        (clean_env(LINEWATCH_STORE__DSN=dsn), ["query", "SELECT 1"]),
        (clean_env(), ["query", "SELECT 1", "--store", dsn]),
    ):
        done = run_linewatch(args, env=env, cwd=tmp_path)
        assert done.returncode == 2, done.stderr
        assert "TopSecret9" not in done.stdout + done.stderr
        assert "Secret9" not in done.stdout + done.stderr
        errors = [line for line in done.stderr.splitlines() if line.startswith("error:")]
        assert len(errors) == 1, done.stderr
        assert "host" in errors[0]


def test_store_option_with_a_password_warns_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("streams.cli.options._warned_password", [])  # once per process
    dsn = "http://lw:TopSecret9@127.0.0.1:1/linewatch"
    result = runner.invoke(app, ["query", "SELECT 1", "--store", dsn])
    assert result.exit_code != 0
    warnings = [line for line in result.output.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 1, result.output
    assert "LINEWATCH_STORE__PASSWORD" in warnings[0] and "ps" in warnings[0]
    assert "TopSecret9" not in result.output


def test_store_option_without_a_password_does_not_warn(tmp_path: Path) -> None:
    dsn = f"chdb://{tmp_path / 's'}"
    assert runner.invoke(app, ["schema", "apply", "--store", dsn]).exit_code == 0
    result = runner.invoke(app, ["query", "SELECT 1", "--store", dsn])
    assert result.exit_code == 0, result.output
    assert "warning:" not in result.output
    assert not has_password("http://lw@h:8123/linewatch")
