"""A private three-broker KRaft cluster whose client listener is SASL_SSL (SCRAM-SHA-512).

Production runs Kafka as a replicated, authenticated cluster; the shared local broker
(127.0.0.1:9092) is one PLAINTEXT node. Tests of what only a cluster shows (a leader dying
mid-stream, clients authenticating over TLS) start one of these instead:

* three nodes, each broker and controller (a static quorum of three voters), from the same
  jars and the same ``deploy/kafka-local/server.properties`` as
  :class:`~tests.private_broker.PrivateBroker` (which this module extends: a node is a
  ``PrivateBroker`` with a cluster's configuration);
* replication factor 3 and ``min.insync.replicas=2`` for every topic, so an ``acks=all`` write
  survives one dead broker and is refused when two are gone;
* listeners: ``CLIENT`` (SASL_SSL, SCRAM-SHA-512: the only one clients are given),
  ``INTERNAL`` (replication between brokers) and ``CONTROLLER`` (the quorum), both PLAINTEXT on
  loopback to spare CPU;
* a throw-away CA and one broker certificate for ``127.0.0.1`` / ``localhost`` made with
  ``openssl`` in the cluster's directory (``ca.pem`` is what clients trust), and the SCRAM user
  written into the metadata when storage is formatted (``kafka-storage format --add-scram``);
* brokers fenced after 4 s without a heartbeat, so a killed leader is replaced within seconds.

Each JVM gets a 256 MiB heap and its own process group; :meth:`PrivateCluster.stop` kills
whatever is left, so a failed test never leaves brokers behind.
"""

from __future__ import annotations

import atexit
import secrets
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from tests.private_broker import KAFKA_LOCAL, PrivateBroker, free_port, new_cluster_id

__all__ = ["ClusterNode", "PrivateCluster", "make_certificates"]

SCRAM_USER = "linewatch"
HEAP = "-Xms64m -Xmx256m -XX:TieredStopAtLevel=1 -XX:ActiveProcessorCount=2"
"""Small heaps and the quick JIT only: three JVMs share a small machine with the tests."""


def _openssl(*args: str, cwd: Path) -> None:
    out = subprocess.run(
        ["openssl", *args], cwd=cwd, capture_output=True, text=True, timeout=60, check=False
    )
    if out.returncode != 0:
        raise RuntimeError(f"openssl {args[0]} failed:\n{out.stderr}")


def make_certificates(folder: Path, password: str) -> tuple[Path, Path]:
    """A CA and a broker certificate for 127.0.0.1 / localhost signed by it.

    Returns ``(ca.pem, broker.p12)``: the CA certificate clients trust and the broker's
    PKCS12 keystore (key, certificate, CA), protected by ``password``.
    """
    folder.mkdir(parents=True, exist_ok=True)
    ec = ("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes")
    _openssl(
        "req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.pem", "-days", "2",
        "-subj", "/CN=linewatch test CA",
        "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign",
        cwd=folder,
    )  # fmt: skip
    _openssl(
        "req", *ec, "-keyout", "broker.key", "-out", "broker.csr", "-subj", "/CN=localhost",
        cwd=folder,
    )  # fmt: skip
    (folder / "broker.ext").write_text(
        "subjectAltName=IP:127.0.0.1,DNS:localhost\n"
        "extendedKeyUsage=serverAuth\n"
        "keyUsage=critical,digitalSignature\n"
    )
    _openssl(
        "x509", "-req", "-in", "broker.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
        "-CAcreateserial", "-out", "broker.pem", "-days", "2", "-extfile", "broker.ext",
        cwd=folder,
    )  # fmt: skip
    _openssl(
        "pkcs12", "-export", "-in", "broker.pem", "-inkey", "broker.key", "-certfile", "ca.pem",
        "-name", "broker", "-out", "broker.p12", "-passout", f"pass:{password}",
        cwd=folder,
    )  # fmt: skip
    return folder / "ca.pem", folder / "broker.p12"


def _properties(text: str) -> dict[str, str]:
    """``key=value`` lines of a properties file (comments and blank lines dropped)."""
    pairs = (line.split("=", 1) for line in text.splitlines() if "=" in line)
    return {k.strip(): v.strip() for k, v in pairs if not k.lstrip().startswith("#")}


@dataclass
class ClusterNode(PrivateBroker):
    """One node of a :class:`PrivateCluster`: broker and controller, ``port`` is SASL_SSL."""

    cluster: PrivateCluster | None = None
    node_id: int = 1
    internal_port: int = field(default_factory=free_port)

    def _configure(self) -> Path:
        config = self.root / "server.properties"
        if config.exists():
            return config
        cluster = self.cluster
        assert cluster is not None
        self.log_dir.mkdir(parents=True, exist_ok=True)
        props = _properties((KAFKA_LOCAL / "server.properties").read_text())
        props.pop("controller.quorum.bootstrap.servers", None)
        props.update(cluster.shared_properties())
        props.update(
            {
                "node.id": str(self.node_id),
                "log.dirs": str(self.root / "data"),
                "listeners": f"CLIENT://127.0.0.1:{self.port},"
                f"INTERNAL://127.0.0.1:{self.internal_port},"
                f"CONTROLLER://127.0.0.1:{self.controller_port}",
                "advertised.listeners": f"CLIENT://127.0.0.1:{self.port},"
                f"INTERNAL://127.0.0.1:{self.internal_port}",
            }
        )
        config.write_text("".join(f"{k}={v}\n" for k, v in props.items()))
        self.format_storage(
            config,
            cluster.cluster_id,
            "--add-scram",
            f"SCRAM-SHA-512=[name={SCRAM_USER},password={cluster.password}]",
        )
        return config


@dataclass
class PrivateCluster:
    """Three :class:`ClusterNode` s under ``root``; clients connect with :meth:`client_env`."""

    root: Path
    size: int = 3
    password: str = field(default_factory=lambda: secrets.token_urlsafe(12))
    cluster_id: str = field(default_factory=new_cluster_id)
    nodes: list[ClusterNode] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.store_password = secrets.token_urlsafe(12)
        self.cafile, self.keystore = make_certificates(self.root / "tls", self.store_password)
        self.nodes = [
            ClusterNode(self.root / f"node{i}", heap=HEAP, cluster=self, node_id=i)
            for i in range(1, self.size + 1)
        ]

    @property
    def bootstrap(self) -> str:
        """Every node's SASL_SSL listener, as ``LINEWATCH_KAFKA__BOOTSTRAP`` takes them."""
        return ",".join(node.bootstrap for node in self.nodes)

    def node(self, node_id: int) -> ClusterNode:
        return next(n for n in self.nodes if n.node_id == node_id)

    def shared_properties(self) -> dict[str, str]:
        """The settings every node has alike: quorum, listeners' security, replication."""
        voters = ",".join(f"{n.node_id}@127.0.0.1:{n.controller_port}" for n in self.nodes)
        scram = "org.apache.kafka.common.security.scram.ScramLoginModule required;"
        rf = str(self.size)
        return {
            "process.roles": "broker,controller",
            "controller.quorum.voters": voters,
            "controller.listener.names": "CONTROLLER",
            "inter.broker.listener.name": "INTERNAL",
            "listener.security.protocol.map": "CONTROLLER:PLAINTEXT,INTERNAL:PLAINTEXT,"
            "CLIENT:SASL_SSL",
            "listener.name.client.sasl.enabled.mechanisms": "SCRAM-SHA-512",
            "listener.name.client.scram-sha-512.sasl.jaas.config": scram,
            "listener.name.client.ssl.keystore.type": "PKCS12",
            "listener.name.client.ssl.keystore.location": str(self.keystore),
            "listener.name.client.ssl.keystore.password": self.store_password,
            "listener.name.client.ssl.key.password": self.store_password,
            "default.replication.factor": rf,
            "offsets.topic.replication.factor": rf,
            "transaction.state.log.replication.factor": rf,
            "transaction.state.log.min.isr": "2",
            "share.coordinator.state.topic.replication.factor": rf,
            "share.coordinator.state.topic.min.isr": "2",
            "min.insync.replicas": "2",
            "unclean.leader.election.enable": "false",
            "broker.heartbeat.interval.ms": "1000",
            "broker.session.timeout.ms": "4000",
            "replica.lag.time.max.ms": "8000",
            "num.network.threads": "1",
            "num.io.threads": "2",
            "background.threads": "2",
            "num.replica.fetchers": "1",
        }

    def start(self, timeout_s: float = 240.0) -> None:
        """Launch every node, then wait for all (a quorum of three needs two to elect)."""
        atexit.register(self.stop)  # also when the test run is interrupted
        try:
            for node in self.nodes:
                node.launch()
            for node in self.nodes:
                node.wait_ready(timeout_s)
        except BaseException:
            self.stop()
            raise

    def revive(self, timeout_s: float = 180.0) -> None:
        """Start again every node that died or was killed (its data kept, like a broker that
        was down); nothing to do when all run."""
        dead = [n for n in self.nodes if n.proc is None or n.proc.poll() is not None]
        for node in dead:
            node.launch()
        for node in dead:
            node.wait_ready(timeout_s)

    def stop(self) -> None:
        """Stop every node still running (SIGTERM, then SIGKILL of its process group)."""
        for node in self.nodes:
            if node.proc is not None and node.proc.poll() is None:
                node.proc.terminate()
        for node in self.nodes:
            node.stop(timeout_s=20)

    def client_env(self, password: str | None = None) -> dict[str, str]:
        """``LINEWATCH_KAFKA__*`` variables of a client of this cluster (SASL_SSL, SCRAM)."""
        return {
            "LINEWATCH_KAFKA__BOOTSTRAP": self.bootstrap,
            "LINEWATCH_KAFKA__SECURITY_PROTOCOL": "SASL_SSL",
            "LINEWATCH_KAFKA__SASL_MECHANISM": "SCRAM-SHA-512",
            "LINEWATCH_KAFKA__SASL_USERNAME": SCRAM_USER,
            "LINEWATCH_KAFKA__SASL_PASSWORD": self.password if password is None else password,
            "LINEWATCH_KAFKA__SSL_CAFILE": str(self.cafile),
        }

    def tail(self) -> str:
        return "\n".join(f"=== node {n.node_id}\n{n.tail(2000)}" for n in self.nodes)
