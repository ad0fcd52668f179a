"""Run real ``linewatch worker`` processes against the local Kafka broker, for tests and benches.

Each harness gets its own topics and consumer group (random names), each worker its own chDB
store and web port. Nothing is mocked: the worker is the installed console script.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import KafkaAdminClient, NewTopic
from kafka.errors import CoordinatorNotAvailableError, NotCoordinatorError

from streams.kafka.producer import line_key as event_key
from tests.kafka_fixtures import BOOTSTRAP
from tests.private_broker import free_port

__all__ = ["BOOTSTRAP", "KafkaHarness", "WorkerProcess", "event_key", "free_port"]

LINEWATCH = str(Path(sys.executable).with_name("linewatch"))


@dataclass
class WorkerProcess:
    name: str
    store_path: Path
    port: int
    proc: subprocess.Popen[bytes]
    log_path: Path

    def get(self, path: str) -> tuple[int, bytes]:
        """GET ``path`` on the worker's web port: (status, body); (0, b"") if it does not answer."""
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}", timeout=5) as r:
                return int(r.status), r.read()
        except urllib.error.HTTPError as exc:
            return int(exc.code), exc.read()
        except OSError:
            return 0, b""

    def metrics(self) -> dict[str, float]:
        """``/metrics`` samples as ``{"name{labels}": value}``, labels as Prometheus prints them."""
        _, body = self.get("/metrics")
        samples: dict[str, float] = {}
        for line in body.decode().splitlines():
            if line and not line.startswith("#"):
                name, _, value = line.rpartition(" ")
                samples[name] = float(value)
        return samples

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=30)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.kill()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-6000:]


@dataclass
class KafkaHarness:
    """Topics, producer and workers of one test."""

    tmp: Path
    partitions: int = 4
    bootstrap: str = BOOTSTRAP
    """The broker: the shared local one unless a test brings its own (tests/private_broker.py)."""
    client_env: dict[str, str] = field(default_factory=dict)
    """More ``LINEWATCH_*`` variables of the workers, e.g. a cluster's security settings
    (tests/private_cluster.py)."""
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex[:10])
    workers: list[WorkerProcess] = field(default_factory=list)

    @property
    def topics(self) -> dict[str, str]:
        return {
            "events": f"lw-{self.run_id}-camera-events",
            "labels": f"lw-{self.run_id}-labels",
            "dlq": f"lw-{self.run_id}-camera-events.dlq",
            "drift": f"lw-{self.run_id}-drift-events",
        }

    @property
    def group(self) -> str:
        return f"lw-{self.run_id}"

    def create_topics(self) -> None:
        admin = KafkaAdminClient(bootstrap_servers=self.bootstrap, request_timeout_ms=20000)
        try:
            admin.create_topics(
                [
                    NewTopic(name, self.partitions if key == "events" else 1, 1)
                    for key, name in self.topics.items()
                ]
            )
        finally:
            admin.close()

    def env(self, store_path: Path, port: int, store_dsn: str | None = None) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            LINEWATCH_KAFKA__BOOTSTRAP=self.bootstrap,
            LINEWATCH_STORE__DSN=store_dsn or f"chdb://{store_path}",
            LINEWATCH_WORKER__APP_ID=self.group,
            LINEWATCH_WORKER__WEB_PORT=str(port),
            LINEWATCH_WORKER__DATA_DIR=str(self.tmp / f"faust-{port}"),
            LINEWATCH_KAFKA__TOPIC_EVENTS=self.topics["events"],
            LINEWATCH_KAFKA__TOPIC_LABELS=self.topics["labels"],
            LINEWATCH_KAFKA__TOPIC_DLQ=self.topics["dlq"],
            LINEWATCH_KAFKA__TOPIC_DRIFT=self.topics["drift"],
            LINEWATCH_KAFKA__TOPIC_PARTITIONS=str(self.partitions),
            LINEWATCH_INFERENCE__BATCH_FRAMES="8",
            LINEWATCH_WORKER__TAKE_WINDOW_S="0.3",
            PYTHONUNBUFFERED="1",
        )
        env.update(self.client_env)
        return env

    def start_worker(
        self, name: str, store_path: Path | None = None, *, store_dsn: str | None = None
    ) -> WorkerProcess:
        """Start a worker on its own chDB directory, or on ``store_dsn`` (e.g. an http:// one)."""
        store = store_path or self.tmp / f"store-{name}"
        port = free_port()
        log_path = self.tmp / f"worker-{name}-{len(self.workers)}.log"
        fh = log_path.open("wb")
        proc = subprocess.Popen(
            [LINEWATCH, "worker", "--loglevel", "info"],
            env=self.env(store, port, store_dsn),
            stdout=fh,
            stderr=subprocess.STDOUT,
        )
        worker = WorkerProcess(name, store, port, proc, log_path)
        self.workers.append(worker)
        return worker

    def produce(self, payloads: Iterable[tuple[bytes | None, bytes]], topic: str = "events") -> int:
        producer = KafkaProducer(bootstrap_servers=self.bootstrap, acks="all", linger_ms=5)
        n = 0
        for key, value in payloads:
            producer.send(self.topics[topic], key=key, value=value)
            n += 1
        producer.flush(timeout=60)
        producer.close()
        return n

    def committed(self, topic: str = "events") -> int:
        """Offsets committed by the worker group on a topic, summed over partitions.

        0 while the broker has no coordinator for the group yet: on a fresh broker the offsets
        topic is created by the first group, and asking before that answers "not available".
        """
        admin = KafkaAdminClient(bootstrap_servers=self.bootstrap)
        try:
            offsets = admin.list_group_offsets(self.group).get(self.group, {})
        except (CoordinatorNotAvailableError, NotCoordinatorError):
            return 0
        finally:
            admin.close()
        return sum(
            max(meta.offset, 0) for tp, meta in offsets.items() if tp.topic == self.topics[topic]
        )

    def assigned_members(self) -> tuple[str, int]:
        """The group's state and how many members own partitions of the events topic."""
        admin = KafkaAdminClient(bootstrap_servers=self.bootstrap)
        try:
            group = admin.describe_groups([self.group])[self.group]
        except (CoordinatorNotAvailableError, NotCoordinatorError):
            return "Unknown", 0  # no coordinator yet (a fresh broker): no member owns anything
        finally:
            admin.close()
        owners = 0
        for member in group.get("members", []):
            assignment = member.get("member_assignment") or {}
            for part in assignment.get("assigned_partitions", []):
                if part.get("topic") == self.topics["events"] and part.get("partitions"):
                    owners += 1
                    break
        return str(group.get("group_state")), owners

    def wait_committed(self, expected: int, topic: str = "events", timeout: float = 180) -> None:
        deadline = time.monotonic() + timeout
        last = -1
        while time.monotonic() < deadline:
            for w in self.workers:
                if w.proc.poll() not in (None, -signal.SIGKILL, -signal.SIGTERM, 0):
                    raise AssertionError(f"worker {w.name} exited:\n{w.log()}")
            last = self.committed(topic)
            if last >= expected:
                return
            time.sleep(1.0)
        logs = "\n".join(f"--- {w.name}\n{w.log()}" for w in self.workers)
        raise AssertionError(f"only {last}/{expected} offsets committed on {topic}\n{logs}")

    def read_topic(self, topic: str, expected: int, timeout: float = 30) -> list[object]:
        consumer = KafkaConsumer(
            bootstrap_servers=self.bootstrap, auto_offset_reset="earliest", consumer_timeout_ms=2000
        )
        name = self.topics[topic]
        parts = consumer.partitions_for_topic(name) or {0}
        consumer.assign([TopicPartition(name, p) for p in parts])
        messages: list[object] = []
        deadline = time.monotonic() + timeout
        while len(messages) < expected and time.monotonic() < deadline:
            for msg in consumer:
                messages.append(msg)
        consumer.close()
        return messages

    def stop_all(self) -> None:
        for w in self.workers:
            w.stop()
