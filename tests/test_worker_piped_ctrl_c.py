"""Ctrl-C stops ``linewatch worker 2>&1 | tee log`` even when ``tee`` (stopped by the same
Ctrl-C) is gone before the worker handles the signal.

Needs the local broker (``make kafka-up``). Nothing is mocked: the worker is the console script,
its output a real pipe into a real ``tee``.
"""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.worker_harness import LINEWATCH, KafkaHarness, WorkerProcess, free_port


@pytest.mark.kafka
@pytest.mark.slow
def test_sigint_stops_a_worker_whose_pipe_reader_is_gone(tmp_path: Path) -> None:
    harness = KafkaHarness(tmp_path, partitions=1)
    harness.create_topics()
    port = free_port()
    proc = subprocess.Popen(
        [LINEWATCH, "worker"],
        env=harness.env(tmp_path / "store", port),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    assert proc.stdout is not None
    tee = subprocess.Popen(
        ["tee", str(tmp_path / "log.txt")], stdin=proc.stdout, stdout=subprocess.DEVNULL
    )
    proc.stdout.close()  # only tee reads the pipe now
    worker = WorkerProcess("piped", tmp_path / "store", port, proc, tmp_path / "log.txt")
    try:
        deadline = time.monotonic() + 120
        while worker.get("/readyz")[0] != 200:
            assert proc.poll() is None and time.monotonic() < deadline, "worker never ready"
            time.sleep(0.5)
        tee.kill()  # Ctrl-C reached tee first
        tee.wait(timeout=10)
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=45)
    finally:
        if proc.poll() is None:
            worker.kill()
        if tee.poll() is None:
            tee.kill()
    assert worker.get("/readyz")[0] == 0  # nothing answers any more
