"""Why no Kafka client got through: nothing listening, TLS on one side only, untrusted
certificate, or refused credentials.

kafka-python and aiokafka report all of these the same way (the broker closes the socket, the
bootstrap times out). :func:`why_unreachable` asks the first bootstrap server that accepts a TCP
connection with a plain TLS handshake (no Kafka protocol) and turns the answer into what to
change. It never sends credentials.

>>> from streams.config import Settings
>>> why_unreachable(Settings(kafka={"bootstrap": "127.0.0.1:1"}), timeout_s=0.5)[:40]
'nothing accepts connections at 127.0.0.1'
"""

from __future__ import annotations

import socket
import ssl

from streams.config import Settings
from streams.kafka.config import bootstrap_servers, ssl_context

__all__ = ["why_unreachable"]

_TLS_PROTOCOLS = ("SSL", "SASL_SSL")


def _handshake(host: str, port: int, context: ssl.SSLContext, timeout_s: float) -> None:
    """A TLS handshake with ``host:port``; raises ``ssl.SSLError`` / ``OSError`` when refused."""
    with (
        socket.create_connection((host, port), timeout=timeout_s) as raw,
        context.wrap_socket(raw, server_hostname=host),
    ):
        return


def _accepting(settings: Settings, timeout_s: float) -> tuple[str, int] | None:
    for server in bootstrap_servers(settings):
        host, _, port = server.rpartition(":")
        try:
            with socket.create_connection((host, int(port)), timeout=timeout_s):
                return host, int(port)
        except OSError:
            continue
    return None


def _speaks_tls(host: str, port: int, timeout_s: float) -> bool:
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE  # only asks whether the listener speaks TLS at all
    try:
        _handshake(host, port, context, timeout_s)
    except (ssl.SSLError, OSError):
        return False
    return True


def why_unreachable(settings: Settings, timeout_s: float = 3.0) -> str:
    """What most likely kept every client out, and which settings to change."""
    protocol = settings.kafka.security_protocol
    found = _accepting(settings, timeout_s)
    if found is None:
        return (
            f"nothing accepts connections at {settings.kafka.bootstrap}: start the local broker "
            "with `make kafka-up`, or point LINEWATCH_KAFKA__BOOTSTRAP / --bootstrap at yours"
        )
    host, port = found
    where = f"{host}:{port}"
    if protocol not in _TLS_PROTOCOLS:
        if _speaks_tls(host, port, timeout_s):
            return (
                f"the listener at {where} speaks TLS but LINEWATCH_KAFKA__SECURITY_PROTOCOL="
                f"{protocol}: set it to SASL_SSL (or SSL) and LINEWATCH_KAFKA__SSL_CAFILE to the "
                "CA that signed the brokers' certificates"
            )
        return (
            f"{where} accepts connections but no Kafka client got through with "
            f"LINEWATCH_KAFKA__SECURITY_PROTOCOL={protocol}: check that it is a Kafka listener "
            "and that the protocol (and SASL settings) match its security"
        )
    context = ssl_context(settings)
    assert context is not None  # SSL and SASL_SSL always have one
    try:
        _handshake(host, port, context, timeout_s)
    except ssl.SSLCertVerificationError as exc:
        return (
            f"the TLS certificate of {where} is not trusted ({exc.verify_message}): set "
            "LINEWATCH_KAFKA__SSL_CAFILE to the CA that signed the brokers' certificates"
        )
    except (ssl.SSLError, OSError) as exc:
        return (
            f"no TLS handshake with {where} ({exc}): if that listener is not TLS, set "
            "LINEWATCH_KAFKA__SECURITY_PROTOCOL to PLAINTEXT or SASL_PLAINTEXT"
        )
    if protocol == "SASL_SSL":
        mechanism = settings.kafka.sasl_mechanism or "PLAIN"
        return (
            f"TLS to {where} works but the broker closed every connection at SASL "
            f"authentication (most likely it refused user {settings.kafka.sasl_username!r} with "
            f"{mechanism}): check LINEWATCH_KAFKA__SASL_USERNAME, "
            "LINEWATCH_KAFKA__SASL_PASSWORD and LINEWATCH_KAFKA__SASL_MECHANISM"
        )
    return (
        f"TLS to {where} works but no Kafka client got through: if the listener needs SASL, "
        "set LINEWATCH_KAFKA__SECURITY_PROTOCOL=SASL_SSL with the SASL user and password"
    )
