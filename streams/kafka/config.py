"""Client options from :class:`streams.config.Settings`: one source of truth for every client.

kafka-python (``topics create``, ``produce``), aiokafka and Faust (the worker) get the same
bootstrap servers and the same security settings (protocol, SASL mechanism / user / password,
SSL CA bundle), so a deployment that works for one works for all.

>>> from streams.config import Settings
>>> opts = kafka_python_options(Settings(kafka={"bootstrap": "k1:9092, k2:9092"}))
>>> opts["bootstrap_servers"], opts["security_protocol"]
(['k1:9092', 'k2:9092'], 'PLAINTEXT')
>>> faust_broker_options(Settings(kafka={"bootstrap": "k1:9092,k2:9092"}))["broker"]
'kafka://k1:9092;kafka://k2:9092'
>>> faust_session_options(Settings(worker={"session_timeout_s": 6}))
{'broker_session_timeout': 6.0, 'broker_heartbeat_interval': 1.0}
>>> s = Settings(kafka={"security_protocol": "SASL_PLAINTEXT", "sasl_mechanism": "SCRAM-SHA-512",
...                    "sasl_username": "lw", "sasl_password": "pw"})
>>> o = aiokafka_options(s)
>>> o["sasl_mechanism"], o["sasl_plain_username"], o["sasl_plain_password"]
('SCRAM-SHA-512', 'lw', 'pw')
"""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import Any

from streams.config import Settings
from streams.errors import ConfigError

__all__ = [
    "BOOTSTRAP_TIMEOUT_MS",
    "MAX_MESSAGE_BYTES",
    "aiokafka_options",
    "bootstrap_servers",
    "faust_broker_options",
    "faust_session_options",
    "kafka_python_options",
    "ssl_context",
]

MAX_MESSAGE_BYTES = 8 * 1024 * 1024
"""Largest message linewatch produces (a 4 MiB frame is ~5.6 MB as base64 JSON)."""

BOOTSTRAP_TIMEOUT_MS = 10_000
"""How long kafka-python clients try the bootstrap servers before giving up."""


def bootstrap_servers(settings: Settings) -> list[str]:
    """``LINEWATCH_KAFKA__BOOTSTRAP`` as a list of ``host:port``.

    >>> bootstrap_servers(Settings(kafka={"bootstrap": " a:1 ,b:2,"}))
    ['a:1', 'b:2']
    """
    servers = [hp.strip() for hp in settings.kafka.bootstrap.split(",") if hp.strip()]
    if not servers:
        raise ConfigError("LINEWATCH_KAFKA__BOOTSTRAP is empty: give host:port[,host:port...]")
    for server in servers:
        host, _, port = server.rpartition(":")
        if not host or not port.isdigit():
            raise ConfigError(
                f"bad Kafka bootstrap server {server!r}: expected host:port, e.g. 127.0.0.1:9092"
            )
    return servers


def _sasl(settings: Settings) -> tuple[str, str, str] | None:
    """(mechanism, username, password) for SASL protocols, None otherwise; checks completeness."""
    if not settings.kafka.security_protocol.startswith("SASL"):
        return None
    password = settings.kafka.sasl_password
    if not settings.kafka.sasl_username or password is None:
        raise ConfigError(
            f"LINEWATCH_KAFKA__SECURITY_PROTOCOL={settings.kafka.security_protocol} needs "
            "LINEWATCH_KAFKA__SASL_USERNAME and LINEWATCH_KAFKA__SASL_PASSWORD"
        )
    mechanism = settings.kafka.sasl_mechanism or "PLAIN"
    return mechanism, settings.kafka.sasl_username, password.get_secret_value()


def _sasl_options(settings: Settings) -> dict[str, str]:
    """SASL keyword arguments, spelled the same by kafka-python and aiokafka (empty without)."""
    sasl = _sasl(settings)
    if sasl is None:
        return {}
    mechanism, username, password = sasl
    return {
        "sasl_mechanism": mechanism,
        "sasl_plain_username": username,
        "sasl_plain_password": password,
    }


def _cafile(settings: Settings) -> str | None:
    cafile = settings.kafka.ssl_cafile
    if cafile is not None and not Path(cafile).is_file():
        raise ConfigError(f"LINEWATCH_KAFKA__SSL_CAFILE={cafile} does not exist")
    return cafile


def ssl_context(settings: Settings) -> ssl.SSLContext | None:
    """A verifying TLS context for SSL / SASL_SSL (system CAs plus the CA bundle), else None."""
    if settings.kafka.security_protocol not in ("SSL", "SASL_SSL"):
        return None
    return ssl.create_default_context(cafile=_cafile(settings))


def kafka_python_options(settings: Settings, *, client_id: str = "linewatch") -> dict[str, Any]:
    """Keyword arguments shared by kafka-python's producer, consumer and admin client."""
    options: dict[str, Any] = {
        "bootstrap_servers": bootstrap_servers(settings),
        "client_id": client_id,
        "security_protocol": settings.kafka.security_protocol,
        "bootstrap_timeout_ms": BOOTSTRAP_TIMEOUT_MS,
    }
    if settings.kafka.security_protocol in ("SSL", "SASL_SSL"):
        options["ssl_check_hostname"] = True
        cafile = _cafile(settings)
        if cafile is not None:
            options["ssl_cafile"] = cafile
    options.update(_sasl_options(settings))
    return options


def aiokafka_options(settings: Settings, *, client_id: str = "linewatch") -> dict[str, Any]:
    """Keyword arguments shared by aiokafka's producer and consumer (same security as above)."""
    options: dict[str, Any] = {
        "bootstrap_servers": bootstrap_servers(settings),
        "client_id": client_id,
        "security_protocol": settings.kafka.security_protocol,
    }
    context = ssl_context(settings)
    if context is not None:
        options["ssl_context"] = context
    options.update(_sasl_options(settings))
    return options


def faust_broker_options(settings: Settings) -> dict[str, Any]:
    """``faust.App`` keyword arguments: ``broker`` URL(s) and ``broker_credentials``."""
    import faust

    options: dict[str, Any] = {
        "broker": ";".join(f"kafka://{server}" for server in bootstrap_servers(settings))
    }
    context = ssl_context(settings)
    sasl = _sasl(settings)
    if sasl is not None:
        mechanism, username, password = sasl
        options["broker_credentials"] = faust.SASLCredentials(
            username=username, password=password, mechanism=mechanism, ssl_context=context
        )
    elif context is not None:
        options["broker_credentials"] = faust.SSLCredentials(context)
    return options


HEARTBEAT_MAX_S = 3.0
"""Longest consumer heartbeat interval (Faust's default, with its 60 s session timeout)."""


def faust_session_options(settings: Settings) -> dict[str, float]:
    """Faust's consumer session timeout (``LINEWATCH_WORKER__SESSION_TIMEOUT_S``) and the
    heartbeat interval that goes with it: a sixth of the timeout, at most 3 s (Kafka wants at
    most a third; a sixth lets a loaded machine miss a few before the group drops the worker).

    >>> faust_session_options(Settings())
    {'broker_session_timeout': 60.0, 'broker_heartbeat_interval': 3.0}
    """
    timeout_s = float(settings.worker.session_timeout_s)
    return {
        "broker_session_timeout": timeout_s,
        "broker_heartbeat_interval": min(HEARTBEAT_MAX_S, timeout_s / 6),
    }
