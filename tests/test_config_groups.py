"""Settings grouped by concern: ``LINEWATCH_<GROUP>__<NAME>`` variables, a group as one JSON
object, variables that name no setting, validated overrides."""

from __future__ import annotations

import logging
import os
import warnings

import pytest

from streams.cli.options import settings_with
from streams.config import Settings
from streams.errors import InvalidSettings


@pytest.fixture(autouse=True)
def _no_linewatch_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("LINEWATCH_"):
            monkeypatch.delenv(name)


def _read(env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> tuple[Settings, list[str]]:
    """Settings read from ``env``, and any DeprecationWarning that reading gave (none expected)."""
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        settings = Settings()
    return settings, [str(w.message) for w in caught if issubclass(w.category, DeprecationWarning)]


def test_new_names_are_read_into_their_group(monkeypatch: pytest.MonkeyPatch) -> None:
    env = {
        "LINEWATCH_STORE__DSN": "chdb:///tmp/new-store",
        "LINEWATCH_CHECKPOINT__FLUSH_ROWS": "123",
        "LINEWATCH_KAFKA__TOPIC_EVENTS": "ev",
        "LINEWATCH_WORKER__TAKE_MAX_EVENTS": "16",
        "LINEWATCH_WORKER__TAKE_WINDOW_S": "0.25",
        "LINEWATCH_INFERENCE__BATCH_FRAMES": "4",
        "LINEWATCH_INFERENCE__REVIEW_BAND": "[0.1, 0.4]",
        "LINEWATCH_INGEST__IMAGE_ROOTS": '["/data/frames"]',
        "LINEWATCH_PLANT__LINES": '{"press-7": {"takt_units_per_minute": 90}}',
        "LINEWATCH_DRIFT__SLICE_IDLE_S": "60",
        "LINEWATCH_READINESS__MAX_FPR": "0.05",
        "LINEWATCH_ESTIMATION__WINDOW_FRAMES": "1000",
    }
    s, warned = _read(env, monkeypatch)
    assert warned == []
    assert (s.store.dsn, s.checkpoint.flush_rows) == ("chdb:///tmp/new-store", 123)
    assert s.kafka.topic_events == "ev"
    assert (s.worker.take_max_events, s.worker.take_window_s) == (16, 0.25)
    assert (s.inference.batch_frames, s.inference.review_band) == (4, (0.1, 0.4))
    assert s.ingest.image_roots == ["/data/frames"]
    assert (
        list(s.plant.lines) == ["press-7"] and s.plant.lines["press-7"].takt_units_per_minute == 90
    )
    assert s.drift.slice_idle_s == 60
    assert (s.readiness.max_fpr, s.estimation.window_frames) == (0.05, 1000)
    assert s.checkpoint.flush_interval_s == 1.0  # the rest of a group keeps its defaults


def test_whole_group_json_still_works_for_readiness(monkeypatch: pytest.MonkeyPatch) -> None:
    s, warned = _read(
        {
            "LINEWATCH_READINESS": '{"max_fpr": 0.05}',
            "LINEWATCH_READINESS__MAX_FNR_PER_CLASS": "0.2",
        },
        monkeypatch,
    )
    assert (s.readiness.max_fpr, s.readiness.max_fnr_per_class, warned) == (0.05, 0.2, [])


def test_a_variable_that_names_no_setting_is_logged_with_the_nearest_one(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr("streams.config._warned", set())
    with caplog.at_level(logging.WARNING, logger="streams.config"):
        s, _ = _read(
            {"LINEWATCH_BATCH_FRAMES": "3", "LINEWATCH_TIMEZONE": "Asia/Tokyo"}, monkeypatch
        )
        Settings()  # once per process, not per construction
    assert s.inference.batch_frames != 3 and s.plant.timezone != "Asia/Tokyo"
    messages = [r.getMessage() for r in caplog.records]
    assert messages == [
        "LINEWATCH_BATCH_FRAMES names no setting (did you mean "
        "LINEWATCH_INFERENCE__BATCH_FRAMES?); it is ignored",
        "LINEWATCH_TIMEZONE names no setting (did you mean LINEWATCH_PLANT__TIMEZONE?); "
        "it is ignored",
    ]


def test_a_group_is_one_json_object(monkeypatch: pytest.MonkeyPatch) -> None:
    s, _ = _read(
        {"LINEWATCH_STORE": '{"dsn": "chdb:///tmp/whole", "read_max_execution_time_s": 7}'},
        monkeypatch,
    )
    assert (s.store.dsn, s.store.read_max_execution_time_s) == ("chdb:///tmp/whole", 7)
    monkeypatch.setenv("LINEWATCH_STORE", "chdb:///tmp/not-json")
    with pytest.raises(InvalidSettings) as raised:
        Settings()
    message = str(raised.value)
    assert message.startswith("LINEWATCH_STORE is not valid JSON: it gives the whole store group")
    assert "LINEWATCH_STORE__DSN" in message and "\n" not in message


def test_invalid_nested_value_names_the_full_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LINEWATCH_WORKER__TAKE_WINDOW_S", "-1")
    with pytest.raises(InvalidSettings) as raised:
        Settings()
    message = str(raised.value)
    assert message.startswith("LINEWATCH_WORKER__TAKE_WINDOW_S='-1' is invalid: ")
    assert "greater than 0" in message and "\n" not in message


def test_a_name_a_group_does_not_have_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LINEWATCH_CHECKPOINT__FLUSHROWS", "5")
    with pytest.raises(
        InvalidSettings,
        match=(
            r"LINEWATCH_CHECKPOINT__FLUSHROWS is not a setting; "
            r"did you mean LINEWATCH_CHECKPOINT__FLUSH_ROWS\?"
        ),
    ):
        Settings()


def test_bad_json_in_a_nested_variable_names_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LINEWATCH_PLANT__SHIFTS", "[{not json")
    with pytest.raises(InvalidSettings, match=r"^LINEWATCH_PLANT__SHIFTS is not valid JSON"):
        Settings()


def test_replace_merges_into_a_group_and_validates() -> None:
    base = Settings(store={"dsn": "chdb:///tmp/r"}, checkpoint={"flush_rows": 10})
    changed = base.replace(checkpoint={"flush_rows": 20}, worker={"take_max_events": 5})
    assert (changed.store.dsn, changed.checkpoint.flush_rows) == ("chdb:///tmp/r", 20)
    assert changed.worker.take_max_events == 5 and base.checkpoint.flush_rows == 10
    with pytest.raises(
        InvalidSettings, match=r"LINEWATCH_CHECKPOINT__FLUSH_ROWS=0 .given as an option"
    ):
        base.replace(checkpoint={"flush_rows": 0})
    with pytest.raises(InvalidSettings, match="no settings group 'flush_rows'"):
        base.replace(flush_rows=20)


def test_replace_does_not_read_the_environment_again(monkeypatch: pytest.MonkeyPatch) -> None:
    base = Settings()
    monkeypatch.setenv("LINEWATCH_CHECKPOINT__FLUSH_ROWS", "999")
    assert base.replace(worker={"web_port": 7000}).checkpoint.flush_rows == 2000


def test_settings_with_keeps_unset_options_and_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("LINEWATCH_CHECKPOINT__FLUSH_ROWS", "33")
    s = settings_with(store={"dsn": "chdb:///tmp/o"}, inference={"model": None})
    assert (s.store.dsn, s.checkpoint.flush_rows, s.inference.model) == ("chdb:///tmp/o", 33, None)
    with pytest.raises(InvalidSettings, match=r"LINEWATCH_WORKER__WEB_PORT=0 .given as an option"):
        settings_with(worker={"web_port": 0})


def test_secrets_are_masked_in_every_group() -> None:
    s = Settings(
        store={"dsn": "http://lw:dsn-secret@h:8123", "password": "store-secret"},
        kafka={
            "security_protocol": "SASL_PLAINTEXT",
            "sasl_username": "u",
            "sasl_password": "kafka-secret",
        },
    )
    shown = f"{s.as_dict()} {s!r} {s}"
    for secret in ("dsn-secret", "store-secret", "kafka-secret"):
        assert secret not in shown
