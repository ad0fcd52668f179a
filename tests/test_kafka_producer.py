"""``produce``: keyed by line_id, garbage sent keyless, labels keyed by event_id, failures."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import streams.kafka.config as kafka_config
from streams.config import Settings
from streams.errors import ConfigError, KafkaUnavailable
from streams.kafka.config import MAX_MESSAGE_BYTES
from streams.kafka.producer import Pacer, event_id_key, line_key, produce
from streams.kafka.topics import ensure_topics
from tests.conftest import write_simulated

GARBAGE = [b"this is not json", b'{"event_id": "no-line"}', b'["line_id", "line-1"]']


@pytest.mark.parametrize(
    ("payload", "key"),
    [
        (b'{"line_id": "line-7", "event_id": "e"}', b"line-7"),
        (b'{"line_id": ""}', None),
        (b'{"line_id": 7}', None),
        (b"\xff\xfe", None),
        *[(g, None) for g in GARBAGE],
    ],
)
def test_line_key(payload: bytes, key: bytes | None) -> None:
    assert line_key(payload) == key


def test_event_id_key() -> None:
    assert event_id_key(b'{"event_id": "abc", "objects": []}') == b"abc"
    assert event_id_key(b"{}") is None


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def test_pacer_spaces_events_by_rate() -> None:
    fake = FakeClock()
    pacer = Pacer(10.0, clock=fake.clock, sleep=fake.sleep)
    for _ in range(21):
        pacer.wait()
    assert fake.now == pytest.approx(102.0)  # 21 events at 10/s: the last one at t0 + 2 s


def test_pacer_does_not_burst_after_a_stall() -> None:
    fake = FakeClock()
    pacer = Pacer(10.0, clock=fake.clock, sleep=fake.sleep)
    pacer.wait()
    fake.now += 5.0  # the broker stalled for 5 s
    for _ in range(3):
        pacer.wait()
    assert fake.slept[-2:] == [pytest.approx(0.1), pytest.approx(0.1)]


def test_pacer_without_rate_never_sleeps() -> None:
    fake = FakeClock()
    pacer = Pacer(None, clock=fake.clock, sleep=fake.sleep)
    for _ in range(100):
        pacer.wait()
    assert fake.slept == []


def test_pacer_rejects_non_positive_rate() -> None:
    with pytest.raises(ConfigError, match="--rate"):
        Pacer(0)


def test_unreachable_broker_says_make_kafka_up(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setattr(kafka_config, "BOOTSTRAP_TIMEOUT_MS", 1000)
    source = tmp_path / "events.jsonl"
    source.write_text('{"line_id": "line-1"}\n')
    with pytest.raises(KafkaUnavailable, match="make kafka-up"):
        produce(Settings(kafka={"bootstrap": f"127.0.0.1:{port}"}), str(source))


@pytest.mark.kafka
def test_events_keyed_by_line_and_garbage_still_sent(
    kafka_settings: Settings, topic_reader: Any, tmp_path: Path
) -> None:
    ensure_topics(kafka_settings)
    source, labels = tmp_path / "events.jsonl", tmp_path / "labels.jsonl"
    n, _ = write_simulated(source, "simulate:production?events=12&seed=3", labels)
    with source.open("ab") as fh:
        fh.write(b"\n".join(GARBAGE) + b"\n\n")  # the blank line is skipped, not sent

    summary = produce(kafka_settings, str(source), labels_file=str(labels))

    assert summary.ok, summary.errors
    assert (summary.events_sent, summary.events_unkeyed) == (n + len(GARBAGE), len(GARBAGE))
    assert summary.labels_sent == n
    records = topic_reader(kafka_settings.kafka.topic_events, n + len(GARBAGE))
    assert len(records) == n + len(GARBAGE)
    partitions_of_line: dict[bytes, set[int]] = {}
    for record in records:
        if record.key is None:
            assert record.value in GARBAGE
            continue
        assert json.loads(record.value)["line_id"].encode() == record.key
        partitions_of_line.setdefault(record.key, set()).add(record.partition)
    assert all(len(p) == 1 for p in partitions_of_line.values())
    label_records = topic_reader(kafka_settings.kafka.topic_labels, n)
    assert sorted(r.key for r in label_records) == sorted(
        json.loads(r.value)["event_id"].encode() for r in label_records
    )
    assert len(label_records) == n


@pytest.mark.kafka
def test_simulate_source_sends_its_ground_truth(
    kafka_settings: Settings, topic_reader: Any
) -> None:
    ensure_topics(kafka_settings)
    summary = produce(kafka_settings, "simulate:production?events=6&seed=1", rate=500)
    assert summary.ok and summary.events_sent == 6 and summary.labels_sent == 6
    events = {
        json.loads(r.value)["event_id"] for r in topic_reader(kafka_settings.kafka.topic_events, 6)
    }
    labels = {
        json.loads(r.value)["event_id"] for r in topic_reader(kafka_settings.kafka.topic_labels, 6)
    }
    assert events == labels and len(events) == 6


@pytest.mark.kafka
def test_missing_topic_says_topics_create(kafka_settings: Settings, tmp_path: Path) -> None:
    source = tmp_path / "events.jsonl"
    source.write_text('{"line_id": "line-1"}\n')
    with pytest.raises(ConfigError, match="linewatch topics create"):
        produce(kafka_settings, str(source))


@pytest.mark.kafka
def test_oversized_event_is_counted_as_failed(kafka_settings: Settings, tmp_path: Path) -> None:
    ensure_topics(kafka_settings)
    source = tmp_path / "events.jsonl"
    huge = json.dumps({"line_id": "line-1", "pad": "x" * (MAX_MESSAGE_BYTES + 10)})
    source.write_text('{"line_id": "line-1"}\n' + huge + "\n")
    summary = produce(kafka_settings, str(source))
    assert (summary.events_sent, summary.events_failed) == (1, 1)
    assert not summary.ok
    assert "events.jsonl:2" in summary.errors[0]
