"""The pinned broker (deploy/kafka-local, Kafka 4.x) works with both Python clients linewatch uses.

kafka-python (``topics create``, ``produce``) and aiokafka (under faust-streaming, the worker):
admin topic creation, acks=all produce, consume back — on a per-test random topic.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from streams.config import Settings
from streams.kafka.clients import open_admin, open_consumer, open_producer
from streams.kafka.config import aiokafka_options

pytestmark = pytest.mark.kafka

N = 12


def _create(settings: Settings, partitions: int = 3) -> str:
    from kafka.admin import NewTopic

    admin = open_admin(settings)
    try:
        admin.create_topics([NewTopic(settings.kafka.topic_events, partitions, 1)])
        # metadata of a new topic reaches the broker's cache a moment after creation
        deadline = time.monotonic() + 15
        while True:
            described = admin.describe_topics([settings.kafka.topic_events])
            if described[0]["partitions"] or time.monotonic() > deadline:
                break
            time.sleep(0.2)
    finally:
        admin.close()
    assert len(described[0]["partitions"]) == partitions
    return settings.kafka.topic_events


def test_kafka_python_admin_produce_consume(kafka_settings: Settings) -> None:
    topic = _create(kafka_settings)
    producer = open_producer(kafka_settings)
    try:
        metas = [
            producer.send(topic, key=f"line-{i % 3}".encode(), value=f"v{i}".encode()).get(10)
            for i in range(N)
        ]
    finally:
        producer.close()
    # Same key, same partition: the ordering guarantee linewatch relies on per line.
    by_key: dict[int, set[int]] = {}
    for i, md in enumerate(metas):
        by_key.setdefault(i % 3, set()).add(md.partition)
    assert all(len(parts) == 1 for parts in by_key.values())

    consumer = open_consumer(
        kafka_settings,
        topic,
        group_id=f"{topic}-g",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    got: list[bytes] = []
    try:
        deadline = time.monotonic() + 30
        while len(got) < N and time.monotonic() < deadline:
            for batch in consumer.poll(timeout_ms=500).values():
                got.extend(r.value for r in batch)
        consumer.commit()
    finally:
        consumer.close()
    assert sorted(got) == sorted(f"v{i}".encode() for i in range(N))


def test_aiokafka_produce_consume(kafka_settings: Settings) -> None:
    import aiokafka

    topic = _create(kafka_settings)
    options = aiokafka_options(kafka_settings)

    async def roundtrip() -> list[tuple[bytes | None, bytes]]:
        producer = aiokafka.AIOKafkaProducer(**options, acks="all", enable_idempotence=True)
        await producer.start()
        try:
            for i in range(N):
                await producer.send_and_wait(topic, key=b"line-1", value=f"a{i}".encode())
        finally:
            await producer.stop()
        consumer = aiokafka.AIOKafkaConsumer(
            topic, **options, group_id=f"{topic}-ag", auto_offset_reset="earliest"
        )
        await consumer.start()
        seen: list[tuple[bytes | None, bytes]] = []
        try:
            deadline = time.monotonic() + 30
            while len(seen) < N and time.monotonic() < deadline:
                for records in (await consumer.getmany(timeout_ms=500)).values():
                    seen.extend((r.key, r.value) for r in records)
            await consumer.commit()
        finally:
            await consumer.stop()
        return seen

    seen = asyncio.run(roundtrip())
    # One key → one partition → the consumer sees the producer's order.
    assert seen == [(b"line-1", f"a{i}".encode()) for i in range(N)]


def test_clients_see_each_others_messages(kafka_settings: Settings, topic_reader: Any) -> None:
    import aiokafka

    topic = _create(kafka_settings, partitions=1)

    async def send() -> None:
        producer = aiokafka.AIOKafkaProducer(**aiokafka_options(kafka_settings), acks="all")
        await producer.start()
        try:
            await producer.send_and_wait(topic, key=b"k", value=b"from-aiokafka")
        finally:
            await producer.stop()

    asyncio.run(send())
    producer = open_producer(kafka_settings)
    try:
        producer.send(topic, key=b"k", value=b"from-kafka-python").get(10)
    finally:
        producer.close()
    values = [r.value for r in topic_reader(topic, 2)]
    assert values == [b"from-aiokafka", b"from-kafka-python"]
