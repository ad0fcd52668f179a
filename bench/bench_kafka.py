"""End to end through Kafka: frames/s of Kafka → ``linewatch worker`` → store, vs the embedded
runner on the same input, and produce-to-row latency at half the measured maximum rate.

Needs the local broker (``make kafka-up``). Prints, never asserts. Each phase uses fresh topics,
a fresh consumer group and a fresh embedded store.

- max rate: all events are produced at once after the worker is ready; throughput is
  ``frames / (last row built − first row built)`` from the store's ``ingested_at``;
- latency: events are produced at half that rate; latency = ``ingested_at`` of the frame's row
  (set just before the batch is inserted) − the moment the producer sent it.

Run: ``python bench/bench_kafka.py [--frames 600]``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from streams.config import Settings  # noqa: E402
from streams.inference import Detector  # noqa: E402
from streams.ingest.sources import open_source  # noqa: E402
from streams.pipeline import MonitoringPipeline  # noqa: E402
from streams.runners.embedded import run_embedded  # noqa: E402
from streams.runners.reference import load_reference  # noqa: E402
from streams.simulate import generate, parse_simulate_source  # noqa: E402
from streams.sinks import ClickHouseStore  # noqa: E402
from tests.worker_harness import KafkaHarness, event_key  # noqa: E402


def _events(n: int) -> list[bytes]:
    request = parse_simulate_source(
        f"simulate:production?events={n}&seed=91&scenario=stationary&lines=3"
        "&start=2026-11-29T00:00:00Z&duration=24h"
    )
    return [json.dumps(sim.event).encode() for sim in generate(request)]


def _wait_ready(port: int, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.5)
    raise RuntimeError("worker never became ready")


def _frame_times(store_path: Path) -> dict[str, datetime]:
    with ClickHouseStore.open(f"chdb://{store_path}") as store:
        rows = store.query("SELECT event_id, ingested_at FROM linewatch.frames").result_rows
    return {str(r[0]): r[1] for r in rows}


def _run_worker_phase(
    tmp: Path, name: str, events: list[bytes], rate: float | None
) -> tuple[dict[str, datetime], dict[str, float]]:
    harness = KafkaHarness(tmp / name, partitions=3)
    (tmp / name).mkdir()
    harness.create_topics()
    worker = harness.start_worker(name)
    try:
        _wait_ready(worker.port)
        time.sleep(3.0)  # let the group settle on its assignment
        sent_at: dict[str, float] = {}
        gap = 1.0 / rate if rate else 0.0
        start = time.time()
        from kafka import KafkaProducer

        producer = KafkaProducer(bootstrap_servers="127.0.0.1:9092", acks="all", linger_ms=2)
        for i, payload in enumerate(events):
            if gap:
                delay = start + i * gap - time.time()
                if delay > 0:
                    time.sleep(delay)
            sent_at[json.loads(payload)["event_id"]] = time.time()
            producer.send(harness.topics["events"], key=event_key(payload), value=payload)
        producer.flush()
        producer.close()
        harness.wait_committed(len(events), timeout=600)
    finally:
        harness.stop_all()
    return _frame_times(worker.store_path), sent_at


def _embedded_fps(tmp: Path, events: list[bytes]) -> float:
    path = tmp / "events.jsonl"
    path.write_bytes(b"\n".join(events) + b"\n")
    settings = Settings(store=f"chdb://{tmp / 'embedded'}")
    with ClickHouseStore.open(settings.store) as store:
        store.apply_schema()
        pipeline = MonitoringPipeline(settings, Detector.load(None), load_reference(settings))
        summary = run_embedded(open_source(str(path)).events, pipeline, store)
    return summary.frames_per_s


def main(argv: list[str] | None = None) -> None:
    """Print the Kafka benchmark."""
    parser = argparse.ArgumentParser(description="Kafka → worker → store vs embedded runner")
    parser.add_argument("--frames", type=int, default=600)
    args = parser.parse_args(argv)
    events = _events(args.frames)
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        embedded = _embedded_fps(tmp, events)
        times, _ = _run_worker_phase(tmp, "max", events, rate=None)
        span = (max(times.values()) - min(times.values())).total_seconds()
        kafka_fps = len(times) / span if span > 0 else float("nan")
        half = kafka_fps / 2
        times2, sent = _run_worker_phase(tmp, "half", events, rate=half)
        lat = sorted(
            (times2[eid].timestamp() - sent[eid]) * 1000.0 for eid in times2 if eid in sent
        )
    print(f"kafka benchmark: {len(events)} frames, shipped model, 1 worker, 3 partitions")
    print(f"  embedded runner            {embedded:8.1f} frames/s")
    print(
        f"  kafka -> worker -> store   {kafka_fps:8.1f} frames/s -> {kafka_fps / embedded:6.1%} "
        "of embedded"
    )
    p50 = statistics.median(lat)
    p99 = lat[min(len(lat) - 1, int(0.99 * len(lat)))]
    print(
        f"  at {half:.1f} events/s (half max): produce->row latency p50 {p50:.0f} ms, "
        f"p99 {p99:.0f} ms over {len(lat)} frames ({datetime.now(UTC):%H:%M} UTC)"
    )


if __name__ == "__main__":
    main()
