"""A partition's state hands over between real ``linewatch worker`` processes on a SIGKILL.

Two workers in one consumer group share one store (the ClickHouse-HTTP fixture server over
chDB, as a plant's workers share one ClickHouse). The belt world (``tests/belt_world.py``) runs
through them: its first part is stored and snapshotted, then, while its fault episode goes on,
the worker owning line 1 (the frozen camera) is SIGKILLed mid-stream. The survivor takes its
partitions, restores their snapshots and goes on; the drift events it stores — camera-health
alarms, product-mix alarms and the causes the cause memory gives them — must be those of one
uninterrupted run over the same events (the pipeline in-process: ``tests/test_worker_kafka.py``
checks that a worker stores exactly what it computes). A worker that restarted the partition
cold would lose each camera's previous frame, the warmed-up detectors and the remembered
alarms, and store other drift events.

Needs the local broker (``make kafka-up``). The workers' Kafka session timeout is 6 s
(``LINEWATCH_WORKER__SESSION_TIMEOUT_S``, the broker's least), so the group notices the killed
member in seconds. On the shared 2-core machine the test takes ~90 s: ~20 s to start the
workers (and build the events meanwhile), ~20 s for the first part, ~15 s from the kill to the
last commit, ~10 s for the uninterrupted run, the rest stopping the workers and the store.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from streams.config import Settings
from streams.drift.cause import CAMERA_SIGNALS
from streams.drift.product_mix import PRODUCT_MIX_SIGNAL
from streams.inference import Detector
from streams.ingest import RawRecord
from streams.pipeline import MonitoringPipeline
from streams.runners.reference import load_reference
from streams.sinks import ClickHouseStore
from tests.belt_world import belt_records
from tests.store_fixtures import ServerFactory
from tests.worker_harness import KafkaHarness, WorkerProcess, event_key

pytestmark = [pytest.mark.kafka, pytest.mark.slow]

EVENTS, FAULT_AT, SPLIT = 480, 240, 320
"""As in tests/test_partition_state.py: the split falls inside the fault episode, after its first
alarms and before the frozen camera's ``repeated_frame`` alarm and the ``review_band`` alarm whose
cause (``camera``) comes from the remembered alarms."""

Alarm = tuple[str, str, str, str]
"""``(drift_id, line_id, signal, cause)``"""


def _uninterrupted(records: list[RawRecord]) -> set[Alarm]:
    settings = Settings(store={"dsn": "chdb:///nonexistent-unused"})
    pipeline = MonitoringPipeline(settings, Detector.load(None), load_reference(settings))
    alarms: set[Alarm] = set()
    for k in range(0, EVENTS, 8):
        out = pipeline.process(records[k : k + 8])
        alarms |= {(d.drift_id, d.line_id, d.signal, d.cause) for d in out.drift_events}
    return alarms


def _stored(dsn: str) -> set[Alarm]:
    with ClickHouseStore.open(dsn) as store:
        rows = store.query(
            "SELECT drift_id, line_id, signal, cause FROM linewatch.drift_events FINAL"
        ).result_rows
    return {(str(a), str(b), str(c), str(d)) for a, b, c, d in rows}


def _owns(worker: WorkerProcess, partition: int) -> bool:
    """Whether ``worker`` reports a consumer lag for ``partition`` (it is assigned to it)."""
    return any(
        k.startswith("linewatch_consumer_lag{") and f'partition="{partition}"' in k
        for k in worker.metrics()
    )


def _wait(what: str, ok: object, h: KafkaHarness, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if callable(ok) and ok():
            return
        time.sleep(0.3)
    logs = "\n".join(f"--- {w.name}\n{w.log()}" for w in h.workers)
    raise AssertionError(f"{what}: not within {timeout} s\n{logs}")


@pytest.fixture
def harness(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[KafkaHarness]:
    monkeypatch.setenv("LINEWATCH_WORKER__SESSION_TIMEOUT_S", "6")  # default 60; the broker's least
    h = KafkaHarness(tmp_path, partitions=3)  # line-1 -> partition 1, line-2 -> partition 2
    h.create_topics()
    yield h
    h.stop_all()


def test_a_sigkilled_workers_partitions_continue_in_the_other_as_if_uninterrupted(
    harness: KafkaHarness, http_server_factory: ServerFactory
) -> None:
    dsn = http_server_factory("shared-store").dsn()
    with ClickHouseStore.open(dsn) as store:
        store.apply_schema()
    workers = [harness.start_worker(name, store_dsn=dsn) for name in ("a", "b")]
    records = belt_records(EVENTS, fault_at=FAULT_AT)  # while the workers start
    payloads = [r.payload for r in records]
    assert [event_key(p) for p in payloads[:2]] == [b"line-1", b"line-1"]

    def split() -> bool:
        state, owners = harness.assigned_members()
        return state == "Stable" and owners == 2

    _wait("both workers own partitions", split, harness, timeout=90)
    harness.produce((event_key(p), p) for p in payloads[:SPLIT])
    harness.wait_committed(SPLIT, timeout=90)  # stored and snapshotted by both
    _wait("line 1's owner known", lambda: any(_owns(w, 1) for w in workers), harness)
    doomed = next(w for w in workers if _owns(w, 1))
    survivor = next(w for w in workers if w is not doomed)

    def paced() -> Iterator[tuple[bytes | None, bytes]]:
        for p in payloads[SPLIT:]:  # ~40 events/s: the kill lands mid-stream
            time.sleep(0.025)
            yield event_key(p), p

    def stored_frames() -> int:
        """Frames written so far (a flush writes rows before the snapshot that commits them:
        the kill lands between snapshots, so the survivor replays from the newest one)."""
        with ClickHouseStore.open(dsn) as store:
            rows = store.query("SELECT count() FROM linewatch.frames FINAL").result_rows
        return int(rows[0][0])

    producer = threading.Thread(target=harness.produce, args=(paced(),))
    producer.start()
    _wait("the episode flowing", lambda: stored_frames() > SPLIT, harness)
    doomed.kill()
    killed_at = stored_frames()
    producer.join()
    assert SPLIT < killed_at < EVENTS, "the worker was not killed mid-stream"
    harness.wait_committed(EVENTS, timeout=90)
    survivor.stop()

    assert "resumed its state" in survivor.log()
    expected = _uninterrupted(records)
    # the events after the kill carry camera-health and product-mix alarms, and a cause that
    # comes from an alarm remembered from before the kill
    assert {a[2] for a in expected} & CAMERA_SIGNALS
    assert any(a[2] == PRODUCT_MIX_SIGNAL for a in expected)
    assert ("review_band", "camera") in {(a[2], a[3]) for a in expected}
    stored = _stored(dsn)
    assert stored == expected, json.dumps(
        {"missing": sorted(expected - stored), "extra": sorted(stored - expected)}, indent=1
    )
