"""The worker's Prometheus registry exposes exactly the metrics the Grafana dashboard reads."""

from __future__ import annotations

from datetime import UTC, datetime

from prometheus_client.parser import text_string_to_metric_families

from schemas.records import DeadLetterRecord
from streams.runners.metrics import WorkerMetrics
from streams.runners.write_behind import FlushResult
from tests.test_deploy_manifests import WORKER_METRICS


def test_registry_has_the_dashboard_names_and_types() -> None:
    m = WorkerMetrics()
    m.set_lag("camera-events", {0: 1})
    m.dead_letters.labels(reason="x").inc()
    m.drift_alarms.labels(signal="brightness").inc()
    families = {f.name: f.type for f in text_string_to_metric_families(m.render().decode())}
    exposed = {
        (name + "_total" if kind == "counter" else name): kind for name, kind in families.items()
    }
    assert exposed == WORKER_METRICS


def test_flush_counts_frames_letters_and_latencies() -> None:
    m = WorkerMetrics()
    letter = DeadLetterRecord.build(
        reason="store_rejected",
        detail="",
        payload=b"{}",
        source="kafka:t:0:1",
        received_at=datetime(2026, 12, 1, tzinfo=UTC),
    )
    m.consumed(4)
    m.flushed(
        FlushResult(events=4, rows=9, frames=3, dead_letters=[letter], end_to_end_s=[0.2, 0.4, 1.5])
    )
    m.flushed(FlushResult(events=2))  # nothing written: no flush observed
    samples = {
        s.name + str(sorted(s.labels.items())): s.value
        for f in text_string_to_metric_families(m.render().decode())
        for s in f.samples
    }
    assert samples["linewatch_events_consumed_total[]"] == 4
    assert samples["linewatch_frames_stored_total[]"] == 3
    assert samples["linewatch_dead_letters_total[('reason', 'store_rejected')]"] == 1
    assert samples["linewatch_end_to_end_seconds_count[]"] == 3
    assert samples["linewatch_end_to_end_seconds_bucket[('le', '0.5')]"] == 2
    assert samples["linewatch_flush_rows_count[]"] == 1
    assert samples["linewatch_flush_rows_sum[]"] == 9
