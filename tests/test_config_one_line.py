"""Every configuration error is one ``error:`` line and exit 2, never a traceback.

A NUL character in any setting (an image root, a line name, a path) and a DSN that does not
parse (``[::1`` without its bracket, a port out of range) used to raise past the settings'
handlers (exit 1 with a traceback, or later, in the middle of a run).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import BaseModel, field_validator

from streams.config import Settings
from streams.config_messages import settings_error
from streams.errors import InvalidSettings
from tests.console import clean_env, run_linewatch

BAD_ENV = [
    ({"LINEWATCH_INGEST__IMAGE_ROOTS": '["/data/a\\u0000b"]'}, "LINEWATCH_INGEST__IMAGE_ROOTS"),
    ({"LINEWATCH_INGEST__IMAGE_ROOTS": '["/data", "/x\\u0000"]'}, "LINEWATCH_INGEST__IMAGE_ROOTS"),
    ({"LINEWATCH_PLANT__LINES": '{"line\\u00001": {}}'}, "LINEWATCH_PLANT__LINES"),
    (
        {"LINEWATCH_PLANT__SHIFTS": '[{"name": "d\\u0000", "start": "06:00"}]'},
        "LINEWATCH_PLANT__SHIFTS",
    ),
    ({"LINEWATCH_PLANT__LIGHTING_BUCKET_NAMES": '["a\\u0000"]'}, "LINEWATCH_PLANT__LIGHTING"),
    ({"LINEWATCH_STORE__DSN": "http://lw@[::1:8123/linewatch"}, "LINEWATCH_STORE__DSN"),
    ({"LINEWATCH_STORE__DSN": "http://lw@[::1/linewatch"}, "LINEWATCH_STORE__DSN"),
    ({"LINEWATCH_STORE__DSN": "https://lw@::1]:8443"}, "LINEWATCH_STORE__DSN"),
    ({"LINEWATCH_STORE__DSN": "http://lw@h:99999/linewatch"}, "LINEWATCH_STORE__DSN"),
    ({"LINEWATCH_STORE__DSN": "http://lw@h:port/linewatch"}, "LINEWATCH_STORE__DSN"),
    ({"LINEWATCH_STORE__DSN": "http://lw:pw@h h:8123"}, "LINEWATCH_STORE__DSN"),
]


@pytest.mark.parametrize(("env", "variable"), BAD_ENV)
def test_bad_setting_is_one_error_line(env: dict[str, str], variable: str, tmp_path: Path) -> None:
    for args in (["query", "SELECT 1"], ["metrics"]):
        done = run_linewatch(args, env=clean_env(**env), cwd=tmp_path)
        assert done.returncode == 2, done.stderr
        assert "Traceback" not in done.stderr
        lines = [line for line in done.stderr.splitlines() if line.strip()]
        assert len(lines) == 1 and lines[0].startswith("error: "), done.stderr
        assert variable in lines[0]
        assert "\x00" not in lines[0]


@pytest.mark.parametrize(
    "dsn", ["http://lw@[::1:8123/linewatch", "http://lw@h:70000", "chdb:///tmp/a\x00b"]
)
def test_bad_store_option_is_one_error_line(dsn: str, tmp_path: Path) -> None:
    if "\x00" in dsn:  # no argv can hold NUL: the option path is checked in-process
        with pytest.raises(InvalidSettings) as bad:
            Settings(store={"dsn": dsn})
        assert "\n" not in str(bad.value) and "NUL" in str(bad.value)
        return
    done = run_linewatch(["query", "SELECT 1", "--store", dsn], env=clean_env(), cwd=tmp_path)
    assert done.returncode == 2, done.stderr
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), done.stderr
    assert "LINEWATCH_STORE__DSN" in lines[0]


def test_nul_in_any_group_is_refused_in_process() -> None:
    for group, values in (
        ("ingest", {"image_roots": ["/ok", "/a\x00"]}),
        ("inference", {"model": "/m\x00.onnx"}),
        ("kafka", {"bootstrap": "k\x00:9092"}),
        ("drift", {"reference": "/r\x00.json"}),
        ("worker", {"data_dir": "/w\x00"}),
    ):
        with pytest.raises(InvalidSettings) as bad:
            Settings(**{group: values})
        assert "NUL" in str(bad.value) and "\n" not in str(bad.value), group


class _Raising(BaseModel):
    x: int = 0

    @field_validator("x")
    @classmethod
    def _boom(cls, value: int) -> int:
        raise TypeError("a validator's\ntype error")


def test_any_value_or_type_error_of_a_validator_is_one_line() -> None:
    for exc in (TypeError("bad\ntype"), ValueError("bad\n  value")):
        made = settings_error(exc)
        assert isinstance(made, InvalidSettings) and "\n" not in str(made)
    with pytest.raises(TypeError) as raised:
        _Raising(x=1)
    assert "\n" not in str(settings_error(raised.value))
