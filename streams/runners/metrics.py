"""Prometheus metrics of a streaming worker, served as ``/metrics`` on its web port.

One :class:`WorkerMetrics` per worker process, with its own registry (so tests and several
apps in one process do not collide). The names are what the Grafana dashboard reads:

=====================================  ====================================================
``linewatch_events_consumed_total``     events taken from ``camera-events``
``linewatch_frames_stored_total``       frame rows written by flushes
``linewatch_dead_letters_total``        dead letters written, by ``reason``
``linewatch_drift_alarms_total``        drift events written, by ``signal``
``linewatch_inference_seconds``         model time per frame (histogram)
``linewatch_end_to_end_seconds``        Kafka record timestamp (set by the camera's producer
                                        when it publishes the capture) → flush done (histogram)
``linewatch_flush_seconds``             duration of a flush (histogram)
``linewatch_flush_rows``                rows per flush, snapshots included (histogram)
``linewatch_consumer_lag``              log-end offset − committed offset, by
                                        ``topic``/``partition``, set at each scrape
=====================================  ====================================================

>>> from streams.runners.write_behind import FlushResult
>>> m = WorkerMetrics()
>>> m.consumed(3)
>>> m.flushed(FlushResult(events=3, rows=5, frames=3, seconds=0.02))
>>> m.set_lag("camera-events", {0: 7})
>>> text = m.render().decode()
>>> "linewatch_frames_stored_total 3.0" in text
True
>>> 'linewatch_consumer_lag{partition="0",topic="camera-events"} 7.0' in text
True
"""

from __future__ import annotations

from collections.abc import Mapping

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
)

from streams.pipeline import PipelineOutput
from streams.runners.write_behind import FlushResult

__all__ = ["CONTENT_TYPE", "WorkerMetrics"]

CONTENT_TYPE = "text/plain; version=0.0.4"
"""Prometheus text format 0.0.4 (aiohttp adds the charset itself: ``utf-8``)."""

_LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0, 30.0, 60.0)
_INFERENCE_BUCKETS = (0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0)
_ROWS_BUCKETS = (1, 10, 50, 100, 250, 500, 1000, 2000, 4000, 8000)


class WorkerMetrics:
    """The worker's counters, histograms and lag gauge, in a registry of their own."""

    def __init__(self) -> None:
        # no ``*_created`` series (process-wide setting of prometheus-client): dashboards and
        # KEDA read the values, and the extra series only double what Prometheus stores
        disable_created_metrics()  # type: ignore[no-untyped-call]
        self.registry = r = CollectorRegistry()
        self.events = Counter(
            "linewatch_events_consumed", "Events taken from camera-events.", registry=r
        )
        self.frames = Counter(
            "linewatch_frames_stored", "Frame rows written to the store.", registry=r
        )
        self.dead_letters = Counter(
            "linewatch_dead_letters", "Dead letters written, by reason.", ["reason"], registry=r
        )
        self.drift_alarms = Counter(
            "linewatch_drift_alarms", "Drift events written, by signal.", ["signal"], registry=r
        )
        self.inference = Histogram(
            "linewatch_inference_seconds",
            "Model time per frame.",
            buckets=_INFERENCE_BUCKETS,
            registry=r,
        )
        self.end_to_end = Histogram(
            "linewatch_end_to_end_seconds",
            "Capture (Kafka record timestamp from the camera's producer) to stored.",
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.flush_seconds = Histogram(
            "linewatch_flush_seconds",
            "Duration of a store flush.",
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.flush_rows = Histogram(
            "linewatch_flush_rows", "Rows per store flush.", buckets=_ROWS_BUCKETS, registry=r
        )
        self.lag = Gauge(
            "linewatch_consumer_lag",
            "Log-end offset minus committed offset of the worker group.",
            ["topic", "partition"],
            registry=r,
        )

    def consumed(self, n: int) -> None:
        """Count events taken from Kafka."""
        self.events.inc(n)

    def processed(self, out: PipelineOutput) -> None:
        """Record the model time of a processed micro-batch."""
        for frame in out.frames:
            self.inference.observe(frame.inference_ms / 1000.0)

    def flushed(self, result: FlushResult) -> None:
        """Record what a flush wrote."""
        if not result.rows:
            return
        self.frames.inc(result.frames)
        for letter in result.dead_letters:
            self.dead_letters.labels(reason=letter.reason).inc()
        for drift in result.drift_events:
            self.drift_alarms.labels(signal=drift.signal).inc()
        for seconds in result.end_to_end_s:
            self.end_to_end.observe(seconds)
        self.flush_seconds.observe(result.seconds)
        self.flush_rows.observe(result.rows)

    def set_lag(self, topic: str, lag_by_partition: Mapping[int, int]) -> None:
        """Replace the lag gauge's series by the partitions owned now."""
        self.lag.clear()
        for partition, lag in sorted(lag_by_partition.items()):
            self.lag.labels(topic=topic, partition=str(partition)).set(lag)

    def render(self) -> bytes:
        """The registry in Prometheus text format."""
        return generate_latest(self.registry)
