"""A private Kafka broker for fault tests: its own ports and data directory, stoppable at will.

The shared local broker (``make kafka-up``, 127.0.0.1:9092) serves every other test and must
never be stopped. Tests that take a broker away start one of these instead: the same jars
(``deploy/kafka-local/kafka.sh lib`` assembles them), the same ``server.properties`` with the
ports and ``log.dirs`` replaced, a KRaft single node formatted in a temporary directory.
Restarting it keeps its data (topics, committed offsets), like a broker that was down.
"""

from __future__ import annotations

import base64
import contextlib
import os
import signal
import socket
import subprocess
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["PrivateBroker", "broker_lib_dir", "free_port", "new_cluster_id", "port_open"]

ROOT = Path(__file__).resolve().parent.parent
KAFKA_LOCAL = ROOT / "deploy" / "kafka-local"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def port_open(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


def new_cluster_id() -> str:
    """A random KRaft cluster id (what ``kafka-storage random-uuid`` prints: never starting
    with ``-``, which the tool's argument parser would read as an option, as Kafka's
    ``Uuid.randomUuid`` ensures).

    >>> all(not new_cluster_id().startswith("-") for _ in range(1000))
    True
    """
    while True:
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode()
        if not cluster_id.startswith("-"):
            return cluster_id


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
    port: int = field(default_factory=free_port)
    controller_port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None
    _starts: int = 0

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
        self.format_storage(config, new_cluster_id(), "--standalone")
        return config

    def format_storage(self, config: Path, cluster_id: str, *args: str) -> None:
        """``kafka-storage format`` of this node's ``log.dirs`` (extra ``args`` as given)."""
        out = subprocess.run(
            self._java(
                "kafka.tools.StorageTool",
                "format",
                *args,
                "--cluster-id",
                cluster_id,
                "--config",
                str(config),
            ),
            check=False,
            capture_output=True,
            text=True,
            timeout=180,
        )
        if out.returncode != 0:
            raise RuntimeError(f"kafka-storage format failed:\n{out.stdout}\n{out.stderr}")

    def start(self, timeout_s: float = 180.0) -> None:
        """Start (or restart) the broker and wait until it serves clients."""
        self.launch()
        self.wait_ready(timeout_s)

    def launch(self) -> None:
        """Start the JVM and return at once (a cluster launches all its nodes, then waits)."""
        config = self._configure()
        server_log = self.log_dir / "server.log"
        self._starts = (
            server_log.read_text(errors="replace").count("Kafka Server started")
            if server_log.exists()
            else 0
        )
        out = (self.log_dir / "kafka.out").open("ab")
        self.proc = subprocess.Popen(
            self._java("kafka.Kafka", str(config)),
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # its own process group: teardown can kill it whole
        )

    def wait_ready(self, timeout_s: float = 180.0) -> None:
        """Wait until the launched broker logged a new start and its client port answers."""
        assert self.proc is not None, "launch() first"
        server_log = self.log_dir / "server.log"
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"private broker exited:\n{self.tail()}")
            started = server_log.exists() and (
                server_log.read_text(errors="replace").count("Kafka Server started") > self._starts
            )
            if started and port_open(self.port):
                return
            time.sleep(0.5)
        raise RuntimeError(f"private broker not up after {timeout_s}s:\n{self.tail()}")

    def kill(self) -> None:
        """SIGKILL the broker's whole process group (a crash: no controlled shutdown)."""
        if self.proc is None or self.proc.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):  # it died by itself meanwhile
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=30)

    def stop(self, timeout_s: float = 60.0) -> None:
        """Stop the broker (SIGTERM, then SIGKILL); its data stays for the next start."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            self.kill()

    def tail(self, chars: int = 4000) -> str:
        texts = []
        for name in ("kafka.out", "server.log"):
            path = self.log_dir / name
            if path.exists():
                texts.append(f"--- {name}\n{path.read_text(errors='replace')[-chars:]}")
        return "\n".join(texts)
