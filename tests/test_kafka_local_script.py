"""``deploy/kafka-local/kafka.sh``: another port through ``KAFKA_PORT``, and a taken port named
with the process that holds it (checked before any Java or Maven is needed)."""

from __future__ import annotations

import os
import re
import socket
import subprocess
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[1] / "deploy" / "kafka-local" / "kafka.sh"


def _script(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(SCRIPT), *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_a_taken_port_is_refused_naming_its_holder() -> None:
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        port = held.getsockname()[1]
        done = _script("up", KAFKA_PORT=str(port), KAFKA_CONTROLLER_PORT=str(port + 1))
    assert done.returncode == 1
    # the holder's name is its comm: "python", or whatever an embedded library renamed the
    # process's main thread to (chDB names it); the pid is what identifies it
    assert re.search(rf"127\.0\.0\.1:{port} is taken by \S+ \(pid {os.getpid()}\)", done.stderr)
    assert f"KAFKA_PORT={port + 2} make kafka-up" in done.stderr


def test_the_port_is_checked() -> None:
    done = _script("status", KAFKA_PORT="abc")
    assert done.returncode == 2
    assert "KAFKA_PORT=abc is not a port" in done.stderr


def test_another_port_keeps_its_own_run_folder() -> None:
    done = _script("status", KAFKA_PORT="19092")
    assert done.returncode == 3, done.stderr
    assert "down" in done.stdout
    assert not (SCRIPT.parent / "run-19092").exists()  # status writes nothing
