"""kafka-python clients that fail fast with :class:`~streams.errors.KafkaUnavailable`.

The constructors of kafka-python's clients connect to the bootstrap servers; when none answers
within :data:`~streams.kafka.config.BOOTSTRAP_TIMEOUT_MS` they raise, and that becomes one
message that says what to do: start a broker, or fix the security settings that kept the client
out (:func:`streams.kafka.diagnose.why_unreachable` tells which).
"""

from __future__ import annotations

import logging
import socket
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from streams.config import Settings
from streams.errors import KafkaUnavailable
from streams.kafka.config import MAX_MESSAGE_BYTES, kafka_python_options

__all__ = [
    "bootstrap_addresses",
    "check_reachable",
    "open_admin",
    "open_consumer",
    "open_producer",
    "unavailable",
]

T = TypeVar("T")


def unavailable(settings: Settings, cause: BaseException | str) -> KafkaUnavailable:
    """The error for a broker that cannot be reached, with what to do about it."""
    from streams.kafka.diagnose import why_unreachable

    return KafkaUnavailable(
        f"cannot reach Kafka at {settings.kafka.bootstrap} ({cause}): {why_unreachable(settings)}"
    )


def bootstrap_addresses(bootstrap: str) -> list[tuple[str, int]]:
    """``host:port`` pairs of a bootstrap list (``kafka://`` prefixes allowed).

    >>> bootstrap_addresses("kafka://a:1, [::1]:2,b")
    [('a', 1), ('::1', 2)]
    """
    pairs = []
    for item in bootstrap.split(","):
        host, _, port = item.strip().removeprefix("kafka://").rpartition(":")
        if host and port.isdigit():
            pairs.append((host.strip("[]"), int(port)))
    return pairs


def check_reachable(settings: Settings, timeout_s: float = 2.0) -> None:
    """Raise :class:`KafkaUnavailable` unless a bootstrap server accepts a TCP connection.

    A millisecond when one does: ``linewatch worker`` asks before it creates anything (its
    store, its data directory), so that a worker started without a broker leaves its folder as
    it found it. The full client check (:func:`open_admin`) comes later.
    """
    for host, port in bootstrap_addresses(settings.kafka.bootstrap):
        try:
            socket.create_connection((host, port), timeout=timeout_s).close()
        except OSError:
            continue
        return
    raise unavailable(settings, "no bootstrap server accepts connections")


@contextmanager
def _quiet_bootstrap() -> Iterator[None]:
    """Silence kafka-python's per-attempt connection logs while a client bootstraps: a refused
    or unreachable broker ends in one :class:`KafkaUnavailable` message instead."""
    net = logging.getLogger("kafka.net")
    level = net.level
    net.setLevel(max(level, logging.CRITICAL))
    try:
        yield
    finally:
        net.setLevel(level)


def _connect(settings: Settings, factory: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    from kafka.errors import KafkaConnectionError, KafkaTimeoutError

    try:
        with _quiet_bootstrap():
            return factory(*args, **kafka_python_options(settings), **kwargs)
    except (KafkaTimeoutError, KafkaConnectionError) as exc:
        raise unavailable(settings, exc) from exc


def open_admin(settings: Settings) -> Any:
    """A ``kafka.KafkaAdminClient`` (close it)."""
    from kafka import KafkaAdminClient

    return _connect(settings, KafkaAdminClient)


def open_producer(settings: Settings, **overrides: Any) -> Any:
    """A ``kafka.KafkaProducer``: acks=all, idempotent, messages up to 8 MiB (close it)."""
    from kafka import KafkaProducer

    options: dict[str, Any] = {
        "acks": "all",
        "enable_idempotence": True,
        "max_request_size": MAX_MESSAGE_BYTES,
        "linger_ms": 5,
    }
    options.update(overrides)
    return _connect(settings, KafkaProducer, **options)


def open_consumer(settings: Settings, *topics: str, **overrides: Any) -> Any:
    """A ``kafka.KafkaConsumer`` subscribed to ``topics`` (close it)."""
    from kafka import KafkaConsumer

    return _connect(settings, KafkaConsumer, *topics, **overrides)
