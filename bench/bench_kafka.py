"""End to end through Kafka: frames/s of Kafka → ``linewatch worker`` → store, vs the embedded
runner on the same input, and produce-to-row latency at half the measured maximum rate.

Needs the local broker (``make kafka-up``). Prints, never asserts. Each phase uses fresh topics,
a fresh consumer group and a fresh embedded store.

- max rate: all events are produced at once after the worker is ready; throughput is
  ``frames / (last row stored − first event produced)`` ("start to caught-up", the same span
  the embedded runner's figure covers), with the store's ``ingested_at`` (the worker sets it
  when the flush holding the row starts). The older figure, ``frames / (last − first
  ingested_at)``, is printed too;
- latency: events are produced at half that rate; latency = ``ingested_at`` of the frame's row
  − the moment the producer sent it;
- the CPU ceiling: cores / (worker + broker CPU seconds per frame at max rate), the most any
  worker could reach on this machine while the broker runs on the same cores;
- two workers (same group, separate stores) at max rate: throughput and how many frames each
  stored (partition split). On a 2-core machine shared with the broker this shows correctness
  of the split more than speed;
- whole process (``--whole-only`` runs just this, ``bench/kafka_whole.py``): ``linewatch run``
  over the events as a file, and one ``linewatch worker`` started after all events were produced,
  each a fresh process in an empty folder; the ratio is run's seconds from start to exit over the
  worker's seconds from start until its group's lag is 0 (every offset committed), start-up and
  imports included; with the CPU ratios, the start-up to the first consumed event and the load
  average, ``--repeats`` times (median).

- ``--worker-only``: just that worker, ``--repeats`` times: its start-up (first event after the
  process start and after the broker answered, CPU seconds then) and its time to lag 0.

Run: ``python bench/bench_kafka.py [--frames 600] [--whole-only | --worker-only] [--repeats 3]``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from streams.config import Settings  # noqa: E402
from streams.ingest.sources import open_source  # noqa: E402
from streams.runners.embedded import run_embedded  # noqa: E402
from streams.runners.runtime import build_runtime  # noqa: E402
from streams.simulate import generate, parse_simulate_source  # noqa: E402
from streams.sinks import ClickHouseStore  # noqa: E402
from tests.worker_harness import KafkaHarness, event_key  # noqa: E402

sys.path.insert(0, str(ROOT / "bench"))
from kafka_whole import (  # noqa: E402
    Whole,
    brokers_cpu_s,
    cpu_s,
    print_wholes,
    print_worker_starts,
    whole_process,
    worker_start,
)

LINES = 6
"""Six camera lines: with 6 partitions (keyed by line) two workers get data to share."""


def _events(n: int) -> list[bytes]:
    request = parse_simulate_source(
        f"simulate:production?events={n}&seed=91&scenario=stationary&lines={LINES}"
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


def _machine_busy_s() -> float:
    """CPU seconds all cores spent busy (not idle or waiting on I/O) since boot."""
    ticks = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    return (sum(ticks) - ticks[3] - ticks[4]) / os.sysconf("SC_CLK_TCK")


@dataclass
class Phase:
    """One worker phase: row and send times, frames per worker, CPU seconds while it ran."""

    times: dict[str, datetime]
    sent: dict[str, float]
    split: list[int]
    workers_cpu_s: float
    broker_cpu_s: float
    machine_busy_s: float
    wall_s: float


def _run_worker_phase(
    tmp: Path, name: str, events: list[bytes], rate: float | None, workers: int = 1
) -> Phase:
    """Run ``workers`` workers over ``events``, from the first event produced to caught up."""
    harness = KafkaHarness(tmp / name, partitions=6)
    (tmp / name).mkdir()
    harness.create_topics()
    started = [harness.start_worker(f"{name}{i}") for i in range(workers)]
    try:
        for worker in started:
            _wait_ready(worker.port)
        deadline = time.monotonic() + 120
        while harness.assigned_members() != ("Stable", workers):
            if time.monotonic() > deadline:
                raise RuntimeError(f"group never settled on {workers} members")
            time.sleep(0.5)
        time.sleep(2.0)  # let the group settle on its assignment
        sent_at: dict[str, float] = {}
        gap = 1.0 / rate if rate else 0.0
        cpu0 = sum(cpu_s(w.proc.pid) for w in started)
        broker0, busy0, wall0 = brokers_cpu_s(), _machine_busy_s(), time.monotonic()
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
        cpu = sum(cpu_s(w.proc.pid) for w in started) - cpu0
        broker, busy = brokers_cpu_s() - broker0, _machine_busy_s() - busy0
        wall = time.monotonic() - wall0
    finally:
        harness.stop_all()
    times: dict[str, datetime] = {}
    split = []
    for worker in started:
        own = _frame_times(worker.store_path)
        split.append(len(own))
        times.update(own)
    return Phase(times, sent_at, split, cpu, broker, busy, wall)


def _whole_fps(times: dict[str, datetime], sent: dict[str, float]) -> float:
    """Frames per second from the first event produced to the last row stored."""
    span = max(t.timestamp() for t in times.values()) - min(sent.values())
    return len(times) / span if span > 0 else float("nan")


def _embedded_fps(tmp: Path, events: list[bytes]) -> tuple[float, float]:
    """Frames/s of the embedded runner and its CPU seconds per frame."""
    path = tmp / "events.jsonl"
    path.write_bytes(b"\n".join(events) + b"\n")
    settings = Settings(store={"dsn": f"chdb://{tmp / 'embedded'}"})
    with build_runtime(settings) as rt:
        cpu0 = time.process_time()
        summary = run_embedded(open_source(str(path)).events, rt.pipeline, rt.store)
        cpu = time.process_time() - cpu0
    return summary.frames_per_s, cpu / max(summary.frames, 1)


def main(argv: list[str] | None = None) -> None:
    """Print the Kafka benchmark."""
    parser = argparse.ArgumentParser(description="Kafka → worker → store vs embedded runner")
    parser.add_argument("--frames", type=int, default=600)
    parser.add_argument(
        "--whole-only", action="store_true", help="only the whole-process ratio (run vs worker)"
    )
    parser.add_argument(
        "--worker-only",
        action="store_true",
        help="only the worker of the whole-process comparison (its start-up and time to lag 0; "
        "no linewatch run): to compare two checkouts, run it with each PYTHONPATH in turn",
    )
    parser.add_argument("--repeats", type=int, default=3, help="whole-process repeats (median)")
    args = parser.parse_args(argv)
    # the workers (subprocesses) and the embedded runner read the same line settings
    os.environ["LINEWATCH_PLANT__LINES"] = json.dumps(
        {f"line-{i}": {"takt_units_per_minute": 60} for i in range(1, LINES + 1)}
    )
    events = _events(args.frames)
    if args.worker_only:
        starts = []
        for _ in range(args.repeats):
            with tempfile.TemporaryDirectory() as tmp_name:
                starts.append(worker_start(Path(tmp_name), events))
        print_worker_starts(starts, len(events))
        return
    wholes: list[Whole] = []
    for _ in range(args.repeats):
        with tempfile.TemporaryDirectory() as tmp_name:
            wholes.append(whole_process(Path(tmp_name), events))
    if args.whole_only:
        print_wholes(wholes, len(events))
        return
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        embedded, embedded_cpu = _embedded_fps(tmp, events)
        one = _run_worker_phase(tmp, "max", events, rate=None)
        kafka_fps = _whole_fps(one.times, one.sent)
        span = (max(one.times.values()) - min(one.times.values())).total_seconds()
        rows_fps = len(one.times) / span if span > 0 else float("nan")
        half = kafka_fps / 2
        paced = _run_worker_phase(tmp, "half", events, rate=half)
        lat = sorted(
            (paced.times[e].timestamp() - paced.sent[e]) * 1000.0
            for e in paced.times
            if e in paced.sent
        )
        two = _run_worker_phase(tmp, "two", events, rate=None, workers=2)
        two_fps = _whole_fps(two.times, two.sent)
    n = len(events)
    print(f"kafka benchmark: {n} frames of {LINES} lines, shipped model, 6 partitions")
    print_wholes(wholes, n)
    print(
        f"  embedded runner            {embedded:8.1f} frames/s   "
        f"CPU {embedded_cpu * 1000:5.1f} ms/frame"
    )
    print(
        f"  kafka -> 1 worker -> store {kafka_fps:8.1f} frames/s -> {kafka_fps / embedded:6.1%} "
        f"of embedded (first produced -> last stored; {rows_fps:.1f} first -> last row)"
    )
    print(
        f"  kafka -> 2 workers         {two_fps:8.1f} frames/s -> {two_fps / kafka_fps:5.2f}x one "
        f"worker; frames per worker {two.split} (sum {sum(two.split)})"
    )
    p50 = statistics.median(lat)
    p99 = lat[min(len(lat) - 1, int(0.99 * len(lat)))]
    print(
        f"  at {half:.1f} events/s (half max): produce->row latency p50 {p50:.0f} ms, "
        f"p99 {p99:.0f} ms over {len(lat)} frames ({datetime.now(UTC):%H:%M} UTC)"
    )
    # On a machine whose cores the worker shares with the broker, the whole stream cannot go
    # faster than the cores can supply the CPU both spend per frame (an upper bound: the
    # producer, the kernel and anything else running need CPU too).
    cores = os.cpu_count() or 1
    per_frame = (one.workers_cpu_s + one.broker_cpu_s) / n
    ceiling = cores / per_frame if per_frame > 0 else float("nan")
    print(
        f"  CPU ceiling: {cores} cores / (worker {one.workers_cpu_s / n * 1000:.1f} + broker "
        f"{one.broker_cpu_s / n * 1000:.1f} ms/frame) = {ceiling:.1f} frames/s -> "
        f"{ceiling / embedded:6.1%} of embedded at most"
    )
    print("  CPU while the phase ran (ms per frame; machine = all processes on all cores):")
    for label, ph in (("1 worker", one), ("half rate", paced), ("2 workers", two)):
        print(
            f"    {label:10s} workers {ph.workers_cpu_s / n * 1000:5.1f}  broker "
            f"{ph.broker_cpu_s / n * 1000:5.1f}  machine {ph.machine_busy_s / n * 1000:5.1f} "
            f"over {ph.wall_s:5.1f} s wall ({ph.machine_busy_s / ph.wall_s:4.2f} of "
            f"{os.cpu_count()} cores busy)"
        )


if __name__ == "__main__":
    main()
