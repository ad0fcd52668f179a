"""A private Kafka broker for fault tests: its own ports and data directory, stoppable at will.

The shared local broker (``make kafka-up``, 127.0.0.1:9092) serves every other test and must
never be stopped. Tests that take a broker away start one of these instead: the same jars
(``deploy/kafka-local/kafka.sh lib`` assembles them), the same ``server.properties`` with the
ports and ``log.dirs`` replaced, a KRaft single node formatted in a temporary directory.
Restarting it keeps its data (topics, committed offsets), like a broker that was down.
"""

from __future__ import annotations

import base64
import os
import signal
import socket
import subprocess
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["PrivateBroker", "broker_lib_dir"]

ROOT = Path(__file__).resolve().parent.parent
KAFKA_LOCAL = ROOT / "deploy" / "kafka-local"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _open(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


def broker_lib_dir() -> Path:
    """The broker jars: ``$LINEWATCH_KAFKA_LIB``, else assembled by ``kafka.sh lib`` (cached)."""
    given = os.environ.get("LINEWATCH_KAFKA_LIB")
    if given:
        return Path(given)
    lib = KAFKA_LOCAL / "target" / "lib"
    if not (KAFKA_LOCAL / "target" / "lib.complete").exists():
        out = subprocess.run(
            [str(KAFKA_LOCAL / "kafka.sh"), "lib"],
            check=False,
            capture_output=True,
            text=True,
            timeout=900,
        )
        if out.returncode != 0:
            raise RuntimeError(f"kafka.sh lib failed (needs java 17+ and maven):\n{out.stderr}")
    return lib


@dataclass
class PrivateBroker:
    """One KRaft broker+controller on random loopback ports, data under ``root``."""

    root: Path
    heap: str = "-Xms128m -Xmx384m"
    port: int = field(default_factory=_free_port)
    controller_port: int = field(default_factory=_free_port)
    proc: subprocess.Popen[bytes] | None = None

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def log_dir(self) -> Path:
        return self.root / "logs"

    def _java(self, *args: str) -> list[str]:
        return [
            os.environ.get("JAVA", "java"),
            *self.heap.split(),
            "-XX:+UseG1GC",
            "-XX:MaxGCPauseMillis=20",
            "-XX:+ExitOnOutOfMemoryError",
            "-Djava.awt.headless=true",
            f"-Dkafka.logs.dir={self.log_dir}",
            f"-Dlog4j2.configurationFile={KAFKA_LOCAL / 'log4j2.properties'}",
            "-cp",
            f"{broker_lib_dir()}/*",
            *args,
        ]

    def _configure(self) -> Path:
        config = self.root / "server.properties"
        if config.exists():
            return config
        self.log_dir.mkdir(parents=True, exist_ok=True)
        text = (KAFKA_LOCAL / "server.properties").read_text()
        text = (
            text.replace("@RUN_DIR@", str(self.root))
            .replace("@PORT@", str(self.port))
            .replace("@CONTROLLER_PORT@", str(self.controller_port))
        )
        config.write_text(text)
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode()
        subprocess.run(
            self._java(
                "kafka.tools.StorageTool",
                "format",
                "--standalone",
                "--cluster-id",
                cluster_id,
                "--config",
                str(config),
            ),
            check=True,
            capture_output=True,
            timeout=180,
        )
        return config

    def start(self, timeout_s: float = 180.0) -> None:
        """Start (or restart) the broker and wait until it serves clients."""
        config = self._configure()
        server_log = self.log_dir / "server.log"
        starts = (
            server_log.read_text(errors="replace").count("Kafka Server started")
            if (server_log.exists())
            else 0
        )
        out = (self.log_dir / "kafka.out").open("ab")
        self.proc = subprocess.Popen(
            self._java("kafka.Kafka", str(config)),
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"private broker exited:\n{self.tail()}")
            started = server_log.exists() and (
                server_log.read_text(errors="replace").count("Kafka Server started") > starts
            )
            if started and _open(self.port):
                return
            time.sleep(0.5)
        raise RuntimeError(f"private broker not up after {timeout_s}s:\n{self.tail()}")

    def stop(self, timeout_s: float = 60.0) -> None:
        """Stop the broker (SIGTERM, then SIGKILL); its data stays for the next start."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=30)

    def tail(self, chars: int = 4000) -> str:
        texts = []
        for name in ("kafka.out", "server.log"):
            path = self.log_dir / name
            if path.exists():
                texts.append(f"--- {name}\n{path.read_text(errors='replace')[-chars:]}")
        return "\n".join(texts)
