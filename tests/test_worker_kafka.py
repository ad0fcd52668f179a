"""The streaming path end to end: a real Kafka broker, real ``linewatch worker`` processes.

Needs the local broker (``make kafka-up``; ``make test`` starts it).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TypedDict

import pytest

from streams.config import Settings
from streams.inference import Detector
from streams.ingest.sources import open_source
from streams.pipeline import MonitoringPipeline
from streams.runners.embedded import run_embedded
from streams.runners.reference import load_reference
from streams.sinks import ClickHouseStore
from tests.store_fixtures import ServerFactory
from tests.worker_harness import KafkaHarness, event_key

pytestmark = [pytest.mark.kafka, pytest.mark.slow]

SIX_LINES = json.dumps({f"line-{i}": {"takt_units_per_minute": 60} for i in range(1, 7)})


def _events(text: str, tmp: Path) -> tuple[list[bytes], list[bytes]]:
    from streams.simulate import generate, parse_simulate_source

    events, labels = [], []
    for sim in generate(parse_simulate_source(text)):
        events.append(json.dumps(sim.event).encode())
        labels.append(json.dumps(sim.label).encode())
    path = tmp / "events.jsonl"
    path.write_bytes(b"\n".join(events) + b"\n")
    return events, labels


def _embedded_drift(events_file: Path, tmp: Path, settings: Settings) -> tuple[set[str], int]:
    settings = settings.replace(store={"dsn": f"chdb://{tmp / 'embedded'}"})
    with ClickHouseStore.open(settings.store.dsn) as store:
        store.apply_schema()
        pipeline = MonitoringPipeline(settings, Detector.load(None), load_reference(settings))
        run_embedded(open_source(str(events_file)).events, pipeline, store)
        drift = {
            r[0] for r in store.query("SELECT drift_id FROM linewatch.drift_events").result_rows
        }
        gaps = store.query("SELECT count() FROM linewatch.reference_gap").result_rows[0][0]
    return drift, int(gaps)


class _Counts(TypedDict):
    frames: int
    distinct: int
    dead: int
    labels: int
    gaps: int
    drift: set[str]
    event_ids: set[str]


def _store_counts(store_at: Path | str) -> _Counts:
    """Counts in a worker's store: a chDB directory, or a DSN (the HTTP fixture server)."""
    dsn = f"chdb://{store_at}" if isinstance(store_at, Path) else store_at
    with ClickHouseStore.open(dsn) as store:
        q = store.query

        def count(sql: str) -> int:
            return int(q(sql).result_rows[0][0])

        return {
            "frames": count("SELECT count() FROM linewatch.frames"),
            "distinct": count("SELECT uniqExact(event_id) FROM linewatch.frames"),
            "dead": count("SELECT count() FROM linewatch.dead_letters"),
            "labels": count("SELECT count() FROM linewatch.labels"),
            "gaps": count("SELECT count() FROM linewatch.reference_gap"),
            "drift": {r[0] for r in q("SELECT drift_id FROM linewatch.drift_events").result_rows},
            "event_ids": {r[0] for r in q("SELECT event_id FROM linewatch.frames").result_rows},
        }


@pytest.fixture
def harness(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[KafkaHarness]:
    monkeypatch.setenv("LINEWATCH_DRIFT__GAP_WINDOW_EVENTS", "20")
    h = KafkaHarness(tmp_path)
    h.create_topics()
    yield h
    h.stop_all()


def _wait_group_stable(h: KafkaHarness, members: int, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    state, owners = "", 0
    while time.monotonic() < deadline:
        state, owners = h.assigned_members()
        if state == "Stable" and owners == members:
            return
        time.sleep(1.0)
    logs = "\n".join(w.log() for w in h.workers)
    raise AssertionError(f"group {h.group}: {state}, {owners}/{members} owners\n{logs}")


@pytest.mark.parametrize("store_kind", ["chdb", "http"])
def test_one_worker_stores_every_event_dead_letters_and_labels(
    harness: KafkaHarness, tmp_path: Path, store_kind: str, http_server_factory: ServerFactory
) -> None:
    events, labels = _events(
        "simulate:production?events=120&seed=21&scenario=demo&lines=3"
        "&start=2026-11-29T21:00:00Z&duration=3h",
        tmp_path,
    )
    malformed = [b"not json", b'{"event_id": "x"}', json.dumps({"line_id": "line-1"}).encode()]
    if store_kind == "http":  # the worker talks ClickHouse's HTTP protocol to the fixture
        store_at: Path | str = http_server_factory("worker-store").dsn()
        worker = harness.start_worker("solo", store_dsn=str(store_at))
    else:
        worker = harness.start_worker("solo")
        store_at = worker.store_path
    produced = harness.produce((event_key(e), e) for e in [*events, *malformed])
    harness.produce(((None, lab) for lab in labels), topic="labels")
    harness.wait_committed(produced)
    harness.wait_committed(len(labels), topic="labels")
    dlq = harness.read_topic("dlq", expected=len(malformed))
    metrics = worker.metrics()
    worker.stop()

    counts = _store_counts(store_at)
    # /metrics agrees with the store
    assert metrics["linewatch_events_consumed_total"] == produced
    assert metrics["linewatch_frames_stored_total"] == counts["frames"]
    dead_by_reason = {
        k: v for k, v in metrics.items() if k.startswith("linewatch_dead_letters_total{")
    }
    assert sum(dead_by_reason.values()) == counts["dead"]
    assert dead_by_reason['linewatch_dead_letters_total{reason="not_json"}'] == 1
    alarms = sum(v for k, v in metrics.items() if k.startswith("linewatch_drift_alarms_total{"))
    assert alarms == len(counts["drift"])
    assert metrics["linewatch_inference_seconds_count"] == counts["frames"]
    assert metrics["linewatch_end_to_end_seconds_count"] == counts["frames"]
    assert metrics["linewatch_flush_rows_count"] >= 1
    assert metrics["linewatch_flush_seconds_count"] == metrics["linewatch_flush_rows_count"]
    lag = {k: v for k, v in metrics.items() if k.startswith("linewatch_consumer_lag{")}
    assert len(lag) == harness.partitions and set(lag.values()) == {0.0}
    assert counts["frames"] == counts["distinct"] == len(events)
    assert counts["dead"] == len(malformed)
    assert counts["frames"] + counts["dead"] == produced
    assert counts["labels"] == len(labels)
    assert len(dlq) == len(malformed)
    reasons = sorted(dict(m.headers)["reason"].decode() for m in dlq)  # type: ignore[attr-defined]
    assert reasons == ["not_json", "schema_invalid", "schema_invalid"]
    drift, gaps = _embedded_drift(tmp_path / "events.jsonl", tmp_path, Settings())
    assert counts["drift"] == drift
    assert counts["gaps"] == gaps > 0


def test_two_workers_split_partitions_and_store_each_event_once(
    harness: KafkaHarness, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LINEWATCH_PLANT__LINES", SIX_LINES)
    events, _ = _events(
        "simulate:production?events=180&seed=22&scenario=stationary&lines=6"
        "&start=2026-11-29T08:00:00Z&duration=2h",
        tmp_path,
    )
    a = harness.start_worker("a")
    b = harness.start_worker("b")
    _wait_group_stable(harness, members=2)
    produced = harness.produce((event_key(e), e) for e in events)
    harness.wait_committed(produced)
    harness.stop_all()
    ca, cb = _store_counts(a.store_path), _store_counts(b.store_path)
    assert ca["frames"] > 0 and cb["frames"] > 0, "both workers should own partitions"
    assert not (ca["event_ids"] & cb["event_ids"])
    assert ca["frames"] + cb["frames"] == len(events)
    assert len(ca["event_ids"] | cb["event_ids"]) == len(events)


def test_sigkill_mid_stream_loses_nothing_duplicates_nothing_and_resumes_detectors(
    harness: KafkaHarness, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the broker evicts the killed worker 6 s (the broker's least) after its last heartbeat
    # instead of the default 60 s; the second worker's JoinGroup waited for that eviction
    # (~50 s of this test's wall time), then took over the same way
    monkeypatch.setenv("LINEWATCH_WORKER__SESSION_TIMEOUT_S", "6")
    events, _ = _events(
        "simulate:production?events=240&seed=23&scenario=demo&lines=3"
        "&start=2026-11-29T20:00:00Z&duration=4h",
        tmp_path,
    )
    store = tmp_path / "store-killed"
    first = harness.start_worker("first", store)
    _wait_group_stable(harness, members=1)

    killed = threading.Event()

    def paced() -> Iterator[tuple[bytes | None, bytes]]:
        for i, e in enumerate(events):  # ~20 events/s, slower than a worker on a quiet machine
            if i == len(events) * 2 // 3:  # a worker that is behind commits once it caught up
                killed.wait(timeout=180)  # (kafka/backlog.py): the last third comes after the kill
            time.sleep(0.05)
            yield event_key(e), e

    producer = threading.Thread(target=harness.produce, args=(paced(),))
    producer.start()
    deadline = time.monotonic() + 120
    while harness.committed() == 0 and time.monotonic() < deadline:
        time.sleep(0.1)
    first.kill()  # right after its first offset commit, with more events in flight
    killed.set()
    killed_at = harness.committed()
    produced = len(events)
    assert 0 < killed_at < produced, "the worker was not killed mid-stream"
    second = harness.start_worker("second", store)  # starts while the events still arrive
    producer.join()
    harness.wait_committed(produced)
    second.stop()
    counts = _store_counts(store)
    assert counts["frames"] == counts["distinct"] == len(events)
    assert "resumed its state" in second.log()
    drift, gaps = _embedded_drift(tmp_path / "events.jsonl", tmp_path, Settings())
    assert counts["drift"] == drift
    assert counts["gaps"] == gaps


def test_poison_event_is_dead_lettered_with_the_store_message_and_the_partition_moves_on(
    harness: KafkaHarness, tmp_path: Path
) -> None:
    events, _ = _events(
        "simulate:production?events=60&seed=24&scenario=stationary&lines=1"
        "&start=2026-11-29T06:00:00Z&duration=1h",
        tmp_path,
    )
    poison = json.loads(events[37])["event_id"]
    store = tmp_path / "store-poison"
    with ClickHouseStore.open(f"chdb://{store}") as s:
        s.apply_schema()  # a store-side rule the pipeline cannot know about
        s.command(
            f"ALTER TABLE linewatch.frames ADD CONSTRAINT no_poison CHECK event_id != '{poison}'"
        )
    worker = harness.start_worker("poison", store)
    produced = harness.produce((event_key(e), e) for e in events)  # one line: one partition
    harness.wait_committed(produced)
    dlq = harness.read_topic("dlq", expected=1)
    metrics = worker.metrics()
    worker.stop()
    with ClickHouseStore.open(f"chdb://{store}") as s:
        frames = {r[0] for r in s.query("SELECT event_id FROM linewatch.frames").result_rows}
        dead = s.query("SELECT reason, detail, payload FROM linewatch.dead_letters").result_rows
    assert len(frames) == len(events) - 1 and poison not in frames
    assert len(dead) == 1
    reason, detail, payload = dead[0]
    assert reason == "store_rejected" and "no_poison" in detail
    assert payload.encode() == events[37]
    assert [dict(m.headers)["reason"] for m in dlq] == [b"store_rejected"]  # type: ignore[attr-defined]
    assert metrics['linewatch_dead_letters_total{reason="store_rejected"}'] == 1
    assert "bisecting" in worker.log_path.read_text(errors="replace")


def test_sigterm_writes_and_commits_the_pending_rows(
    harness: KafkaHarness, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # no flush trigger can fire during the test: only the graceful stop can write the rows
    monkeypatch.setenv("LINEWATCH_CHECKPOINT__FLUSH_INTERVAL_S", "3600")
    monkeypatch.setenv("LINEWATCH_CHECKPOINT__FLUSH_ROWS", "1000000")
    events, _ = _events(
        "simulate:production?events=40&seed=24&scenario=stationary&lines=3"
        "&start=2026-11-29T10:00:00Z&duration=1h",
        tmp_path,
    )
    worker = harness.start_worker("term")
    _wait_group_stable(harness, members=1)
    produced = harness.produce((event_key(e), e) for e in events)
    deadline = time.monotonic() + 120
    while worker.metrics().get("linewatch_inference_seconds_count", 0) < produced:
        assert time.monotonic() < deadline, worker.log()
        time.sleep(0.2)
    metrics = worker.metrics()
    assert metrics["linewatch_frames_stored_total"] == 0  # every row is pending
    assert harness.committed() == 0
    worker.stop()  # SIGTERM
    assert worker.proc.returncode == 0, worker.log()
    assert harness.committed() == produced, worker.log()
    counts = _store_counts(worker.store_path)
    assert counts["frames"] == counts["distinct"] == len(events)
    assert "pending rows written and acknowledged" in worker.log()
