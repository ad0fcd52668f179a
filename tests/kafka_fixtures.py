"""Kafka fixtures for tests/test_kafka_*.py: the local broker, per-test topics, reading back.

Tests that use them are marked ``@pytest.mark.kafka`` and need ``make kafka-up``; when the broker
does not answer they fail with that instruction instead of skipping silently.
"""

from __future__ import annotations

import os
import socket
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from streams.config import Settings

__all__ = ["BOOTSTRAP", "kafka_settings", "read_topic", "require_broker", "topic_reader"]

BOOTSTRAP = os.environ.get("LINEWATCH_KAFKA__BOOTSTRAP", "127.0.0.1:9092")


def require_broker() -> None:
    """Fail the test with what to do when no broker listens on :data:`BOOTSTRAP`."""
    host, _, port = BOOTSTRAP.split(",")[0].rpartition(":")
    try:
        with socket.create_connection((host, int(port)), timeout=2):
            return
    except OSError as exc:
        pytest.fail(f"no Kafka broker at {BOOTSTRAP} ({exc}): run `make kafka-up`")


def _delete_topics(names: list[str]) -> None:
    from kafka import KafkaAdminClient

    admin = KafkaAdminClient(bootstrap_servers=BOOTSTRAP)
    try:
        existing = set(admin.list_topics())
        doomed = [n for n in names if n in existing]
        if doomed:
            admin.delete_topics(doomed)
    finally:
        admin.close()


@pytest.fixture
def kafka_settings() -> Iterator[Settings]:
    """Settings on the local broker with unique topic names (3 partitions); topics deleted after.

    The topics are not created: tests call ``ensure_topics`` (or create them) themselves.
    """
    require_broker()
    prefix = f"test-{uuid.uuid4().hex[:10]}"
    settings = Settings(
        kafka={
            "bootstrap": BOOTSTRAP,
            "topic_events": f"{prefix}-camera-events",
            "topic_labels": f"{prefix}-labels",
            "topic_dlq": f"{prefix}-camera-events.dlq",
            "topic_drift": f"{prefix}-drift-events",
            "topic_partitions": 3,
        }
    )
    yield settings
    _delete_topics(
        [
            settings.kafka.topic_events,
            settings.kafka.topic_labels,
            settings.kafka.topic_dlq,
            settings.kafka.topic_drift,
        ]
    )


def read_topic(topic: str, expected: int, timeout_s: float = 30.0) -> list[Any]:
    """All records of ``topic`` from the beginning (no consumer group), once ``expected`` arrived.

    Returns early when ``expected`` records are in; after ``timeout_s`` returns what it has, so
    the caller's assertion shows the difference.
    """
    from kafka import KafkaConsumer, TopicPartition

    consumer = KafkaConsumer(bootstrap_servers=BOOTSTRAP, enable_auto_commit=False)
    try:
        partitions = consumer.partitions_for_topic(topic) or set()
        tps = [TopicPartition(topic, p) for p in sorted(partitions)]
        consumer.assign(tps)
        consumer.seek_to_beginning(*tps)
        records: list[Any] = []
        deadline = time.monotonic() + timeout_s
        while len(records) < expected and time.monotonic() < deadline:
            for batch in consumer.poll(timeout_ms=500).values():
                records.extend(batch)
        return records
    finally:
        consumer.close()


@pytest.fixture
def topic_reader() -> Any:
    """:func:`read_topic`, as a fixture (so test modules need not import this module)."""
    return read_topic
