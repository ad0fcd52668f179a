"""linewatch against a three-broker KRaft cluster over SASL_SSL, as production runs Kafka.

The cluster (tests/private_cluster.py) replicates every topic three times with
``min.insync.replicas=2``; clients reach it only over SASL_SSL with SCRAM-SHA-512 and the CA the
fixture made. Every client here is linewatch's own command (``topics create``, ``produce``,
``worker``) configured through ``LINEWATCH_KAFKA__*``, exactly as a deployment configures it.
Needs java 17+, openssl and the broker jars (``deploy/kafka-local/kafka.sh lib``).

One cluster serves the module; a test that finds a broker dead (killed by the failover test)
restarts it first.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from streams.config import Settings
from streams.kafka.clients import open_admin, open_consumer
from streams.sinks import ClickHouseStore
from tests.conftest import write_simulated
from tests.private_cluster import PrivateCluster
from tests.worker_harness import LINEWATCH, KafkaHarness, WorkerProcess, free_port

pytestmark = [pytest.mark.kafka, pytest.mark.slow]

PARTITIONS = 3
EVENTS = 300


@pytest.fixture(scope="module")
def running_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrivateCluster]:
    c = PrivateCluster(tmp_path_factory.mktemp("cluster"))
    c.start()
    try:
        yield c
    finally:
        c.stop()


@pytest.fixture
def cluster(running_cluster: PrivateCluster) -> PrivateCluster:
    """The module's cluster with all three brokers up (a broker killed before is restarted)."""
    running_cluster.revive()
    return running_cluster


@pytest.fixture(scope="module")
def cluster_events(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """300 production events over 3 lines (the same simulated world as ``production_events``)."""
    path = tmp_path_factory.mktemp("cluster-events") / "events.jsonl"
    write_simulated(
        path,
        f"simulate:production?events={EVENTS}&seed=5&scenario=stationary&lines=3"
        "&start=2026-11-29T05:00:00Z&duration=4h",
    )
    return path


@dataclass
class Run:
    """One test's topics, consumer group and worker on the cluster."""

    cluster: PrivateCluster
    harness: KafkaHarness

    @classmethod
    def make(cls, cluster: PrivateCluster, tmp: Path) -> Run:
        harness = KafkaHarness(
            tmp,
            partitions=PARTITIONS,
            bootstrap=cluster.bootstrap,
            client_env={**cluster.client_env(), "LINEWATCH_KAFKA__TOPIC_REPLICATION": "3"},
        )
        return cls(cluster, harness)

    def env(self, **extra: str) -> dict[str, str]:
        """The worker's environment (topics, group, cluster security) for the other commands."""
        store = self.harness.tmp / "store-cli"
        return {**self.harness.env(store, free_port()), **extra}

    def settings(self) -> Settings:
        """The same settings, in this process (to read offsets and leaders with linewatch's
        own clients)."""
        prefix = "LINEWATCH_KAFKA__"
        kafka = {k[len(prefix) :].lower(): v for k, v in self.env().items() if k.startswith(prefix)}
        return Settings(kafka=kafka)

    def linewatch(self, *args: str, **env: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [LINEWATCH, *args],
            env=self.env(**env),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def committed(self) -> int:
        admin = open_admin(self.settings())
        try:
            group = self.harness.group
            offsets = admin.list_group_offsets(group).get(group, {})
        except Exception:  # no coordinator yet, or it moved with a dead broker: ask again
            return -1
        finally:
            admin.close()
        topic = self.harness.topics["events"]
        return sum(max(m.offset, 0) for tp, m in offsets.items() if tp.topic == topic)

    def wait_committed(self, expected: int, worker: WorkerProcess, timeout_s: float) -> float:
        start = time.monotonic()
        last = -1
        while time.monotonic() - start < timeout_s:
            assert worker.proc.poll() is None, f"worker exited:\n{worker.log()}"
            last = self.committed()
            if last >= expected:
                return time.monotonic() - start
            time.sleep(0.5)
        raise AssertionError(
            f"{last}/{expected} offsets committed after {timeout_s}s\n{worker.log()}"
        )


def _finish(proc: subprocess.Popen[str], timeout_s: float) -> tuple[int, str, str]:
    try:
        out, err = proc.communicate(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate(timeout=10)
        raise AssertionError(f"linewatch hung for {timeout_s}s:\n{err[-3000:]}") from None
    return proc.returncode, out, err


def _ready(worker: WorkerProcess, timeout_s: float = 120) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        assert worker.proc.poll() is None, f"worker exited:\n{worker.log()}"
        if worker.get("/readyz")[0] == 200:
            return
        time.sleep(0.5)
    raise AssertionError(f"worker not ready in {timeout_s}s\n{worker.log()}")


def _stored(worker: WorkerProcess) -> tuple[int, int, int, int]:
    """(rows, rows FINAL, distinct event ids, dead letters) of a stopped worker's store."""
    with ClickHouseStore.open(f"chdb://{worker.store_path}") as store:
        raw, distinct = store.query(
            "SELECT count(), uniqExact(event_id) FROM linewatch.frames"
        ).result_rows[0]
        final = store.query("SELECT count() FROM linewatch.frames FINAL").result_rows[0][0]
        dead = store.query("SELECT count() FROM linewatch.dead_letters").result_rows[0][0]
    return int(raw), int(final), int(distinct), int(dead)


def _create_topics(run: Run) -> None:
    rc, out, err = _finish(
        run.linewatch("topics", "create", "--partitions", str(PARTITIONS), "--replication", "3"),
        120,
    )
    assert rc == 0, err
    assert out.count("created ") == 4, out


def test_sasl_ssl_topics_produce_worker_store_every_event_once(
    cluster: PrivateCluster, cluster_events: Path, tmp_path: Path
) -> None:
    run = Run.make(cluster, tmp_path)
    _create_topics(run)
    admin = open_admin(run.settings())
    try:
        described = admin.describe_topics([run.harness.topics["events"]])[0]
    finally:
        admin.close()
    assert [len(p["isr_nodes"]) for p in described["partitions"]] == [3] * PARTITIONS

    rc, _, err = _finish(run.linewatch("produce", "--source", str(cluster_events)), 120)
    assert rc == 0 and f"events: {EVENTS} sent, 0 failed" in err, err
    worker = run.harness.start_worker("tls")
    try:
        _ready(worker)
        run.wait_committed(EVENTS, worker, 150)
    finally:
        run.harness.stop_all()
    assert "via SCRAM-SHA-512" in worker.log_path.read_text(errors="replace")
    assert _stored(worker) == (EVENTS, EVENTS, EVENTS, 0)


REFUSED = {
    "wrong password": (
        ("topics", "create"),
        {"LINEWATCH_KAFKA__SASL_PASSWORD": "wrong"},
        "check LINEWATCH_KAFKA__SASL_USERNAME, LINEWATCH_KAFKA__SASL_PASSWORD",
    ),
    "worker, wrong password": (
        ("worker",),
        {"LINEWATCH_KAFKA__SASL_PASSWORD": "wrong"},
        "check LINEWATCH_KAFKA__SASL_USERNAME, LINEWATCH_KAFKA__SASL_PASSWORD",
    ),
    "no TLS": (
        ("produce", "--source", "-"),
        {"LINEWATCH_KAFKA__SECURITY_PROTOCOL": "SASL_PLAINTEXT"},
        "speaks TLS but LINEWATCH_KAFKA__SECURITY_PROTOCOL=SASL_PLAINTEXT: set it to SASL_SSL",
    ),
}


def test_refused_clients_get_one_line_saying_what_to_do(
    cluster: PrivateCluster, tmp_path: Path
) -> None:
    run = Run.make(cluster, tmp_path)
    # all at once: each waits out the clients' 10 s bootstrap timeout before it answers
    procs = {case: run.linewatch(*cmd, **env) for case, (cmd, env, _) in REFUSED.items()}
    for case, proc in procs.items():
        rc, _, err = _finish(proc, 60)
        assert rc == 2, f"{case}: {err}"
        # the worker logs its store migrations first: progress, not errors
        lines = [line for line in err.splitlines() if line.strip() and " INFO streams." not in line]
        assert len(lines) == 1 and lines[0].startswith("error: cannot reach Kafka"), (
            f"{case}: {err}"
        )
        assert REFUSED[case][2] in lines[0], f"{case}: {err}"
        assert "Traceback" not in err, f"{case}: {err}"


def _leader(run: Run, partition: int) -> int:
    """The node leading ``partition`` of the events topic, as the metadata says (-1: none)."""
    admin = open_admin(run.settings())
    try:
        partitions = admin.describe_topics([run.harness.topics["events"]])[0]["partitions"]
    finally:
        admin.close()
    return next(int(p["leader_id"]) for p in partitions if p["partition_index"] == partition)


def _busiest_partition(run: Run) -> int:
    """The partition of the events topic with the most events so far."""
    from kafka import TopicPartition

    topic = run.harness.topics["events"]
    consumer = open_consumer(run.settings())
    try:
        ends = consumer.end_offsets([TopicPartition(topic, p) for p in range(PARTITIONS)])
    finally:
        consumer.close()
    return int(max(ends, key=lambda tp: ends[tp]).partition)


def _wait_new_leader(run: Run, partition: int, dead: int, timeout_s: float) -> None:
    """Wait until the metadata names another node than ``dead`` as the partition's leader."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if _leader(run, partition) not in (dead, -1):
            return
        time.sleep(0.5)
    raise AssertionError(f"partition {partition} still led by node {dead} after {timeout_s}s")


def test_leader_killed_mid_stream_loses_and_duplicates_nothing(
    cluster: PrivateCluster, cluster_events: Path, tmp_path: Path
) -> None:
    run = Run.make(cluster, tmp_path)
    _create_topics(run)
    worker = run.harness.start_worker("failover")
    try:
        _ready(worker)
        producer = run.linewatch("produce", "--source", str(cluster_events), "--rate", "20")
        try:
            run.wait_committed(EVENTS // 4, worker, 90)  # stored and acknowledged: mid-stream
            busiest = _busiest_partition(run)
            leader = _leader(run, busiest)
            before = run.committed()
            assert before >= EVENTS // 4
            assert producer.poll() is None, "the producer finished before the kill"
            cluster.node(leader).kill()
            killed_at = time.monotonic()
            resume_s = run.wait_committed(before + 1, worker, 90)  # the stream goes on
            rc, _, err = _finish(producer, 180)
        finally:
            if producer.poll() is None:
                producer.kill()
        assert rc == 0 and f"events: {EVENTS} sent, 0 failed" in err, err
        produce_s = time.monotonic() - killed_at
        drain_s = run.wait_committed(EVENTS, worker, 150)
        _wait_new_leader(run, busiest, leader, 30)
    finally:
        run.harness.stop_all()
    raw, final, distinct, dead = _stored(worker)
    print(
        f"\nfailover: killed node {leader} leading partition {busiest} at {before} events "
        f"stored; commits resumed {resume_s:.1f}s later; producer done "
        f"{produce_s:.1f}s later, worker drained {drain_s:.1f}s after that; rows {raw}, "
        f"FINAL {final}, distinct event_id {distinct}, dead letters {dead}"
    )
    assert (final, distinct, dead) == (EVENTS, EVENTS, 0), worker.log()
