"""Settings grouped by concern: ``LINEWATCH_<GROUP>__<NAME>`` variables, the previous release's
flat names (read with a deprecation warning; the new name wins), validated overrides."""

from __future__ import annotations

import logging
import os
import re
import warnings
from pathlib import Path

import pytest

from streams.cli.options import settings_with
from streams.config import DEPRECATED_NAMES, Settings, env_name
from streams.errors import InvalidSettings
from tests.console import clean_env, run_linewatch


@pytest.fixture(autouse=True)
def _no_linewatch_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("LINEWATCH_"):
            monkeypatch.delenv(name)


def _read(env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> tuple[Settings, list[str]]:
    """Settings read from ``env``, and the deprecation warnings that reading gave."""
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        settings = Settings()
    return settings, [str(w.message) for w in caught if issubclass(w.category, DeprecationWarning)]


def test_new_names_are_read_into_their_group(monkeypatch: pytest.MonkeyPatch) -> None:
    env = {
        "LINEWATCH_STORE__DSN": "chdb:///tmp/new-store",
        "LINEWATCH_STORE__FLUSH_ROWS": "123",
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
    assert (s.store.dsn, s.store.flush_rows) == ("chdb:///tmp/new-store", 123)
    assert s.kafka.topic_events == "ev"
    assert (s.worker.take_max_events, s.worker.take_window_s) == (16, 0.25)
    assert (s.inference.batch_frames, s.inference.review_band) == (4, (0.1, 0.4))
    assert s.ingest.image_roots == ["/data/frames"]
    assert (
        list(s.plant.lines) == ["press-7"] and s.plant.lines["press-7"].takt_units_per_minute == 90
    )
    assert s.drift.slice_idle_s == 60
    assert (s.readiness.max_fpr, s.estimation.window_frames) == (0.05, 1000)
    assert s.store.flush_interval_s == 5.0  # the rest of a group keeps its defaults


def test_whole_group_json_still_works_for_readiness(monkeypatch: pytest.MonkeyPatch) -> None:
    s, warned = _read(
        {
            "LINEWATCH_READINESS": '{"max_fpr": 0.05}',
            "LINEWATCH_READINESS__MAX_FNR_PER_CLASS": "0.2",
        },
        monkeypatch,
    )
    assert (s.readiness.max_fpr, s.readiness.max_fnr_per_class, warned) == (0.05, 0.2, [])


@pytest.mark.parametrize(
    "case",
    [
        ("LINEWATCH_STORE", "chdb:///tmp/old-store", "store", "dsn", "chdb:///tmp/old-store"),
        ("LINEWATCH_BATCH_SIZE", "77", "store", "flush_rows", 77),
        ("LINEWATCH_WORKER_BATCH_SIZE", "9", "worker", "take_max_events", 9),
        ("LINEWATCH_INFERENCE_BATCH_TIMEOUT_S", "0.2", "worker", "take_window_s", 0.2),
        ("LINEWATCH_INFERENCE_BATCH_SIZE", "3", "inference", "batch_frames", 3),
        ("LINEWATCH_WORKER_ID", "lw-2", "worker", "app_id", "lw-2"),
        ("LINEWATCH_REVIEW_BAND", "[0.2, 0.3]", "inference", "review_band", (0.2, 0.3)),
        ("LINEWATCH_SLICE_IDLE_SECONDS", "30", "drift", "slice_idle_s", 30.0),
        ("LINEWATCH_TIMEZONE", "Europe/Berlin", "plant", "timezone", "Europe/Berlin"),
        ("LINEWATCH_TOPIC_DLQ", "dead", "kafka", "topic_dlq", "dead"),
    ],
)
def test_old_name_works_with_a_warning_naming_the_new_one(
    case: tuple[str, str, str, str, object],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    old, value, group, name, expected = case
    with caplog.at_level(logging.WARNING, logger="streams.config"):
        s, warned = _read({old: value}, monkeypatch)
    assert getattr(getattr(s, group), name) == expected
    new = env_name(group, name)
    assert DEPRECATED_NAMES[old] == (group, name)
    assert len(warned) == 1 and old in warned[0] and new in warned[0], warned
    assert any(old in r.getMessage() and new in r.getMessage() for r in caplog.records)


def test_every_old_name_is_read(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each old variable lands on its new setting (a valid value unlike the default)."""
    values = {
        "store": "chdb:///tmp/every",
        "store_password": "pw",
        "kafka_bootstrap": "k:1",
        "kafka_security_protocol": "SASL_PLAINTEXT",
        "kafka_sasl_mechanism": "PLAIN",
        "kafka_sasl_username": "u",
        "kafka_sasl_password": "p",
        "kafka_ssl_cafile": "/ca.pem",
        "topic_events": "t1",
        "topic_labels": "t2",
        "topic_dlq": "t3",
        "topic_drift": "t4",
        "worker_id": "w",
        "worker_data_dir": "/tmp/w",
        "model": "m.json",
        "operating_threshold": "0.6",
        "store_score_floor": "0.1",
        "review_band": "[0.1, 0.2]",
        "inference_threads": "2",
        "inference_providers": '["CPUExecutionProvider"]',
        "image_roots": '["/frames"]',
        "captured_at_min": "2010-01-01T00:00:00Z",
        "timezone": "Europe/Berlin",
        "shifts": '[{"name": "all", "start": "00:00"}]',
        "lines": '{"l": {}}',
        "lux_bucket_edges": "[1, 2, 3]",
        "brightness_bucket_edges": "[0.1, 0.2, 0.3]",
        "lighting_bucket_names": '["a", "b", "c", "d"]',
        "reference": "ref.json",
        "drift_detector": "river.drift.ADWIN(delta=0.01)",
        "drift_binary_detector": "river.drift.binary.DDM()",
        "drift_label_detector": "river.drift.binary.DDM()",
        "drift_label_fnr": "0.1",
        "drift_label_fpr": "0.1",
        "drift_false_alarms_per_event": "0.001",
    }
    env = {old: values.get(old.removeprefix("LINEWATCH_").lower(), "7") for old in DEPRECATED_NAMES}
    s, warned = _read(env, monkeypatch)
    assert len(warned) == len(DEPRECATED_NAMES)
    for old, (group, name) in DEPRECATED_NAMES.items():
        default = getattr(_default_group(group), name)
        assert getattr(getattr(s, group), name) != default, f"{old} not read into {group}.{name}"


def _default_group(group: str) -> object:
    info = Settings.model_fields[group]
    assert info.default_factory is not None
    return info.default_factory()  # type: ignore[call-arg]


def test_both_set_the_new_one_wins_and_the_warning_says_so(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    s, warned = _read(
        {"LINEWATCH_BATCH_SIZE": "11", "LINEWATCH_STORE__FLUSH_ROWS": "22"}, monkeypatch
    )
    assert s.store.flush_rows == 22
    (message,) = warned
    assert "LINEWATCH_BATCH_SIZE" in message and "LINEWATCH_STORE__FLUSH_ROWS" in message
    assert "wins" in message


def test_invalid_nested_value_names_the_full_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LINEWATCH_WORKER__TAKE_WINDOW_S", "-1")
    with pytest.raises(InvalidSettings) as raised:
        Settings()
    message = str(raised.value)
    assert message.startswith("LINEWATCH_WORKER__TAKE_WINDOW_S='-1' is invalid: ")
    assert "greater than 0" in message and "\n" not in message


def test_invalid_old_value_names_the_new_variable_and_the_old_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("LINEWATCH_INFERENCE_BATCH_TIMEOUT_S", "-1")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        with pytest.raises(InvalidSettings) as raised:
            Settings()
    assert str(raised.value).startswith(
        "LINEWATCH_WORKER__TAKE_WINDOW_S='-1' (given as LINEWATCH_INFERENCE_BATCH_TIMEOUT_S, "
        "deprecated) is invalid"
    )


def test_a_name_a_group_does_not_have_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LINEWATCH_STORE__FLUSHROWS", "5")
    with pytest.raises(InvalidSettings, match=r"LINEWATCH_STORE__FLUSHROWS.*not permitted"):
        Settings()


def test_bad_json_in_a_nested_variable_names_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LINEWATCH_PLANT__SHIFTS", "[{not json")
    with pytest.raises(InvalidSettings, match=r"^LINEWATCH_PLANT__SHIFTS is not valid JSON"):
        Settings()


def test_replace_merges_into_a_group_and_validates() -> None:
    base = Settings(store={"dsn": "chdb:///tmp/r", "flush_rows": 10})
    changed = base.replace(store={"flush_rows": 20}, worker={"take_max_events": 5})
    assert (changed.store.dsn, changed.store.flush_rows) == ("chdb:///tmp/r", 20)
    assert changed.worker.take_max_events == 5 and base.store.flush_rows == 10
    with pytest.raises(InvalidSettings, match=r"LINEWATCH_STORE__FLUSH_ROWS=0 .given as an option"):
        base.replace(store={"flush_rows": 0})
    with pytest.raises(InvalidSettings, match="no settings group 'flush_rows'"):
        base.replace(flush_rows=20)


def test_replace_does_not_read_the_environment_again(monkeypatch: pytest.MonkeyPatch) -> None:
    base = Settings()
    monkeypatch.setenv("LINEWATCH_STORE__FLUSH_ROWS", "999")
    assert base.replace(worker={"web_port": 7000}).store.flush_rows == 2000


def test_settings_with_keeps_unset_options_and_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("LINEWATCH_STORE__FLUSH_ROWS", "33")
    s = settings_with(store={"dsn": "chdb:///tmp/o"}, inference={"model": None})
    assert (s.store.dsn, s.store.flush_rows, s.inference.model) == ("chdb:///tmp/o", 33, None)
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


def test_cli_prints_the_deprecation_and_still_works(tmp_path: Path) -> None:
    """The console script shows the warning (a log line on stderr) and uses the old value."""
    store = f"chdb://{tmp_path / 'store'}"
    env = clean_env(LINEWATCH_STORE=store)
    done = run_linewatch(["schema", "apply"], env=env, cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "LINEWATCH_STORE is deprecated" in done.stderr
    assert "LINEWATCH_STORE__DSN" in done.stderr
    assert (tmp_path / "store").exists()


def test_manifests_and_docs_use_only_the_new_names() -> None:
    """Deployments and docs name the grouped variables (the table lists the old ones on purpose)."""
    root = Path(__file__).resolve().parent.parent
    files = [root / "docker-compose.yml", root / "README.md", root / "Makefile"]
    files += sorted((root / "k8s").rglob("*.yaml")) + sorted((root / "deploy").rglob("*"))
    files += [p for p in sorted((root / "docs").glob("*.md")) if p.name != "configuration.md"]
    pattern = re.compile(r"\b(" + "|".join(DEPRECATED_NAMES) + r")\b")
    found = [
        f"{path.relative_to(root)}: {match}"
        for path in files
        if path.is_file() and path.suffix not in {".png", ".sum"}
        for match in pattern.findall(path.read_text(encoding="utf-8", errors="replace"))
    ]
    assert not found, found
