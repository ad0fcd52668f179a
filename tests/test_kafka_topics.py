"""``ensure_topics``: creates the topics once, never changes existing ones, reports mismatches."""

from __future__ import annotations

import pytest

from streams.config import Settings
from streams.kafka.clients import open_admin
from streams.kafka.config import MAX_MESSAGE_BYTES
from streams.kafka.topics import ensure_topics, ensure_topics_report, topic_specs


def test_specs_follow_the_settings() -> None:
    s = Settings(kafka={"topic_events": "ev", "topic_partitions": 5, "topic_replication": 3})
    specs = {t.name: t for t in topic_specs(s)}
    assert set(specs) == {"ev", "labels", "camera-events.dlq", "drift-events"}
    assert {(t.partitions, t.replication) for t in specs.values()} == {(5, 3)}
    assert specs["ev"].configs["max.message.bytes"] == str(MAX_MESSAGE_BYTES)


def _partitions(settings: Settings) -> dict[str, int]:
    admin = open_admin(settings)
    try:
        names = [t.name for t in topic_specs(settings)]
        return {
            d["name"]: len(d["partitions"])
            for d in admin.describe_topics(names)
            if d["error_code"] == 0
        }
    finally:
        admin.close()


@pytest.mark.kafka
def test_creates_then_is_idempotent(kafka_settings: Settings) -> None:
    names = [t.name for t in topic_specs(kafka_settings)]
    assert ensure_topics(kafka_settings) == names
    assert _partitions(kafka_settings) == dict.fromkeys(names, 3)
    again = ensure_topics_report(kafka_settings)
    assert again.created == [] and again.existing == names and again.mismatched == []


@pytest.mark.kafka
def test_partition_mismatch_is_reported_not_changed(kafka_settings: Settings) -> None:
    ensure_topics(kafka_settings)
    wants_more = kafka_settings.replace(kafka={"topic_partitions": 5})
    report = ensure_topics_report(wants_more)
    assert report.created == []
    assert {(m.name, m.wanted, m.actual) for m in report.mismatched} == {
        (t.name, 5, 3) for t in topic_specs(kafka_settings)
    }
    assert "only 3 workers" in str(report.mismatched[0])
    assert set(_partitions(kafka_settings).values()) == {3}


@pytest.mark.kafka
def test_only_missing_topics_are_created(kafka_settings: Settings) -> None:
    from kafka.admin import NewTopic

    admin = open_admin(kafka_settings)
    try:
        admin.create_topics([NewTopic(kafka_settings.kafka.topic_labels, 2, 1)])
    finally:
        admin.close()
    report = ensure_topics_report(kafka_settings)
    assert kafka_settings.kafka.topic_labels not in report.created
    assert len(report.created) == 3
    assert [(m.name, m.actual) for m in report.mismatched] == [
        (kafka_settings.kafka.topic_labels, 2)
    ]
