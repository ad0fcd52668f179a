"""Every invalid ``LINEWATCH_*`` value is one ``error:`` line (variable, value, what is allowed)
and exit status 2, from the console entry point; no pydantic traceback."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from streams.cli import main
from tests.console import clean_env, run_linewatch

# (variable, bad value, words the one error line must hold besides the variable)
BAD_VALUES = [
    ("LINEWATCH_WORKER__WEB_PORT", "-1", ["-1", "greater than or equal to 1"]),
    ("LINEWATCH_WORKER__WEB_PORT", "70000", ["70000", "less than or equal to 65535"]),
    ("LINEWATCH_WORKER__WEB_PORT", "web", ["web", "valid integer"]),
    ("LINEWATCH_INFERENCE__REVIEW_BAND", "[0.9, 0.1]", ["0.9", "low < high"]),
    ("LINEWATCH_INFERENCE__REVIEW_BAND", "[0.5, 1.5]", ["1.5", "high <= 1"]),
    ("LINEWATCH_PLANT__BRIGHTNESS_BUCKET_EDGES", "[0.61, 0.30, 0.18]", ["0.61", "increasing"]),
    ("LINEWATCH_PLANT__BRIGHTNESS_BUCKET_EDGES", "[0.2, 0.5, 3]", ["3", "within 0..1"]),
    ("LINEWATCH_PLANT__LUX_BUCKET_EDGES", "[400, 200, 900]", ["400", "increasing"]),
    (
        "LINEWATCH_READINESS",
        '{"max_fpr": -3}',
        ["_READINESS__MAX_FPR=-3", "greater than or equal to 0"],
    ),
    ("LINEWATCH_READINESS__MAX_FPR", "-3", ["-3", "greater than or equal to 0"]),
    ("LINEWATCH_ESTIMATION__DRAWS", "-1", ["-1", "greater than or equal to 0"]),
    ("LINEWATCH_READINESS", '{"max_fnr_per_class": 2}', ["2", "less than or equal to 1"]),
    (
        "LINEWATCH_READINESS",
        '{"max_fpr": 0.1, "typo": 1}',
        ["_READINESS__TYPO", "not a setting", "max_fpr"],
    ),
    (
        "LINEWATCH_WORKER__TAKE_MAX_EVENTS_TYPO",
        "1",
        ["not a setting", "did you mean LINEWATCH_WORKER__TAKE_MAX_EVENTS?"],
    ),
    # a setting that lives in another group is named there
    ("LINEWATCH_STORE__FLUSH_ROWS", "5", ["set LINEWATCH_CHECKPOINT__FLUSH_ROWS"]),
    ("LINEWATCH_WORKER__WRITE_ATTEMPTS", "5", ["set LINEWATCH_CHECKPOINT__WRITE_ATTEMPTS"]),
    ("LINEWATCH_CHECKPOINT__FLUSH_INTERVAL_S", "inf", ["inf", "finite"]),
    ("LINEWATCH_CHECKPOINT__FLUSH_INTERVAL_S", "nan", ["nan", "finite"]),
    ("LINEWATCH_CHECKPOINT__FLUSH_INTERVAL_S", "0", ["0", "greater than 0"]),
    ("LINEWATCH_DRIFT__SLICE_IDLE_S", "-inf", ["-inf", "finite"]),
    ("LINEWATCH_CHECKPOINT__FLUSH_ROWS", "0", ["0", "greater than 0"]),
    ("LINEWATCH_WORKER__TAKE_MAX_EVENTS", "1e9", ["1e9", "integer"]),
    ("LINEWATCH_INFERENCE__THREADS", "0", ["0", "greater than 0"]),
    ("LINEWATCH_INFERENCE__PROVIDERS", '["CPU"]', ["CPU", "execution provider"]),
    ("LINEWATCH_WORKER__TAKE_WINDOW_S", "-1", ["-1", "greater than 0"]),
    ("LINEWATCH_DRIFT__MAX_SLICES", "-5", ["-5", "greater than 0"]),
    ("LINEWATCH_INGEST__MAX_IMAGE_BYTES", "0", ["0", "greater than 0"]),
    ("LINEWATCH_INFERENCE__OPERATING_THRESHOLD", "1.5", ["1.5", "less than or equal to 1"]),
    ("LINEWATCH_INFERENCE__STORE_SCORE_FLOOR", "-0.1", ["-0.1", "greater than or equal to 0"]),
    ("LINEWATCH_DRIFT__FALSE_ALARMS_PER_EVENT", "2", ["2", "less than 1"]),
    ("LINEWATCH_DRIFT__WARMUP_EVENTS", "-1", ["-1", "greater than or equal to 0"]),
    ("LINEWATCH_DRIFT__GAP_WINDOW_EVENTS", "0", ["0", "greater than 0"]),
    ("LINEWATCH_KAFKA__TOPIC_PARTITIONS", "0", ["0", "greater than 0"]),
    ("LINEWATCH_KAFKA__TOPIC_REPLICATION", "0", ["0", "greater than 0"]),
    ("LINEWATCH_KAFKA__TOPIC_EVENTS", "camera events", ["camera events", "topic name"]),
    ("LINEWATCH_WORKER__APP_ID", "", ["at least 1 character"]),
    ("LINEWATCH_WORKER__DATA_DIR", "", ["at least 1 character"]),
    ("LINEWATCH_STORE__DSN", "ftp://u:pw@h", ["ftp://u:***@h", "chdb://PATH"]),
    ("LINEWATCH_KAFKA__BOOTSTRAP", "kafka", ["kafka", "host:port"]),
    ("LINEWATCH_KAFKA__BOOTSTRAP", "k:99999", ["99999", "1..65535"]),
    ("LINEWATCH_KAFKA__SECURITY_PROTOCOL", "TLS", ["TLS", "SASL_SSL"]),
    ("LINEWATCH_KAFKA__SASL_MECHANISM", "MD5", ["MD5", "SCRAM-SHA-512"]),
    ("LINEWATCH_PLANT__TIMEZONE", "Mars/Base", ["Mars/Base", "IANA"]),
    ("LINEWATCH_PLANT__LINES", "{}", ["{}", "at least one line"]),
    ("LINEWATCH_PLANT__LINES", '{"line-1": {"takt_units_per_minute": 0}}', ["0", "greater than 0"]),
    ("LINEWATCH_PLANT__LINES", "{not json", ["not valid JSON"]),
    ("LINEWATCH_PLANT__SHIFTS", "[]", ["[]", "at least one shift"]),
    (
        "LINEWATCH_PLANT__SHIFTS",
        '[{"name": "a", "start": "06:00"}, {"name": "a", "start": "18:00"}]',
        ["distinct"],
    ),
    ("LINEWATCH_PLANT__SHIFTS", '[{"name": "day", "start": "25:00"}]', ["25:00", "time"]),
    ("LINEWATCH_PLANT__LIGHTING_BUCKET_NAMES", '["a", "a", "b", "c"]', ["distinct"]),
    ("LINEWATCH_INFERENCE__MODEL", "", ["at least 1 character"]),
]

# cross-field checks: (environment, words the error line must hold)
CROSS_FIELD = [
    (
        {
            "LINEWATCH_INFERENCE__STORE_SCORE_FLOOR": "0.6",
            "LINEWATCH_INFERENCE__OPERATING_THRESHOLD": "0.5",
        },
        [
            "LINEWATCH_INFERENCE__STORE_SCORE_FLOOR=0.6",
            "LINEWATCH_INFERENCE__OPERATING_THRESHOLD=0.5",
        ],
    ),
    (
        {"LINEWATCH_KAFKA__SASL_MECHANISM": "PLAIN"},
        ["LINEWATCH_KAFKA__SASL_MECHANISM=PLAIN", "LINEWATCH_KAFKA__SECURITY_PROTOCOL"],
    ),
    (
        {"LINEWATCH_KAFKA__SECURITY_PROTOCOL": "SASL_SSL"},
        ["LINEWATCH_KAFKA__SASL_USERNAME", "LINEWATCH_KAFKA__SASL_PASSWORD"],
    ),
    (
        {"LINEWATCH_PLANT__LIGHTING_BUCKET_NAMES": '["a", "b", "c"]'},
        ["LINEWATCH_PLANT__LIGHTING_BUCKET_NAMES", "LINEWATCH_PLANT__LUX_BUCKET_EDGES", "2 edges"],
    ),
]


def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("LINEWATCH_"):
            monkeypatch.delenv(name)


def _run_main(
    env: dict[str, str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> tuple[int, str]:
    _clean_env(monkeypatch)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(sys, "argv", ["linewatch", "query", "SELECT 1"])
    with pytest.raises(SystemExit) as exited:
        main()
    captured = capsys.readouterr()
    return int(exited.value.code or 0), captured.out + captured.err


def _one_error_line(output: str) -> str:
    lines = [line for line in output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), output
    assert "Traceback" not in output and "validation error" not in output, output
    return lines[0]


@pytest.mark.parametrize(("variable", "value", "words"), BAD_VALUES)
def test_bad_value_is_one_error_line(
    variable: str,
    value: str,
    words: list[str],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, output = _run_main({variable: value}, monkeypatch, capsys)
    assert code == 2, output
    line = _one_error_line(output)
    assert variable in line
    for word in words:
        assert word in line, line


@pytest.mark.parametrize(("env", "words"), CROSS_FIELD)
def test_cross_field_checks(
    env: dict[str, str],
    words: list[str],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, output = _run_main(env, monkeypatch, capsys)
    assert code == 2, output
    line = _one_error_line(output)
    for word in words:
        assert word in line, line


def test_several_bad_values_are_still_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    env = {"LINEWATCH_WORKER__WEB_PORT": "-1", "LINEWATCH_INFERENCE__REVIEW_BAND": "[0.9, 0.1]"}
    code, output = _run_main(env, monkeypatch, capsys)
    line = _one_error_line(output)
    assert (
        code == 2
        and "LINEWATCH_WORKER__WEB_PORT" in line
        and "LINEWATCH_INFERENCE__REVIEW_BAND" in line
    )


@pytest.mark.parametrize(
    ("args", "variable"),
    [
        (["worker"], "LINEWATCH_WORKER__WEB_PORT"),
        (["detect", "--source", "-", "--out", "-"], "LINEWATCH_WORKER__WEB_PORT"),
        (["worker", "--web-port", "0"], "LINEWATCH_WORKER__WEB_PORT=0 (given as an option)"),
    ],
)
def test_console_script(args: list[str], variable: str, tmp_path: Path) -> None:
    env = clean_env(LINEWATCH_WORKER__WEB_PORT="-1" if "--web-port" not in args else "6066")
    done = run_linewatch(args, env=env, cwd=tmp_path)
    assert done.returncode == 2, done.stdout + done.stderr
    assert variable in _one_error_line(done.stdout + done.stderr)


# a bad Kafka bootstrap list: (value, words of the error line); it is no secret, so the value is
# shown as given (never half masked as if ``host:abc`` were ``user:password``)
BAD_BOOTSTRAPS = [
    ("host:abc", ["LINEWATCH_KAFKA__BOOTSTRAP='host:abc' is invalid", "e.g. 127.0.0.1:9092"]),
    ("a:1,b:x", ["LINEWATCH_KAFKA__BOOTSTRAP='a:1,b:x' is invalid", "'b:x' is not host:port"]),
    ("notahost", ["LINEWATCH_KAFKA__BOOTSTRAP='notahost' is invalid", "e.g. 127.0.0.1:9092"]),
    ("", ["LINEWATCH_KAFKA__BOOTSTRAP='' is invalid", "give host:port"]),
    ("::1:9092", ["'::1:9092' is invalid", "IPv6 address in brackets, e.g. [::1]:9092"]),
    ("[::1:9092", ["'[::1:9092' is invalid", "IPv6 address in brackets"]),
    ("[::1]:1", ["cannot reach Kafka at [::1]:1", "LINEWATCH_KAFKA__BOOTSTRAP"]),
]


@pytest.mark.parametrize(("value", "words"), BAD_BOOTSTRAPS)
def test_bad_bootstrap_is_shown_as_given_and_creates_nothing(
    value: str,
    words: list[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    _clean_env(monkeypatch)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("LINEWATCH_KAFKA__BOOTSTRAP", value)
    monkeypatch.setattr(sys, "argv", ["linewatch", "worker"])
    with pytest.raises(SystemExit) as exited:
        main()
    captured = capsys.readouterr()
    line = _one_error_line(captured.out + captured.err)
    assert exited.value.code == 2 and "***" not in line, line
    for word in words:
        assert word in line, line
    assert list(tmp_path.iterdir()) == []  # no store, no data directory


def test_secret_settings_stay_hidden_in_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    from streams.config import Settings
    from streams.errors import ConfigError

    _clean_env(monkeypatch)
    monkeypatch.setenv("LINEWATCH_STORE__DSN", "ftp://u:TopSecret9@h")
    with pytest.raises(ConfigError) as bad:
        Settings(kafka={"sasl_password": 987654321, "bootstrap": "h:x"})
    line = str(bad.value)
    assert "TopSecret9" not in line and "987654321" not in line, line
    for shown in ("SASL_PASSWORD='***'", "DSN='ftp://u:***@h'", "BOOTSTRAP='h:x' (given"):
        assert shown in line, line
