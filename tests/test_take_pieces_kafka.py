"""A take cut into pieces, end to end: a real broker and a real ``linewatch worker``.

Events produced 10 s ago (their Kafka timestamps) are past their latency budget as soon as
the worker runs them: the first model batch of a take is cut for a write before the rest of
the take runs, and still every event is stored once and committed.

Needs the local broker (``make kafka-up``; ``make test`` starts it).
"""

from __future__ import annotations

import json
import time
from collections import defaultdict
from pathlib import Path

import pytest
from kafka import KafkaProducer

from streams.runners.latency_trace import LatencyTrace
from streams.simulate import generate, parse_simulate_source
from streams.sinks import ClickHouseStore
from tests.worker_harness import KafkaHarness, event_key

pytestmark = [pytest.mark.kafka, pytest.mark.slow]


def test_the_first_batches_of_a_late_take_are_written_before_the_take_ends(
    tmp_path: Path,
) -> None:
    trace = tmp_path / "trace.jsonl"
    harness = KafkaHarness(
        tmp_path,
        client_env={
            "LINEWATCH_INFERENCE__BATCH_FRAMES": "2",
            "LINEWATCH_INFERENCE__MAX_BATCH_WAIT_MS": "0",  # a take's events run together
            "LINEWATCH_WORKER__TAKE_WINDOW_S": "1.0",
            # a budget that the rest of a 48-event take outlasts even with a fast model
            "LINEWATCH_CHECKPOINT__FLUSH_INTERVAL_S": "0.02",
            "LINEWATCH_WORKER__LATENCY_TRACE": str(trace),
            "LINEWATCH_PLANT__LINES": json.dumps(
                {f"line-{i}": {"takt_units_per_minute": 60} for i in range(1, 4)}
            ),
        },
    )
    harness.create_topics()
    try:
        worker = harness.start_worker("pieces")
        deadline = time.monotonic() + 120
        while harness.assigned_members() != ("Stable", 1):
            assert time.monotonic() < deadline, worker.log()
            time.sleep(0.5)
        events = [
            json.dumps(sim.event).encode()
            for sim in generate(
                parse_simulate_source(
                    "simulate:production?events=48&seed=31&scenario=stationary&lines=3"
                    "&start=2026-11-29T10:00:00Z&duration=1h"
                )
            )
        ]
        producer = KafkaProducer(bootstrap_servers=harness.bootstrap, acks="all", linger_ms=50)
        ten_s_ago = int((time.time() - 10) * 1000)
        for e in events:
            producer.send(
                harness.topics["events"], key=event_key(e), value=e, timestamp_ms=ten_s_ago
            )
        producer.flush(timeout=60)
        producer.close()
        harness.wait_committed(len(events))
    finally:
        harness.stop_all()
    with ClickHouseStore.open(f"chdb://{worker.store_path}") as store:
        stored = store.query("SELECT count(), uniqExact(event_id) FROM linewatch.frames")
    assert stored.result_rows[0] == (len(events), len(events))
    # events released to the model together (one take) share their "batched" stamp; before,
    # a take was cut only after all of it ran, so no cut of a take came before its last state
    takes: dict[float, list[dict[str, float]]] = defaultdict(list)
    for line in LatencyTrace.read(trace):
        takes[line["batched"]].append(line)
    split = [
        t
        for t in takes.values()
        if len(t) > 2 and min(ln["cut"] for ln in t) < max(ln["stated"] for ln in t)
    ]
    assert split, f"no take was cut into pieces: {sorted(len(t) for t in takes.values())}"
    for take in split:  # a piece is whole model batches, the oldest first
        cuts = sorted({ln["cut"] for ln in take})
        first = [ln for ln in take if ln["cut"] == cuts[0]]
        assert len(first) % 2 == 0
        assert max(ln["stated"] for ln in first) <= min(
            ln["stated"] for ln in take if ln["cut"] != cuts[0]
        )
