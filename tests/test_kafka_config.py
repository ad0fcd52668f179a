"""Client options: every client gets the same bootstrap and security settings."""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import Any

import certifi
import faust
import pytest

from streams.config import Settings
from streams.errors import ConfigError
from streams.kafka.config import (
    aiokafka_options,
    bootstrap_servers,
    faust_broker_options,
    kafka_python_options,
)

SASL_SSL: dict[str, Any] = {
    "bootstrap": "k1:9093,k2:9093",
    "security_protocol": "SASL_SSL",
    "sasl_mechanism": "SCRAM-SHA-256",
    "sasl_username": "linewatch",
    "sasl_password": "s3cret",
    "ssl_cafile": certifi.where(),
}


def test_plaintext_defaults() -> None:
    s = Settings()
    kp, ak = kafka_python_options(s), aiokafka_options(s)
    assert kp["bootstrap_servers"] == ak["bootstrap_servers"] == ["127.0.0.1:9092"]
    assert kp["security_protocol"] == ak["security_protocol"] == "PLAINTEXT"
    assert "sasl_mechanism" not in kp and "ssl_context" not in ak
    assert "broker_credentials" not in faust_broker_options(s)


def test_sasl_ssl_is_the_same_for_every_client() -> None:
    s = Settings(kafka=SASL_SSL)
    kp, ak, fa = kafka_python_options(s), aiokafka_options(s), faust_broker_options(s)
    for opts in (kp, ak):
        assert opts["bootstrap_servers"] == ["k1:9093", "k2:9093"]
        assert opts["security_protocol"] == "SASL_SSL"
        assert opts["sasl_mechanism"] == "SCRAM-SHA-256"
        assert opts["sasl_plain_username"] == "linewatch"
        assert opts["sasl_plain_password"] == "s3cret"
    assert kp["ssl_cafile"] == certifi.where()
    assert isinstance(ak["ssl_context"], ssl.SSLContext)
    assert ak["ssl_context"].verify_mode == ssl.CERT_REQUIRED
    assert fa["broker"] == "kafka://k1:9093;kafka://k2:9093"
    creds = fa["broker_credentials"]
    assert isinstance(creds, faust.SASLCredentials)
    assert (creds.username, creds.password) == ("linewatch", "s3cret")
    assert creds.protocol.value == "SASL_SSL"


def test_sasl_plaintext_has_no_tls() -> None:
    s = Settings(kafka={**SASL_SSL, "security_protocol": "SASL_PLAINTEXT"})
    assert "ssl_context" not in aiokafka_options(s)
    assert "ssl_cafile" not in kafka_python_options(s)
    assert faust_broker_options(s)["broker_credentials"].protocol.value == "SASL_PLAINTEXT"


def test_ssl_only_gets_ssl_credentials() -> None:
    s = Settings(kafka={"security_protocol": "SSL", "ssl_cafile": certifi.where()})
    assert isinstance(faust_broker_options(s)["broker_credentials"], faust.SSLCredentials)
    assert "sasl_mechanism" not in kafka_python_options(s)


def test_password_is_never_in_the_settings_dump() -> None:
    assert "s3cret" not in str(Settings(kafka=SASL_SSL).as_dict())


@pytest.mark.parametrize(
    "overrides",
    [
        {"sasl_password": None},
        {"sasl_username": None},
    ],
)
def test_incomplete_sasl_is_a_config_error(overrides: dict[str, Any]) -> None:
    with pytest.raises(ConfigError, match="LINEWATCH_KAFKA__SASL"):  # when settings are read
        Settings(kafka={**SASL_SSL, **overrides})


def test_missing_cafile_is_a_config_error(tmp_path: Path) -> None:
    s = Settings(kafka={"security_protocol": "SSL", "ssl_cafile": str(tmp_path / "nope.pem")})
    with pytest.raises(ConfigError, match="LINEWATCH_KAFKA__SSL_CAFILE"):
        aiokafka_options(s)
    with pytest.raises(ConfigError, match="LINEWATCH_KAFKA__SSL_CAFILE"):
        kafka_python_options(s)


@pytest.mark.parametrize("bad", ["", "host", "host:port", ":9092", " , "])
def test_bad_bootstrap_is_a_config_error(bad: str) -> None:
    with pytest.raises(ConfigError, match="LINEWATCH_KAFKA__BOOTSTRAP"):  # when settings are read
        bootstrap_servers(Settings(kafka={"bootstrap": bad}))


def _aiokafka_consumer_timeouts(tmp_path: Path, worker: dict[str, Any]) -> tuple[int, int]:
    """(session timeout, heartbeat interval) in ms of the aiokafka consumer the worker app's
    Faust consumer thread builds (built, never started: no broker needed)."""
    import asyncio

    from streams.runners.faust_app import create_app

    async def build() -> tuple[int, int]:
        app = create_app(Settings(worker={"data_dir": str(tmp_path / "faust"), **worker}))
        thread: Any = getattr(app.consumer, "_thread")  # noqa: B009  (Faust's, untyped)
        consumer = thread._create_worker_consumer(app.transport)
        try:
            return int(consumer._session_timeout_ms), int(consumer._heartbeat_interval_ms)
        finally:
            await consumer.stop()

    return asyncio.run(build())


def test_the_session_timeout_setting_reaches_the_kafka_consumer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Faust's own variables would override a keyword argument; the LINEWATCH_ one wins
    monkeypatch.setenv("BROKER_SESSION_TIMEOUT", "30")
    monkeypatch.setenv("BROKER_HEARTBEAT_INTERVAL", "7")
    assert _aiokafka_consumer_timeouts(tmp_path, {"session_timeout_s": 6}) == (
        6000,
        1000,
    )
    assert _aiokafka_consumer_timeouts(tmp_path, {}) == (60000, 3000)


@pytest.mark.parametrize("seconds", [5, 91])
def test_a_session_timeout_outside_what_kafka_and_faust_accept_is_refused(
    seconds: float, monkeypatch: pytest.MonkeyPatch
) -> None:
    from streams.config import Settings

    # Settings(), not get_settings(): the process-wide one is cached by whichever test read it first
    monkeypatch.setenv("LINEWATCH_WORKER__SESSION_TIMEOUT_S", str(seconds))
    with pytest.raises(ConfigError, match="LINEWATCH_WORKER__SESSION_TIMEOUT_S"):
        Settings()
