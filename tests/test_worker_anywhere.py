"""``linewatch worker`` started in a fresh, empty directory with the default store and data dir.

Needs the local broker (``make kafka-up``; ``make test`` starts it). Nothing is mocked.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
from pathlib import Path

import pytest

from streams.sinks import ClickHouseStore
from tests.worker_harness import LINEWATCH, KafkaHarness, WorkerProcess, event_key, free_port

STORE_PASSWORD = "st0re/pa#ss?w@rd"
KAFKA_PASSWORD = "kafka-pa#ss"


@pytest.mark.kafka
@pytest.mark.slow
def test_worker_from_a_fresh_directory_processes_events(tmp_path: Path) -> None:
    from streams.simulate import generate, parse_simulate_source

    harness = KafkaHarness(tmp_path / "harness", partitions=1)
    harness.tmp.mkdir()
    harness.create_topics()
    fresh = tmp_path / "fresh" / "cwd"
    fresh.mkdir(parents=True)
    port = free_port()
    env = harness.env(fresh / "unused", port)
    del (
        env["LINEWATCH_STORE__DSN"],
        env["LINEWATCH_WORKER__DATA_DIR"],
    )  # the defaults, under the cwd
    env["LINEWATCH_STORE__PASSWORD"] = STORE_PASSWORD  # unused by chDB, must never be logged
    env["LINEWATCH_KAFKA__SASL_PASSWORD"] = KAFKA_PASSWORD
    log_path = tmp_path / "worker.log"
    with log_path.open("wb") as fh:
        proc = subprocess.Popen(
            [LINEWATCH, "worker", "--loglevel", "info"],
            env=env,
            cwd=fresh,
            stdout=fh,
            stderr=subprocess.STDOUT,
        )
    store_path = fresh / ".linewatch" / "store"
    worker = WorkerProcess("fresh", store_path, port, proc, log_path)
    harness.workers.append(worker)
    try:
        events = [
            json.dumps(sim.event).encode()
            for sim in generate(parse_simulate_source("simulate:production?events=12&seed=5"))
        ]
        produced = harness.produce((event_key(e), e) for e in events)
        harness.wait_committed(produced)
    finally:
        harness.stop_all()
    assert (fresh / ".linewatch" / "worker").is_dir()
    with ClickHouseStore.open(f"chdb://{store_path}") as store:
        frames = store.query("SELECT uniqExact(event_id) FROM linewatch.frames").result_rows[0][0]
    assert frames == len(events)
    log = log_path.read_text(errors="replace")
    assert "Traceback" not in log
    assert STORE_PASSWORD not in log and KAFKA_PASSWORD not in log
    # the start-up line (streams/kafka/startup.py) that bench/bench_kafka.py reads, once
    assert len(re.findall(r"first event consumed [0-9.]+ s after the process started, ", log)) == 1
    assert "s after the broker answered" in log


def _start_worker(env_updates: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LINEWATCH_")}
    env.update(env_updates)
    return subprocess.run(
        [LINEWATCH, "worker"],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("kafka_down", "cannot reach Kafka at 127.0.0.1:"),
        ("port_taken", "is not free"),
        ("data_dir_is_a_file", "cannot create the worker's data directory"),
    ],
)
def test_start_up_failure_is_one_error_line(case: str, expected: str, tmp_path: Path) -> None:
    env = {
        "LINEWATCH_KAFKA__BOOTSTRAP": f"127.0.0.1:{free_port()}",  # nobody listens
        "LINEWATCH_WORKER__WEB_PORT": str(free_port()),
    }
    with socket.socket() as taken:
        if case == "port_taken":
            taken.bind(("0.0.0.0", 0))
            taken.listen()
            env["LINEWATCH_WORKER__WEB_PORT"] = str(taken.getsockname()[1])
        if case == "data_dir_is_a_file":
            (tmp_path / "file").write_text("")
            env["LINEWATCH_WORKER__DATA_DIR"] = str(tmp_path / "file" / "worker")
            taken.bind(("127.0.0.1", 0))  # a listener, so that the broker check passes first
            taken.listen()
            env["LINEWATCH_KAFKA__BOOTSTRAP"] = f"127.0.0.1:{taken.getsockname()[1]}"
        done = _start_worker(env, tmp_path)
    output = done.stdout + done.stderr
    assert done.returncode == 2, output
    errors = [line for line in output.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and expected in errors[0], output
    assert "Traceback" not in output, output
    if case == "kafka_down":  # checked before anything is created: no store, no data dir
        assert sorted(p.name for p in tmp_path.iterdir()) == [], output


@pytest.mark.kafka
def test_a_store_that_cannot_be_reached_is_one_error_line(tmp_path: Path) -> None:
    # the broker answers, the store does not: found while the stream worker loads, before Faust
    harness = KafkaHarness(tmp_path, partitions=1)
    harness.create_topics()
    env = {
        k: v
        for k, v in harness.env(tmp_path / "unused", free_port()).items()
        if k.startswith("LINEWATCH_")
    }
    env["LINEWATCH_STORE__DSN"] = f"http://default:x@127.0.0.1:{free_port()}/linewatch"
    done = _start_worker(env, tmp_path)
    output = done.stdout + done.stderr
    assert done.returncode == 2, output
    errors = [line for line in output.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "cannot reach ClickHouse" in errors[0], output
    assert "Traceback" not in output, output
