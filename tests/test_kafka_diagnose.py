"""Why a Kafka client was kept out, against real sockets (no broker needed).

Each case stands up the kind of listener that refuses the client: nothing, plain TCP, TLS with a
certificate from a CA the client does not trust, TLS with the right CA (where only SASL can have
refused it). The cluster tests (tests/test_kafka_cluster.py) check the same messages end to end.
"""

from __future__ import annotations

import socket
import ssl
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from streams.config import Settings
from streams.kafka.diagnose import why_unreachable
from tests.private_cluster import make_certificates


def _serve(listener: socket.socket, context: ssl.SSLContext | None) -> None:
    """Accept connections (with a TLS handshake when ``context``) and close them."""
    while True:
        try:
            conn, _ = listener.accept()
        except OSError:
            return
        try:
            if context is not None:
                with context.wrap_socket(conn, server_side=True):
                    pass
        except (ssl.SSLError, OSError):
            pass
        finally:
            conn.close()


@pytest.fixture(scope="module")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("tls")
    ca, _ = make_certificates(folder, "pw")
    return ca, folder


def _listener(context: ssl.SSLContext | None) -> Iterator[str]:
    listener = socket.create_server(("127.0.0.1", 0))
    threading.Thread(target=_serve, args=(listener, context), daemon=True).start()
    try:
        yield f"127.0.0.1:{listener.getsockname()[1]}"
    finally:
        listener.close()


@pytest.fixture
def plain_listener() -> Iterator[str]:
    yield from _listener(None)


@pytest.fixture
def tls_listener(certificates: tuple[Path, Path]) -> Iterator[str]:
    _, folder = certificates
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(folder / "broker.pem", folder / "broker.key")
    yield from _listener(context)


def _sasl_ssl(bootstrap: str, cafile: Path | None) -> Settings:
    kafka = {
        "bootstrap": bootstrap,
        "security_protocol": "SASL_SSL",
        "sasl_mechanism": "SCRAM-SHA-512",
        "sasl_username": "linewatch",
        "sasl_password": "pw",
    }
    if cafile is not None:
        kafka["ssl_cafile"] = str(cafile)
    return Settings(kafka=kafka)


def test_nothing_listening_says_start_a_broker() -> None:
    free = socket.create_server(("127.0.0.1", 0))
    port = free.getsockname()[1]
    free.close()
    assert "make kafka-up" in why_unreachable(Settings(kafka={"bootstrap": f"127.0.0.1:{port}"}))


def test_tls_listener_and_a_client_without_tls(tls_listener: str) -> None:
    settings = Settings(kafka={"bootstrap": tls_listener})
    assert "speaks TLS but LINEWATCH_KAFKA__SECURITY_PROTOCOL=PLAINTEXT" in why_unreachable(
        settings
    )


def test_untrusted_certificate_names_the_ca_setting(tls_listener: str) -> None:
    message = why_unreachable(_sasl_ssl(tls_listener, None))
    assert "is not trusted" in message and "LINEWATCH_KAFKA__SSL_CAFILE" in message


def test_tls_works_so_the_credentials_were_refused(
    tls_listener: str, certificates: tuple[Path, Path]
) -> None:
    message = why_unreachable(_sasl_ssl(tls_listener, certificates[0]))
    assert "refused user 'linewatch' with SCRAM-SHA-512" in message
    assert "LINEWATCH_KAFKA__SASL_PASSWORD" in message


def test_plain_listener_and_a_tls_client(
    plain_listener: str, certificates: tuple[Path, Path]
) -> None:
    message = why_unreachable(_sasl_ssl(plain_listener, certificates[0]), timeout_s=1.0)
    assert "no TLS handshake" in message and "SASL_PLAINTEXT" in message
