"""The worker requests audits as it processes events (issue 21): a real ``linewatch worker`` on
the local broker, events produced to it, ``audit-requests`` consumed; the chosen share matches
the budget and each chosen unit's inclusion probability is stored, so that its label, when it
comes back, is weighted by design.

Needs the local broker (``make kafka-up``; ``make test`` starts it).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from kafka.admin import KafkaAdminClient, NewTopic

from streams.config import Settings
from streams.inference.threshold import operating_threshold
from streams.readiness.reconcile import reconcile
from streams.readiness.samples import sample_label_line
from streams.sinks import ClickHouseStore
from streams.sinks.audits import design_outcomes
from tests.test_readiness_store import ingest_labels
from tests.worker_harness import KafkaHarness

pytestmark = [pytest.mark.kafka, pytest.mark.slow]

EVENTS = 160
SHARE = 0.2


@pytest.fixture
def harness(tmp_path: Path) -> Iterator[KafkaHarness]:
    h = KafkaHarness(tmp_path)
    h.client_env = {
        "LINEWATCH_WORKER__AUDIT_BUDGET": f"{SHARE:.0%}",
        "LINEWATCH_KAFKA__TOPIC_AUDIT_REQUESTS": f"lw-{h.run_id}-audit-requests",
    }
    h.create_topics()
    admin = KafkaAdminClient(bootstrap_servers=h.bootstrap, request_timeout_ms=20000)
    try:
        admin.create_topics([NewTopic(f"lw-{h.run_id}-audit-requests", 1, 1)])
    finally:
        admin.close()
    yield h
    h.stop_all()


def test_the_worker_publishes_audit_requests_at_the_budget_and_stores_them(
    harness: KafkaHarness, tmp_path: Path
) -> None:
    from streams.simulate import generate, parse_simulate_source

    source = (
        f"simulate:production?events={EVENTS}&seed=31&lines=3"
        "&start=2026-11-29T08:00:00Z&duration=2h"
    )
    events = [json.dumps(s.event).encode() for s in generate(parse_simulate_source(source))]
    worker = harness.start_worker("audits")
    harness.produce((None, e) for e in events)
    harness.wait_committed(EVENTS)
    topic = f"lw-{harness.run_id}-audit-requests"
    messages = _read(harness, topic)
    worker.stop()
    requests = [json.loads(m.value) for m in messages]  # type: ignore[attr-defined]
    # a fresh store has no reference yet: every unit at the budget's share (0.2); the chosen
    # count is Binomial(160, 0.2): 32 expected, sd 5.1
    assert abs(len(requests) - SHARE * EVENTS) <= 4 * (EVENTS * SHARE * (1 - SHARE)) ** 0.5
    assert {r["audit"]["policy"] for r in requests} == {"stream:20%"}
    assert {round(r["audit"]["inclusion_probability"], 9) for r in requests} == {SHARE}
    assert all(r["camera_id"] and r["line_id"] and r["band"] for r in requests)
    ids = {r["event_id"] for r in requests}
    assert len(ids) == len(requests)
    dsn = f"chdb://{worker.store_path}"
    with ClickHouseStore.open(dsn) as store:
        stored = store.query(
            "SELECT event_id, plan_id, inclusion_probability FROM linewatch.audit_units FINAL"
        ).result_rows
        assert {r[0] for r in stored} == ids
        assert {(r[1], round(r[2], 9)) for r in stored} == {("stream:20%", SHARE)}
        # the labels come back without their own audit: the stored probability weights them
        ingest_labels(store, [sample_label_line(i) for i in sorted(ids)])
        settings = Settings(store={"dsn": dsn})
        reconcile(store, settings, threshold=operating_threshold(settings))
        outcomes = design_outcomes(store, 0.5, 0.15)
    assert len(outcomes) == len(ids)
    assert {(o.policy, round(o.inclusion_probability, 9)) for o in outcomes} == {
        ("plan:stream:20%", SHARE)
    }


def _read(h: KafkaHarness, topic: str) -> list[object]:
    from kafka import KafkaConsumer, TopicPartition

    consumer = KafkaConsumer(
        bootstrap_servers=h.bootstrap, auto_offset_reset="earliest", consumer_timeout_ms=5000
    )
    consumer.assign([TopicPartition(topic, 0)])
    out = list(consumer)
    consumer.close()
    return out


def test_with_a_lab_calibration_and_history_each_unit_gets_its_score_probability(
    harness: KafkaHarness, tmp_path: Path
) -> None:
    """The worker's store holds a lab calibration and a day of frames of every slice before it
    starts: each request carries the score plan's probability of its unit (as the same auditor
    built here gives it), and the number of requests is what those probabilities expect."""
    from datetime import timedelta

    import numpy as np

    from streams.readiness.samples import sample_frame
    from streams.readiness.stream_audits import StreamAudits
    from streams.simulate import generate, parse_simulate_source
    from tests.test_estimation import _write_lab

    start = datetime(2026, 11, 29, 8, tzinfo=UTC)
    store_path = tmp_path / "store-history"
    dsn = f"chdb://{store_path}"
    settings = Settings(store={"dsn": dsn}, worker={"audit_budget": "20%"})
    rng = np.random.default_rng(8)
    slices = [(f"line-{i}", s, li) for i in (1, 2, 3) for s in ("day", "evening", "night")
              for li in ("dark", "dim", "normal", "bright")]  # fmt: skip
    with ClickHouseStore.open(dsn) as store:
        store.apply_schema()
        _write_lab(store, rng, n=300)
        history = []
        for i in range(3600):  # one day before the events, every slice
            key = slices[i % len(slices)]
            score = float(rng.beta(6, 2) if rng.random() < 0.03 else rng.beta(1.5, 8))
            history.append(
                sample_frame(f"history-{i}", line_id=key[0], shift=key[1], lighting=key[2],
                             max_confidence=score, captured_at=start - timedelta(seconds=24 * i))
            )  # fmt: skip
        store.insert(history)
        auditor = StreamAudits(store, settings).current()
    assert auditor.calibration is not None  # the score plan's path
    source = (
        f"simulate:production?events={EVENTS}&seed=32&lines=3"
        "&start=2026-11-29T08:00:00Z&duration=2h"
    )
    events = [json.dumps(s.event).encode() for s in generate(parse_simulate_source(source))]
    worker = harness.start_worker("history", store_path)
    harness.produce((None, e) for e in events)
    harness.wait_committed(EVENTS)
    messages = _read(harness, f"lw-{harness.run_id}-audit-requests")
    worker.stop()
    requests = [json.loads(m.value) for m in messages]  # type: ignore[attr-defined]
    for r in requests:
        key = (r["line_id"], r["shift"], r["lighting"])
        assert r["audit"]["inclusion_probability"] == pytest.approx(
            auditor.probability(key, r["score"]), rel=1e-9
        )
    with ClickHouseStore.open(dsn) as store:
        streamed = store.query(
            "SELECT line_id, shift, lighting, max_confidence FROM linewatch.frames FINAL "
            "WHERE event_id NOT LIKE 'history-%'"
        ).result_rows
    assert len(streamed) == EVENTS
    pis = [auditor.probability((a, b, c), float(s)) for a, b, c, s in streamed]
    expected, sd = sum(pis), sum(q * (1 - q) for q in pis) ** 0.5
    assert len({round(q, 9) for q in pis}) > 5  # per unit, by score
    assert abs(len(requests) - expected) <= 4 * sd + 1
