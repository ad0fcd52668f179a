"""Deployment files: k8s kustomizations, docker-compose.yml, ClickHouse users, Grafana dashboards.

The k8s manifests are rendered with the kustomize Go library and validated offline against the
Kubernetes OpenAPI v3 schema and the KEDA / prometheus-operator CRD schemas by
``deploy/tools/k8s-validate`` (schemas pinned as Go modules in its go.mod/go.sum); the compose file
is loaded by ``deploy/tools/compose-config`` (compose-go, docker compose's own loader). Both are
built here with the Go toolchain, so a typo in a manifest fails this test, and with it CI.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
K8S = ROOT / "k8s"
TOOLS = ROOT / "deploy" / "tools"
GRAFANA = ROOT / "deploy" / "grafana"
COMPOSE_SECRETS = (
    "CLICKHOUSE_WRITER_PASSWORD",
    "CLICKHOUSE_READER_PASSWORD",
    "GRAFANA_ADMIN_PASSWORD",
)

# The worker's Prometheus metrics (issue 9, item 4): name -> kind.
WORKER_METRICS = {
    "linewatch_events_consumed_total": "counter",
    "linewatch_frames_stored_total": "counter",
    "linewatch_dead_letters_total": "counter",
    "linewatch_drift_alarms_total": "counter",
    "linewatch_inference_seconds": "histogram",
    "linewatch_end_to_end_seconds": "histogram",
    "linewatch_flush_seconds": "histogram",
    "linewatch_flush_rows": "histogram",
    "linewatch_consumer_lag": "gauge",
}

pytestmark = pytest.mark.skipif(
    shutil.which("go") is None, reason="needs the Go toolchain (deploy/tools are Go programs)"
)


def _go_build(tool: str, out_dir: Path) -> Path:
    binary = out_dir / tool
    proc = subprocess.run(
        ["go", "build", "-o", str(binary), "."],
        check=False,
        cwd=TOOLS / tool,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert proc.returncode == 0, f"go build {tool} failed:\n{proc.stderr}"
    return binary


@pytest.fixture(scope="module")
def k8s_validate(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _go_build("k8s-validate", tmp_path_factory.mktemp("k8s-validate"))


@pytest.fixture(scope="module")
def compose_config(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _go_build("compose-config", tmp_path_factory.mktemp("compose-config"))


def _validate(binary: Path, *dirs: Path, render: bool = False) -> subprocess.CompletedProcess[str]:
    args = [str(binary), *(["-print"] if render else []), *map(str, dirs)]
    return subprocess.run(
        args,
        check=False,
        cwd=TOOLS / "k8s-validate",
        capture_output=True,
        text=True,
        timeout=600,
    )


def _render(binary: Path, kdir: Path) -> list[dict[str, Any]]:
    proc = _validate(binary, kdir, render=True)
    assert proc.returncode == 0, proc.stderr
    return [json.loads(line) for line in proc.stdout.splitlines() if line.strip()]


def _one(objs: list[dict[str, Any]], kind: str, name: str | None = None) -> dict[str, Any]:
    found = [o for o in objs if o["kind"] == kind and name in (None, o["metadata"]["name"])]
    assert len(found) == 1, f"expected one {kind} {name or ''}, found {len(found)}"
    return found[0]


def _kustomizations() -> list[Path]:
    """Every kustomization under k8s/ that can be applied (components are not)."""
    out = []
    for f in sorted(K8S.rglob("kustomization.yaml")):
        if re.search(r"^kind:\s*Kustomization\s*$", f.read_text(), re.M):
            out.append(f.parent)
    return out


# --- k8s: schema validation ------------------------------------------------------------------


def test_kustomizations_are_found() -> None:
    names = {str(p.relative_to(ROOT)) for p in _kustomizations()}
    assert {"k8s", "k8s/base", "k8s/overlays/cpu-hpa", "k8s/overlays/prometheus-operator"} <= names


@pytest.mark.slow
def test_every_kustomization_validates(k8s_validate: Path) -> None:
    proc = _validate(k8s_validate, *_kustomizations())
    assert proc.returncode == 0, proc.stderr


@pytest.fixture
def k8s_copy(tmp_path: Path) -> Iterator[Path]:
    shutil.copytree(K8S, tmp_path / "k8s")
    yield tmp_path / "k8s"


BROKEN = [
    # (file under k8s/, text, replacement, kustomization to build, expected problem)
    (
        "base/worker-deployment.yaml",
        "  replicas: 3\n",
        '  replicas: "3"\n',
        ".",
        "Deployment linewatch/linewatch-worker: at /spec/replicas: got string, want integer",
    ),
    (
        "base/worker-deployment.yaml",
        "  revisionHistoryLimit: 3\n",
        "  revisionHistoryLimt: 3\n",
        ".",
        "at /spec: additional properties 'revisionHistoryLimt' not allowed",
    ),
    (
        "base/worker-deployment.yaml",
        "readOnlyRootFilesystem: true\n",
        "readOnlyRootFilesystem: yes-please\n",
        "overlays/cpu-hpa",
        "securityContext/readOnlyRootFilesystem: got string, want boolean",
    ),
    (
        "base/worker-networkpolicy.yaml",
        'policyTypes: ["Ingress", "Egress"]',
        "policyTypes: Ingress",
        ".",
        "NetworkPolicy linewatch/linewatch-worker: at /spec/policyTypes: got string, want array",
    ),
    (
        "base/worker-pdb.yaml",
        "kind: PodDisruptionBudget",
        "kind: PodDisruptionBudgets",
        ".",
        "unknown kind policy/v1/PodDisruptionBudgets",
    ),
    (
        "components/keda/worker-scaledobject.yaml",
        'lagThreshold: "4000"',
        "lagThreshold: 4000",
        ".",
        "ScaledObject linewatch/linewatch-worker: at /spec/triggers/0/metadata/lagThreshold: "
        "got number, want string",
    ),
    (
        "components/keda/worker-scaledobject.yaml",
        "  maxReplicaCount: 12\n",
        "  maxReplicas: 12\n",
        "overlays/prometheus-operator",
        "at /spec: additional properties 'maxReplicas' not allowed",
    ),
    (
        "components/keda/worker-scaledobject.yaml",
        "  scaleTargetRef:\n",
        "  scaleTarget:\n",
        ".",
        "missing property 'scaleTargetRef'",
    ),
    (
        "components/cpu-hpa/worker-hpa.yaml",
        "averageUtilization: 70",
        "averageUtilisation: 70",
        "overlays/cpu-hpa",
        "additional properties 'averageUtilisation' not allowed",
    ),
    (
        "base/report-cronjob.yaml",
        "  successfulJobsHistoryLimit: 3\n",
        '  successfulJobsHistoryLimit: "3"\n',
        ".",
        "CronJob linewatch/linewatch-report: at /spec/successfulJobsHistoryLimit: got string, "
        "want integer",
    ),
    (
        "components/prometheus-operator/worker-servicemonitor.yaml",
        "interval: 30s",
        "interval: 30",
        "overlays/prometheus-operator",
        "ServiceMonitor linewatch/linewatch-worker: at /spec/endpoints/0/interval: got number",
    ),
]


@pytest.mark.slow
@pytest.mark.parametrize("case", BROKEN, ids=[b[0] + ":" + b[2].strip() for b in BROKEN])
def test_a_broken_manifest_fails_validation(
    k8s_validate: Path, k8s_copy: Path, case: tuple[str, str, str, str, str]
) -> None:
    rel, old, new, kdir, expected = case
    path = k8s_copy / rel
    text = path.read_text()
    assert text.count(old) == 1, f"{old!r} not once in {rel}: update this test with the manifest"
    path.write_text(text.replace(old, new))
    proc = _validate(k8s_validate, k8s_copy / kdir)
    assert proc.returncode == 1, proc.stderr
    assert expected in proc.stderr


@pytest.mark.slow
def test_unchanged_copy_validates(k8s_validate: Path, k8s_copy: Path) -> None:
    """The broken-manifest cases fail because of their change, not because of the copy."""
    proc = _validate(k8s_validate, k8s_copy, k8s_copy / "overlays" / "cpu-hpa")
    assert proc.returncode == 0, proc.stderr


# --- k8s: what the rendered objects must say ------------------------------------------------


def _config(objs: list[dict[str, Any]]) -> dict[str, str]:
    data: dict[str, str] = _one(objs, "ConfigMap", "linewatch")["data"]
    return data


@pytest.mark.slow
def test_default_scales_with_keda_on_consumer_lag_within_partitions(k8s_validate: Path) -> None:
    objs = _render(k8s_validate, K8S)
    cfg = _config(objs)
    partitions = int(cfg["LINEWATCH_KAFKA__TOPIC_PARTITIONS"])
    assert not [o for o in objs if o["kind"] == "HorizontalPodAutoscaler"]
    so = _one(objs, "ScaledObject")
    assert so["spec"]["scaleTargetRef"]["name"] == _one(objs, "Deployment")["metadata"]["name"]
    assert 1 <= so["spec"]["minReplicaCount"] <= so["spec"]["maxReplicaCount"] <= partitions
    (trigger,) = so["spec"]["triggers"]
    meta = trigger["metadata"]
    assert trigger["type"] == "kafka"
    assert (
        meta["topic"]
        == cfg.get("LINEWATCH_KAFKA__TOPIC_EVENTS", "camera-events")
        == "camera-events"
    )
    assert meta["consumerGroup"] == cfg["LINEWATCH_WORKER__APP_ID"]
    assert meta["bootstrapServers"] == cfg["LINEWATCH_KAFKA__BOOTSTRAP"]
    assert meta["allowIdleConsumers"] == "false"
    assert int(meta["lagThreshold"]) > 0
    auth = _one(objs, "TriggerAuthentication", trigger["authenticationRef"]["name"])
    assert {r["parameter"] for r in auth["spec"]["secretTargetRef"]} == {"password", "ca"}


def _keda_kafka_params() -> dict[str, dict[str, Any]]:
    """KEDA's Kafka scaler parameters, read from its `keda:"name=…"` struct tags.

    The CRD types trigger metadata as a free map of strings, so a misspelt key passes the schema;
    the scaler's source (the pinned github.com/kedacore/keda/v2 module) says which keys exist.
    """
    proc = subprocess.run(
        ["go", "mod", "download", "-json", "github.com/kedacore/keda/v2"],
        check=False,
        cwd=TOOLS / "k8s-validate",
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr
    source = Path(json.loads(proc.stdout)["Dir"]) / "pkg" / "scalers" / "kafka_scaler.go"
    params: dict[str, dict[str, Any]] = {}
    for tag in re.findall(r'keda:"([^"]+)"', source.read_text()):
        fields = dict(part.split("=", 1) for part in tag.split(",") if "=" in part)
        params[fields["name"]] = {
            "order": set(fields.get("order", "").split(";")),
            "enum": set(fields["enum"].split(";")) if "enum" in fields else None,
            "default": fields.get("default"),
        }
    assert {"bootstrapServers", "consumerGroup", "topic", "lagThreshold"} <= set(params)
    return params


def _kafka_trigger_problems(
    metadata: dict[str, str], auth_params: set[str], params: dict[str, dict[str, Any]]
) -> list[str]:
    problems = []
    for key, value in metadata.items():
        spec = params.get(key)
        if spec is None or "triggerMetadata" not in spec["order"]:
            problems.append(f"unknown trigger metadata {key!r}")
            continue
        if spec["enum"] and value not in spec["enum"]:
            problems.append(f"{key}={value!r} not in {sorted(spec['enum'])}")
        if spec["default"] in ("true", "false") and value not in ("true", "false"):
            problems.append(f"{key}={value!r} is not a boolean")
        if (spec["default"] or "").isdigit() and not value.isdigit():
            problems.append(f"{key}={value!r} is not an integer")
    for key in auth_params:
        if key not in params or "authParams" not in params[key]["order"]:
            problems.append(f"unknown authentication parameter {key!r}")
    return problems


@pytest.mark.slow
def test_keda_kafka_trigger_uses_parameters_the_scaler_knows(k8s_validate: Path) -> None:
    objs = _render(k8s_validate, K8S)
    (trigger,) = _one(objs, "ScaledObject")["spec"]["triggers"]
    auth = _one(objs, "TriggerAuthentication")["spec"]
    auth_params = {e["parameter"] for e in auth.get("env", []) + auth.get("secretTargetRef", [])}
    params = _keda_kafka_params()
    assert _kafka_trigger_problems(trigger["metadata"], auth_params, params) == []
    # ...and the check catches what the CRD schema cannot.
    typo = {**trigger["metadata"], "consumerGrup": "linewatch", "offsetResetPolicy": "oldest"}
    assert _kafka_trigger_problems(typo, auth_params | {"pasword"}, params) == [
        "offsetResetPolicy='oldest' not in ['earliest', 'latest']",
        "unknown trigger metadata 'consumerGrup'",
        "unknown authentication parameter 'pasword'",
    ]


@pytest.mark.slow
def test_cpu_hpa_overlay_replaces_keda(k8s_validate: Path) -> None:
    objs = _render(k8s_validate, K8S / "overlays" / "cpu-hpa")
    assert not [o for o in objs if o["kind"] in ("ScaledObject", "TriggerAuthentication")]
    hpa = _one(objs, "HorizontalPodAutoscaler")
    assert hpa["spec"]["maxReplicas"] <= int(_config(objs)["LINEWATCH_KAFKA__TOPIC_PARTITIONS"])
    assert hpa["spec"]["metrics"][0]["resource"]["name"] == "cpu"


def _labels_match(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    return all(labels.get(k) == v for k, v in selector.get("matchLabels", {}).items())


@pytest.mark.slow
def test_workers_networkpolicy_tls_store_and_metrics_scraping(k8s_validate: Path) -> None:
    objs = _render(k8s_validate, K8S)
    cfg = _config(objs)
    web_port = int(cfg["LINEWATCH_WORKER__WEB_PORT"])
    dep = _one(objs, "Deployment", "linewatch-worker")
    pod = dep["spec"]["template"]
    (container,) = pod["spec"]["containers"]
    assert [p["containerPort"] for p in container["ports"]] == [web_port]

    # ClickHouse over TLS: https DSN on 8443, CA file mounted from a (required) Secret.
    assert cfg["LINEWATCH_STORE__DSN"].startswith("https://")
    assert ":8443/" in cfg["LINEWATCH_STORE__DSN"]
    ca_file = cfg["SSL_CERT_FILE"]
    for obj in [dep, _one(objs, "Job", "linewatch-schema-apply")]:
        spec = obj["spec"]["template"]["spec"]
        mounts = {m["name"]: m["mountPath"] for c in spec["containers"] for m in c["volumeMounts"]}
        volumes = {v["name"]: v for v in spec["volumes"]}
        (name,) = [n for n, path in mounts.items() if ca_file.startswith(path + "/")]
        assert volumes[name]["secret"]["secretName"] == "linewatch-clickhouse-ca"
        assert not volumes[name]["secret"].get("optional", False)

    # NetworkPolicy: selects the worker pods, lets in only the web port, lets out DNS, Kafka
    # and ClickHouse's TLS port.
    pol = _one(objs, "NetworkPolicy", "linewatch-worker")
    assert _labels_match(pol["spec"]["podSelector"], pod["metadata"]["labels"])
    assert set(pol["spec"]["policyTypes"]) == {"Ingress", "Egress"}
    assert [p["port"] for r in pol["spec"]["ingress"] for p in r["ports"]] == [web_port]
    egress_ports = {p["port"] for r in pol["spec"]["egress"] for p in r["ports"]}
    kafka_port = int(cfg["LINEWATCH_KAFKA__BOOTSTRAP"].rsplit(":", 1)[1])
    assert egress_ports == {53, kafka_port, 8443}

    # Scrape annotations point at /metrics on the web port.
    ann = pod["metadata"]["annotations"]
    assert ann["prometheus.io/scrape"] == "true"
    assert int(ann["prometheus.io/port"]) == web_port
    assert ann["prometheus.io/path"] == "/metrics"

    # No Secret with a value ships: the operator creates them (deploy/README.md).
    assert not [o for o in objs if o["kind"] == "Secret"]


@pytest.mark.slow
def test_servicemonitor_overlay_scrapes_the_worker_port(k8s_validate: Path) -> None:
    objs = _render(k8s_validate, K8S / "overlays" / "prometheus-operator")
    svc = _one(objs, "Service", "linewatch-worker-metrics")
    mon = _one(objs, "ServiceMonitor")
    assert _labels_match(mon["spec"]["selector"], svc["metadata"]["labels"])
    pod_labels = _one(objs, "Deployment")["spec"]["template"]["metadata"]["labels"]
    assert all(pod_labels.get(k) == v for k, v in svc["spec"]["selector"].items())
    (endpoint,) = mon["spec"]["endpoints"]
    assert endpoint["path"] == "/metrics"
    assert endpoint["port"] in {p["name"] for p in svc["spec"]["ports"]}
    _one(objs, "ScaledObject")  # the overlay keeps the default autoscaler


# --- the plant's files and the scheduled report ---------------------------------------------

PLANT_MOUNT = "/etc/linewatch/plant"
PLANT_FILES = "/etc/linewatch/plant-files"
REPORTS = "/var/lib/linewatch/reports"


def _pod(obj: dict[str, Any]) -> dict[str, Any]:
    spec: dict[str, Any] = obj["spec"]
    if obj["kind"] == "CronJob":
        spec = spec["jobTemplate"]["spec"]
    pod: dict[str, Any] = spec["template"]["spec"]
    return pod


def _mounts(container: dict[str, Any]) -> dict[str, str]:
    return {m["mountPath"]: m["name"] for m in container.get("volumeMounts", [])}


@pytest.mark.slow
def test_k8s_pods_take_the_plant_from_a_configmap_and_an_init_container(
    k8s_validate: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from streams.config import Settings

    objs = _render(k8s_validate, K8S)
    cfg = _config(objs)
    assert cfg["LINEWATCH_CONFIG"] == f"{PLANT_MOUNT}/linewatch.toml"
    assert not [k for k in cfg if k.startswith("LINEWATCH_PLANT__")]  # would win over the file
    plant = [
        o
        for o in objs
        if o["kind"] == "ConfigMap" and o["metadata"]["name"].startswith("linewatch-plant")
    ]
    assert len(plant) == 1
    plant_file = tmp_path / "linewatch.toml"
    plant_file.write_text(plant[0]["data"]["linewatch.toml"])
    monkeypatch.setenv("LINEWATCH_CONFIG", str(plant_file))
    settings = Settings()
    assert settings.inference.model == f"{PLANT_FILES}/model.json"
    assert settings.drift.reference == f"{PLANT_FILES}/reference.json"
    assert len(settings.plant.lines) == 3
    for obj in (_one(objs, "Deployment"), _one(objs, "CronJob", "linewatch-report")):
        pod = _pod(obj)
        volumes = {v["name"]: v for v in pod["volumes"]}
        (init,) = pod["initContainers"]
        assert init["image"] == "registry.example.com/linewatch-plant:1"
        assert _mounts(init) == {PLANT_FILES: "plant-files"}
        (main,) = pod["containers"]
        assert main["image"] == "registry.example.com/linewatch:0.1.0"
        mounts = _mounts(main)
        assert volumes[mounts[PLANT_MOUNT]]["configMap"]["name"] == plant[0]["metadata"]["name"]
        assert mounts[PLANT_FILES] == "plant-files" and "emptyDir" in volumes["plant-files"]
        assert {"configMapRef": {"name": "linewatch"}} in main["envFrom"]


@pytest.mark.slow
def test_k8s_cronjob_writes_the_report_to_a_volume(k8s_validate: Path) -> None:
    objs = _render(k8s_validate, K8S)
    cron = _one(objs, "CronJob", "linewatch-report")
    assert cron["spec"]["schedule"] and cron["spec"]["concurrencyPolicy"] == "Forbid"
    pod = _pod(cron)
    (main,) = pod["containers"]
    script = " ".join(main["args"])
    assert 'linewatch report --out "$out"' in script and f"out={REPORTS}/report-" in script
    volume = {v["name"]: v for v in pod["volumes"]}[_mounts(main)[REPORTS]]
    claim = volume["persistentVolumeClaim"]["claimName"]
    assert _one(objs, "PersistentVolumeClaim", claim)["spec"]["accessModes"] == ["ReadWriteOnce"]


@pytest.mark.slow
def test_compose_takes_the_plant_from_a_folder_and_writes_reports(
    compose_config: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from streams.config import Settings

    env = {k: "s3cret-" + k for k in COMPOSE_SECRETS} | {"COMPOSE_PROFILES": "tools,setup"}
    proc = _compose(compose_config, tmp_path, env)
    assert proc.returncode == 0, proc.stderr
    services = json.loads(proc.stdout)["services"]
    for name in ("schema", "topics", "worker", "query", "report"):
        e = services[name]["environment"]
        assert e["LINEWATCH_CONFIG"] == f"{PLANT_MOUNT}/linewatch.toml", name
        assert not [k for k in e if k.startswith("LINEWATCH_PLANT__")], name
        mount = next(v for v in services[name]["volumes"] if v["target"] == PLANT_MOUNT)
        assert mount["read_only"] and mount["source"].endswith("deploy/plant"), name
    monkeypatch.setenv("LINEWATCH_CONFIG", str(ROOT / "deploy" / "plant" / "linewatch.toml"))
    assert sorted(Settings().plant.lines) == ["line-1", "line-2", "line-3"]
    report = services["report"]
    script = " ".join(report["command"])
    assert f"out={REPORTS}/report-" in script and 'linewatch report --out "$out"' in script
    assert any(v["target"] == REPORTS and v["type"] == "volume" for v in report["volumes"])
    assert "reports" in json.loads(proc.stdout)["volumes"]
    graf = services["grafana"]
    assert "GF_INSTALL_PLUGINS" not in graf["environment"]  # nothing downloaded at start
    plugins = graf["environment"]["GF_PATHS_PLUGINS"]
    assert any(v["target"] == plugins and v["read_only"] for v in graf["volumes"])
    fill = services["grafana-plugins"]
    assert "grafana-clickhouse-datasource" in fill["entrypoint"]
    assert any(v["target"] == "/plugins" for v in fill["volumes"])


def test_the_image_holds_no_plant_file_and_has_a_reports_folder() -> None:
    dockerfile = (ROOT / "deploy" / "Dockerfile").read_text()
    assert "install -d -o linewatch -g linewatch /var/lib/linewatch/reports" in dockerfile
    assert not re.search(r"^COPY .*(\.onnx|reference\.json|linewatch\.toml)", dockerfile, re.M)
    readme = (ROOT / "deploy" / "README.md").read_text()
    assert "docker push registry.example.com/linewatch:0.1.0" in readme


# --- ClickHouse users: k8s Job script and compose XML agree -----------------------------------


def _users_script() -> Any:
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "clickhouse_users", K8S / "base" / "clickhouse-users.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_users_script_and_compose_xml_create_the_same_users() -> None:
    script = _users_script()
    root = ET.parse(ROOT / "deploy" / "clickhouse" / "users.d" / "linewatch.xml").getroot()
    users = root.find("users")
    assert users is not None
    writer, reader = users.find(script.WRITER), users.find(script.READER)
    assert writer is not None and reader is not None

    def grant(user: ET.Element) -> str:
        (query,) = [q.text or "" for q in user.iterfind("grants/query")]
        return " ".join(query.split())

    assert grant(writer) == f"GRANT {script.WRITER_GRANTS} ON {script.DATABASE}.*"
    assert grant(reader) == f"GRANT {script.READER_GRANTS} ON {script.DATABASE}.*"
    # Passwords only from the environment, never written in the file.
    for user in (writer, reader):
        (pw,) = list(user.iterfind("password"))
        assert pw.get("from_env") and not (pw.text or "").strip()
    # The reader's profile: readonly = 2, clients may not lower it to 0.
    assert reader.findtext("profile") == script.READER_PROFILE
    profile = root.find(f"profiles/{script.READER_PROFILE}")
    assert profile is not None and profile.findtext("readonly") == "2"
    assert profile.findtext("constraints/readonly/min") == "1"
    assert script.READER_PROFILE_SETTINGS == "readonly = 2 MIN 1 MAX 2"
    # `default` answers on loopback only.
    default = users.find("default")
    assert default is not None
    assert sorted(ip.text or "" for ip in default.iterfind("networks/ip")) == ["127.0.0.1", "::1"]


def test_users_script_sql_parses_and_hides_passwords() -> None:
    script = _users_script()
    writer_pw, reader_pw = "w'ri\"ter;--pw", "reader/pw#?"
    sql = script.statements(writer_pw, reader_pw)
    assert not any(writer_pw in s or reader_pw in s for s in sql)
    with pytest.raises(ValueError, match="share"):
        script.statements("same", "same")
    with pytest.raises(ValueError, match="non-empty"):
        script.statements("", "x")
    # ClickHouse's own parser (chDB, in a subprocess: one chDB per process) accepts every line.
    code = (
        "import chdb, json, sys\n"
        "for q in json.load(sys.stdin):\n"
        "    print(chdb.query('EXPLAIN AST ' + q, 'CSV').bytes().decode().splitlines()[0])\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code],
        check=False,
        input=json.dumps(sql),
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr
    kinds = [line.strip('"').split()[0] for line in proc.stdout.splitlines()]
    assert kinds == [
        "CreateUserQuery",
        "CreateUserQuery",  # ALTER USER parses to the same node
        "GrantQuery",
        "CreateSettingsProfileQuery",
        "CreateSettingsProfileQuery",
        "CreateUserQuery",
        "CreateUserQuery",
        "GrantQuery",
    ]


# --- docker compose --------------------------------------------------------------------------


def _compose(binary: Path, tmp_path: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    # A copy, so that an .env file next to the real one cannot fill in the secrets.
    shutil.copy(ROOT / "docker-compose.yml", tmp_path / "docker-compose.yml")
    base = {
        k: v for k, v in os.environ.items() if k not in COMPOSE_SECRETS and k != "COMPOSE_PROFILES"
    }
    return subprocess.run(
        [str(binary), "-json", str(tmp_path / "docker-compose.yml")],
        check=False,
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.slow
@pytest.mark.parametrize("missing", COMPOSE_SECRETS)
def test_compose_refuses_to_start_without_each_password(
    compose_config: Path, tmp_path: Path, missing: str
) -> None:
    env = {k: "s3cret-" + k for k in COMPOSE_SECRETS if k != missing}
    proc = _compose(compose_config, tmp_path, env)
    assert proc.returncode == 1
    assert f"required variable {missing} is missing a value: set {missing}" in proc.stderr


def test_compose_file_has_no_default_passwords() -> None:
    text = (ROOT / "docker-compose.yml").read_text()
    assert not re.search(r"PASSWORD[^\n]*:-", text)
    for name in COMPOSE_SECRETS:
        assert "${" + name + ":?" in text


@pytest.mark.slow
def test_compose_users_prometheus_and_grafana(compose_config: Path, tmp_path: Path) -> None:
    env = {k: "s3cret-" + k for k in COMPOSE_SECRETS} | {"COMPOSE_PROFILES": "tools"}
    proc = _compose(compose_config, tmp_path, env)
    assert proc.returncode == 0, proc.stderr
    services = json.loads(proc.stdout)["services"]
    writer_pw, reader_pw = env["CLICKHOUSE_WRITER_PASSWORD"], env["CLICKHOUSE_READER_PASSWORD"]
    for name in ("schema", "topics", "worker"):
        e = services[name]["environment"]
        assert e["LINEWATCH_STORE__DSN"].startswith("http://linewatch@clickhouse:")
        assert e["LINEWATCH_STORE__PASSWORD"] == writer_pw
    q = services["query"]["environment"]
    assert q["LINEWATCH_STORE__DSN"].startswith("http://linewatch_reader@clickhouse:")
    assert q["LINEWATCH_STORE__PASSWORD"] == reader_pw
    ch = services["clickhouse"]
    assert ch["environment"]["CLICKHOUSE_WRITER_PASSWORD"] == writer_pw
    assert ch["environment"]["CLICKHOUSE_READER_PASSWORD"] == reader_pw
    assert "CLICKHOUSE_PASSWORD" not in ch["environment"]
    assert any(v["target"] == "/etc/clickhouse-server/users.d/linewatch.xml" for v in ch["volumes"])
    graf = services["grafana"]["environment"]
    assert graf["CLICKHOUSE_READER_PASSWORD"] == reader_pw
    assert "CLICKHOUSE_WRITER_PASSWORD" not in graf

    # Prometheus scrapes the workers' web port, found by the compose service name.
    web_port = services["worker"]["environment"]["LINEWATCH_WORKER__WEB_PORT"]
    prom_cfg = (ROOT / "deploy" / "prometheus" / "prometheus.yml").read_text()
    assert re.search(r'names: \["worker"\]', prom_cfg)
    assert re.search(rf"port: {web_port}\b", prom_cfg)
    assert "metrics_path: /metrics" in prom_cfg
    assert "prometheus" in services and "prometheus" in services["grafana"]["depends_on"]


# --- Grafana ---------------------------------------------------------------------------------


def _datasource_uids() -> set[str]:
    uids: set[str] = set()
    for f in (GRAFANA / "provisioning" / "datasources").glob("*.yaml"):
        uids |= set(re.findall(r"^\s*uid:\s*(\S+)\s*$", f.read_text(), re.M))
    return uids


def _panel_exprs(dashboard: dict[str, Any]) -> list[str]:
    return [t["expr"] for p in dashboard["panels"] for t in p.get("targets", []) if "expr" in t]


def test_grafana_datasources_and_readonly_clickhouse_user() -> None:
    assert {"linewatch-clickhouse", "linewatch-prometheus"} <= _datasource_uids()
    ch = (GRAFANA / "provisioning" / "datasources" / "clickhouse.yaml").read_text()
    assert re.search(r"username: linewatch_reader$", ch, re.M)
    assert "$CLICKHOUSE_READER_PASSWORD" in ch
    for f in (GRAFANA / "dashboards").glob("*.json"):
        dash = json.loads(f.read_text())
        used = {p["datasource"]["uid"] for p in dash["panels"]}
        assert used <= _datasource_uids(), f.name


@pytest.fixture(scope="module")
def dashboard_check(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _go_build("dashboard-check", tmp_path_factory.mktemp("dashboard-check"))


def _queries(binary: Path, *files: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(binary), *map(str, files)], check=False, capture_output=True, text=True, timeout=120
    )


@pytest.mark.slow
def test_workers_dashboard_uses_exactly_the_worker_metrics(dashboard_check: Path) -> None:
    """Every PromQL query parses (Prometheus's parser) and uses only the worker's metrics, right."""
    proc = _queries(dashboard_check, *sorted((GRAFANA / "dashboards").glob("*.json")))
    assert proc.returncode == 0, proc.stderr
    queries = [json.loads(line) for line in proc.stdout.splitlines()]
    sels = [sel for q in queries for sel in q["selectors"]]
    assert queries and all(q["file"].endswith("linewatch-workers.json") for q in queries)

    def base(metric: str) -> str:
        if WORKER_METRICS.get(metric):
            return metric
        stem, _, suffix = metric.rpartition("_")
        assert suffix in ("bucket", "sum", "count"), f"{metric} is not a worker metric"
        assert WORKER_METRICS.get(stem) == "histogram", f"{metric}: {stem} is not a histogram"
        return stem

    assert {base(s["metric"]) for s in sels} == set(WORKER_METRICS)
    panels = [q for q in queries if not q["panel"].startswith("variable ")]
    for q in panels:
        for sel in q["selectors"]:
            kind = WORKER_METRICS.get(sel["metric"])
            if kind == "counter" or sel["metric"].endswith(("_bucket", "_sum", "_count")):
                assert sel.get("function") in ("rate", "increase"), q["expr"]
            if sel["metric"].endswith("_bucket"):
                assert "le" in sel.get("by", []), q["expr"]
                assert q["expr"].startswith("histogram_quantile("), q["expr"]
    by = {s["metric"]: set(s.get("by", [])) for s in sels if s.get("by")}
    assert by["linewatch_dead_letters_total"] == {"reason"}
    assert by["linewatch_drift_alarms_total"] == {"signal"}
    assert by["linewatch_consumer_lag"] == {"topic", "partition"}
    dash = json.loads((GRAFANA / "dashboards" / "linewatch-workers.json").read_text())
    panel_ids = [p["id"] for p in dash["panels"]]
    assert len(panel_ids) == len(set(panel_ids))


@pytest.mark.slow
def test_a_broken_promql_query_fails(dashboard_check: Path, tmp_path: Path) -> None:
    dash = json.loads((GRAFANA / "dashboards" / "linewatch-workers.json").read_text())
    target = dash["panels"][0]["targets"][0]
    target["expr"] = target["expr"].rstrip(")")  # unbalanced parentheses
    broken = tmp_path / "broken.json"
    broken.write_text(json.dumps(dash))
    proc = _queries(dashboard_check, broken)
    assert proc.returncode == 1
    assert f'panel "{dash["panels"][0]["title"]}", query A:' in proc.stderr
