"""Store fixtures: the ClickHouse HTTP fixture server (chDB behind HTTP) and a DSN for each kind.

``store_dsn`` is parametrised over ``chdb`` (embedded, a fresh directory) and ``http`` (the
session's :class:`ChdbHttpServer` process, its ``linewatch`` database dropped first), so a test
that takes it runs against both store paths. ``http_server_factory`` starts private servers a
test may stop and start again (store outages).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import clickhouse_connect
import pytest

__all__ = [
    "READER",
    "WRITER",
    "ChdbHttpServer",
    "ServerFactory",
    "outage_seconds",
]

REPO = Path(__file__).resolve().parents[1]
WRITER = ("linewatch", "lw-secret")
READER = ("reader", "reader-secret")


def outage_seconds() -> float:
    """How long store-outage tests keep the server down (LINEWATCH_TEST_STORE_OUTAGE_S, 12 s)."""
    return float(os.environ.get("LINEWATCH_TEST_STORE_OUTAGE_S", "12"))


@dataclass
class ChdbHttpServer:
    """One ``tests.chdb_http_server`` process on one chDB directory; stoppable, restartable.

    The first start binds a free loopback port; later starts reuse it, so DSNs stay valid
    across an outage.
    """

    path: Path
    log_path: Path
    port: int = 0
    tls: bool = False
    proc: subprocess.Popen[bytes] | None = None
    starts: int = field(default=0)

    @property
    def cert_file(self) -> Path:
        """The self-signed certificate (for 127.0.0.1 and localhost) of a TLS server."""
        return self.path.with_name(f"{self.path.name}.cert.pem")

    def _make_certificate(self) -> list[str]:
        key = self.path.with_name(f"{self.path.name}.key.pem")
        if not self.cert_file.exists():
            subprocess.run(
                [
                    *("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2"),
                    *("-keyout", str(key), "-out", str(self.cert_file), "-subj", "/CN=localhost"),
                    *("-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"),
                ],
                check=True,
                capture_output=True,
            )
        return ["--tls-cert", str(self.cert_file), "--tls-key", str(key)]

    def start(self, timeout: float = 60.0, *, crash_after_inserts: int = 0) -> None:
        """Start (or restart) the server; ``crash_after_inserts=N`` makes it exit right after
        storing the Nth INSERT, before answering it."""
        if self.running:
            return
        ready = self.path.with_name(f"{self.path.name}.port-{uuid.uuid4().hex[:6]}")
        extra_args = self._make_certificate() if self.tls else []
        if crash_after_inserts:
            extra_args += ["--crash-after-inserts", str(crash_after_inserts)]
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.chdb_http_server",
                "--path",
                str(self.path),
                "--port",
                str(self.port),
                "--ready-file",
                str(ready),
                "--user",
                ":".join(WRITER),
                "--user",
                ":".join(READER) + ":readonly",
                *extra_args,
                *(
                    ["--crash-after-inserts", str(crash_after_inserts)]
                    if crash_after_inserts
                    else []
                ),
            ],
            cwd=REPO,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        deadline = time.monotonic() + timeout
        while not ready.exists():
            if self.proc.poll() is not None:
                raise RuntimeError(f"chdb http fixture exited at start:\n{self.log()}")
            if time.monotonic() > deadline:
                self.kill()
                raise RuntimeError(f"chdb http fixture did not start in {timeout}s:\n{self.log()}")
            time.sleep(0.05)
        self.port = int(ready.read_text())
        ready.unlink()
        self.starts += 1

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self) -> None:
        """Stop the server (SIGTERM: it closes chDB cleanly); idempotent."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()
        self.proc = None

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=30)
        self.proc = None

    def dsn(self, user: tuple[str, str] = WRITER) -> str:
        scheme = "https" if self.tls else "http"
        return f"{scheme}://{user[0]}:{user[1]}@127.0.0.1:{self.port}/linewatch"

    def client(self, user: tuple[str, str] = WRITER, **kwargs: Any) -> Any:
        """A plain clickhouse-connect HTTP client (for checks that bypass linewatch)."""
        return clickhouse_connect.get_client(
            host="127.0.0.1", port=self.port, username=user[0], password=user[1], **kwargs
        )

    def reset(self) -> None:
        """Drop the linewatch database: the next store starts empty."""
        client = self.client()
        try:
            client.command("DROP DATABASE IF EXISTS linewatch SYNC")
        finally:
            client.close()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-4000:] if self.log_path.exists() else ""


@dataclass
class ServerFactory:
    """Starts private servers under a folder and stops them all at the end."""

    folder: Path
    servers: list[ChdbHttpServer] = field(default_factory=list)

    def __call__(self, name: str = "store", *, tls: bool = False) -> ChdbHttpServer:
        server = ChdbHttpServer(self.folder / name, self.folder / f"{name}-http.log", tls=tls)
        self.servers.append(server)
        server.start()
        return server

    def stop_all(self) -> None:
        for server in self.servers:
            server.stop()


@pytest.fixture
def http_server_factory(tmp_path: Path) -> Iterator[ServerFactory]:
    """Private fixture servers for one test (stop/start them at will)."""
    factory = ServerFactory(tmp_path)
    yield factory
    factory.stop_all()


@pytest.fixture(scope="session")
def shared_http_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ChdbHttpServer]:
    """One fixture server for the session; tests reset its database (see ``store_dsn``)."""
    factory = ServerFactory(tmp_path_factory.mktemp("chdb-http"))
    server = factory("shared")
    yield server
    factory.stop_all()


@pytest.fixture
def http_store_dsn(request: pytest.FixtureRequest) -> str:
    """A DSN of an empty store behind the shared HTTP fixture server."""
    server: ChdbHttpServer = request.getfixturevalue("shared_http_server")
    if not server.running:  # a test stopped it: bring it back
        server.start()
    server.reset()
    return server.dsn()


@pytest.fixture(params=["chdb", "http"])
def store_dsn(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty store's DSN: embedded chDB in tmp_path, or the HTTP fixture server."""
    if request.param == "chdb":
        return f"chdb://{tmp_path / 'store'}"
    return str(request.getfixturevalue("http_store_dsn"))
