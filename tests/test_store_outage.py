"""A ClickHouse server store that goes away mid-stream and comes back.

The HTTP fixture server (chDB behind ClickHouse's HTTP protocol) is stopped while events flow
and started again on the same port after ``LINEWATCH_TEST_STORE_OUTAGE_S`` seconds (12 by
default; the issue's 30 s is ``LINEWATCH_TEST_STORE_OUTAGE_S=30``). The embedded runner and the
Kafka worker must pause (read no more than a bounded amount meanwhile), resume by themselves,
and end with every event stored exactly once.
"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pytest

from streams.config import Settings
from streams.inference import Detector
from streams.ingest.sources import open_source
from streams.pipeline import MonitoringPipeline, PipelineOutput
from streams.runners.embedded import run_embedded
from streams.runners.reference import load_reference
from streams.sinks import ClickHouseStore
from tests.conftest import write_simulated
from tests.store_fixtures import ChdbHttpServer, ServerFactory, outage_seconds

pytestmark = pytest.mark.slow


def _counts(dsn: str) -> tuple[int, int, int]:
    """(frames, distinct frame event ids, dead letters) in the store behind ``dsn``."""
    with ClickHouseStore.open(dsn) as store:
        frames, distinct = store.query(
            "SELECT count(), uniqExact(event_id) FROM linewatch.frames"
        ).result_rows[0]
        (dead,) = store.query("SELECT count() FROM linewatch.dead_letters").result_rows[0]
    return int(frames), int(distinct), int(dead)


class _Outage:
    """Stops a server now and starts it again ``seconds`` later, in a background thread."""

    def __init__(self, server: ChdbHttpServer, seconds: float) -> None:
        self.server = server
        self.seconds = seconds
        self.down = threading.Event()
        self.back = threading.Event()
        self.errors: list[BaseException] = []
        self._thread = threading.Thread(target=self._restart, daemon=True)

    def begin(self) -> None:
        self.server.stop()
        self.down.set()
        self._thread.start()

    def _restart(self) -> None:
        time.sleep(self.seconds)
        try:
            self.server.start()
        except BaseException as exc:  # reported by the test, not lost in the thread
            self.errors.append(exc)
        finally:
            self.back.set()

    def join(self) -> None:
        self._thread.join(timeout=self.seconds + 120)
        assert not self.errors, self.errors


def test_embedded_runner_pauses_through_a_store_outage_and_loses_nothing(
    http_server_factory: ServerFactory, tmp_path: Path
) -> None:
    server = http_server_factory("outage")
    events = tmp_path / "events.jsonl"
    total, _ = write_simulated(
        events,
        "simulate:production?events=240&seed=13&scenario=stationary&lines=3"
        "&start=2026-11-29T05:00:00Z&duration=4h",
    )
    with events.open("ab") as fh:  # a few dead letters must survive the outage too
        fh.write(b"not json\n" + json.dumps({"event_id": "x"}).encode() + b"\n")
    total += 2
    settings = Settings(
        store={"dsn": server.dsn()},
        checkpoint={"flush_rows": 40, "flush_interval_s": 0.5},
        inference={"batch_frames": 8},
    )
    outage = _Outage(server, outage_seconds())
    batches = 0
    read_while_down = 0

    def on_batch(read: int, out: PipelineOutput) -> None:
        nonlocal batches, read_while_down
        batches += 1
        if batches == 8:  # ~64 events in: the store goes away
            outage.begin()
        elif outage.down.is_set() and not outage.back.is_set():
            read_while_down += read

    pipeline = MonitoringPipeline(settings, Detector.load(None), load_reference(settings))
    with ClickHouseStore.open(settings.store.dsn) as store:
        store.apply_schema()
        summary = run_embedded(open_source(str(events)).events, pipeline, store, on_batch=on_batch)
    outage.join()

    assert outage.back.is_set() and server.starts == 2
    assert summary.records_read == total
    # paused: while the server was down the runner read at most what fills one flush batch
    # (rows >= frames) plus the micro-batch read ahead, not the rest of the file
    assert read_while_down <= settings.checkpoint.flush_rows + 2 * settings.inference.batch_frames
    assert read_while_down < total - 8 * settings.inference.batch_frames
    frames, distinct, dead = _counts(server.dsn())
    assert frames == distinct == summary.frames == total - 2
    assert dead == 2


@pytest.mark.kafka
def test_worker_pauses_through_a_store_outage_and_loses_nothing(
    http_server_factory: ServerFactory, tmp_path: Path
) -> None:
    from streams.simulate import generate, parse_simulate_source
    from tests.worker_harness import KafkaHarness, event_key

    server = http_server_factory("worker-store")
    events = [
        json.dumps(sim.event).encode()
        for sim in generate(
            parse_simulate_source(
                "simulate:production?events=200&seed=17&scenario=stationary&lines=3"
                "&start=2026-11-29T05:00:00Z&duration=4h"
            )
        )
    ]
    first, second = events[:100], events[100:]
    harness = KafkaHarness(tmp_path)
    harness.create_topics()
    try:
        worker = harness.start_worker("w", store_dsn=server.dsn())
        harness.produce((event_key(e), e) for e in first)
        harness.wait_committed(len(first))
        outage = _Outage(server, outage_seconds())
        outage.begin()
        harness.produce((event_key(e), e) for e in second)
        # while the store is down: the worker lives, and acknowledges nothing it has not stored
        time.sleep(max(outage.seconds - 2.0, 1.0))
        assert not outage.back.is_set(), "the outage ended before it could be observed"
        assert worker.proc.poll() is None, worker.log()
        assert harness.committed() == len(first)
        outage.join()
        harness.wait_committed(len(events))
        worker.stop()
    finally:
        harness.stop_all()
    frames, distinct, dead = _counts(server.dsn())
    assert frames == distinct == len(events)
    assert dead == 0
    assert "lost ClickHouse at" in worker.log()  # the worker said why it paused


def test_a_server_crash_between_commit_and_answer_duplicates_nothing(
    http_server_factory: ServerFactory, tmp_path: Path
) -> None:
    """The server stores an INSERT and dies before answering: the retry must skip those rows."""
    server = http_server_factory("crash")
    events = tmp_path / "events.jsonl"
    total, _ = write_simulated(
        events,
        "simulate:production?events=160&seed=19&scenario=stationary&lines=3"
        "&start=2026-11-29T05:00:00Z&duration=4h",
    )
    settings = Settings(
        store={"dsn": server.dsn()},
        checkpoint={"flush_rows": 30, "flush_interval_s": 0.5},
        inference={"batch_frames": 8},
    )
    pipeline = MonitoringPipeline(settings, Detector.load(None), load_reference(settings))
    with ClickHouseStore.open(settings.store.dsn) as store:
        store.apply_schema()  # DDL and the migration ledger are not INSERTs with data
        server.stop()
        server.start(crash_after_inserts=3)
        crashed = threading.Event()

        def restart_after_crash() -> None:
            assert server.proc is not None
            server.proc.wait(timeout=300)
            crashed.set()
            server.stop()
            server.start()

        watcher = threading.Thread(target=restart_after_crash, daemon=True)
        watcher.start()
        summary = run_embedded(open_source(str(events)).events, pipeline, store)
        watcher.join(timeout=120)
    assert crashed.is_set(), "the server never crashed: the fault was not injected"
    assert "crashing after insert 3, before answering it" in server.log()
    assert summary.frames == total
    frames, distinct, dead = _counts(server.dsn())
    assert frames == distinct == total
    assert dead == 0
