"""The broker goes away mid-stream and comes back: the worker recovers by itself.

Runs a *private* broker (tests/private_broker.py: own ports, own data directory) so that
stopping it never disturbs the shared one on :9092. The outage lasts
``LINEWATCH_TEST_OUTAGE_S`` seconds (default 20; the issue asks for 20-60 s: set it to 60 for
a longer run). Needs java 17+ and the broker jars (``deploy/kafka-local/kafka.sh lib``).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from streams.sinks import ClickHouseStore
from tests.private_broker import PrivateBroker
from tests.worker_harness import KafkaHarness, WorkerProcess, event_key

pytestmark = [pytest.mark.kafka, pytest.mark.slow]

OUTAGE_S = float(os.environ.get("LINEWATCH_TEST_OUTAGE_S", "20"))


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[PrivateBroker]:
    b = PrivateBroker(tmp_path / "broker")
    b.start()
    yield b
    b.stop()


def _events(n: int) -> list[bytes]:
    from streams.simulate import generate, parse_simulate_source

    request = parse_simulate_source(
        f"simulate:production?events={n}&seed=25&scenario=demo&lines=3"
        "&start=2026-11-29T10:00:00Z&duration=2h"
    )
    return [json.dumps(sim.event).encode() for sim in generate(request)]


def _wait(predicate: object, timeout_s: float, what: str, worker: WorkerProcess) -> float:
    assert callable(predicate)
    start = time.monotonic()
    while time.monotonic() - start < timeout_s:
        if predicate():
            return time.monotonic() - start
        assert worker.proc.poll() is None, f"worker exited:\n{worker.log()}"
        time.sleep(0.5)
    raise AssertionError(f"{what} not within {timeout_s}s\n{worker.log()}")


def test_broker_outage_mid_stream_worker_recovers_nothing_lost_nothing_duplicated(
    broker: PrivateBroker, tmp_path: Path
) -> None:
    harness = KafkaHarness(tmp_path, partitions=3, bootstrap=broker.bootstrap)
    harness.create_topics()
    events = _events(160)
    first, second = events[:80], events[80:]
    worker = harness.start_worker("survivor")
    try:
        _wait(lambda: worker.get("/readyz")[0] == 200, 180, "ready", worker)
        harness.produce((event_key(e), e) for e in first)
        harness.wait_committed(len(first))

        # events in flight when the broker goes: produced, maybe not consumed yet
        harness.produce((event_key(e), e) for e in second[:20])
        broker.stop()
        down_at = time.monotonic()
        _wait(lambda: worker.get("/readyz")[0] == 503, 30, "/readyz 503 while down", worker)
        status, body = worker.get("/readyz")
        assert status == 503 and json.loads(body)["broker_reachable"] is False
        time.sleep(max(0.0, OUTAGE_S - (time.monotonic() - down_at)))
        assert worker.proc.poll() is None, f"worker died during the outage:\n{worker.log()}"
        assert worker.get("/livez")[0] == 200

        broker.start()
        harness.produce((event_key(e), e) for e in second[20:])
        harness.wait_committed(len(events), timeout=240)
        _wait(lambda: worker.get("/readyz")[0] == 200, 60, "ready again", worker)
    finally:
        harness.stop_all()
    with ClickHouseStore.open(f"chdb://{worker.store_path}") as store:
        total, distinct = store.query(
            "SELECT count(), uniqExact(event_id) FROM linewatch.frames"
        ).result_rows[0]
        dead = store.query("SELECT count() FROM linewatch.dead_letters").result_rows[0][0]
    assert total == distinct == len(events), worker.log()
    assert dead == 0
    assert "is unreachable: not ready" in worker.log_path.read_text(errors="replace")
