"""kafka-python clients that fail fast with :class:`~streams.errors.KafkaUnavailable`.

The constructors of kafka-python's clients connect to the bootstrap servers; when none answers
within :data:`~streams.kafka.config.BOOTSTRAP_TIMEOUT_MS` they raise, and that becomes one
message that says what to do: start a broker, or fix the security settings that kept the client
out (:func:`streams.kafka.diagnose.why_unreachable` tells which).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from streams.config import Settings
from streams.errors import KafkaUnavailable
from streams.kafka.config import MAX_MESSAGE_BYTES, kafka_python_options

__all__ = ["open_admin", "open_consumer", "open_producer", "unavailable"]

T = TypeVar("T")


def unavailable(settings: Settings, cause: BaseException | str) -> KafkaUnavailable:
    """The error for a broker that cannot be reached, with what to do about it."""
    from streams.kafka.diagnose import why_unreachable

    return KafkaUnavailable(
        f"cannot reach Kafka at {settings.kafka.bootstrap} ({cause}): {why_unreachable(settings)}"
    )


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
