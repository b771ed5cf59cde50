"""Deployment files under deploy/, checked without a container engine, kubectl or kustomize.

* The kustomize base and the province overlay are rendered here by a small renderer that knows
  exactly the kustomization fields deploy/k8s uses (resources — files or directories —, namespace,
  images, replicas, strategic-merge `patches` by path); anything else in a kustomization fails the
  test, so the renderer never silently disagrees with kustomize.
* Every rendered resource of a built-in kind is validated with `kubernetes-validate` (its bundled
  JSON schemas, strict: unknown fields fail) for K8S_VERSION; CRD kinds it has no schema for
  (RabbitmqCluster, ServiceMonitor, PrometheusRule, CloudNativePG Cluster/Database) are checked
  structurally instead.
* Cross-references: every process `make up` starts (shuangjian/localrun.py) has a Deployment, a
  Service, an HPA, a ServiceMonitor, probes and resources, and a compose service with the
  SHUANGJIAN_* settings it needs; Secrets, ConfigMaps, volumes, ports and images resolve.
* deploy/compose.yaml, the Dockerfile's entrypoint, the Temporal chart values, the Grafana
  dashboard and the Prometheus rules are parsed and checked (docs/operations.md).
"""
from __future__ import annotations

import copy
import json
import re
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

from shuangjian import localrun

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
K8S = DEPLOY / "k8s"
K8S_VERSION = "1.30.0"  # the oldest Kubernetes the manifests promise to run on (docs/operations.md)

KUSTOMIZATION_FIELDS = {"apiVersion", "kind", "namespace", "resources", "images", "replicas", "patches"}
CLUSTER_SCOPED = {"Namespace"}
# CRDs kubernetes-validate has no schema for: checked structurally (check_crd)
CRD_KINDS = {
    ("rabbitmq.com/v1beta1", "RabbitmqCluster"),
    ("monitoring.coreos.com/v1", "ServiceMonitor"),
    ("monitoring.coreos.com/v1", "PrometheusRule"),
    ("postgresql.cnpg.io/v1", "Cluster"),
    ("postgresql.cnpg.io/v1", "Database"),
}
# strategic-merge keys of the built-in list fields the patches may touch
MERGE_KEYS = {"containers": "name", "initContainers": "name", "env": "name", "volumes": "name",
              "volumeMounts": "mountPath", "ports": "containerPort", "imagePullSecrets": "name"}
# Secrets that operators create (not in secrets.example.yaml)
OPERATOR_SECRETS = {"sj-rabbitmq-default-user"}

# processes `make up` starts → (Deployment / compose service name, the image's process argument)
PROCESSES = {name: (name, name) for name in localrun.SERVICES}
PROCESSES["worker"] = ("worker", "worker")
PROCESSES[localrun.FEED] = ("escrow-feed", "feed")
COMPOSE_NAME = {"escrow_feed": "feed"}

COMMON_ENV = {"SHUANGJIAN_AMQP_URI", "SHUANGJIAN_SECRETS_FILE", "SHUANGJIAN_VAR_DIR",
              "SHUANGJIAN_ROOT_DIVISION_CODE", "SHUANGJIAN_ROOT_DIVISION_NAME", "SHUANGJIAN_METRICS_PORT"}
TEMPORAL_ENV = {"SHUANGJIAN_TEMPORAL_ADDRESS", "SHUANGJIAN_TEMPORAL_NAMESPACE", "SHUANGJIAN_TASK_QUEUE"}


def required_env(process: str) -> set[str]:
    """The SHUANGJIAN_* settings a process needs beyond the local defaults (services/common/config.py)."""
    need = set(COMMON_ENV)
    if process in ("registry", "escrow", "inspection", "reporting", "gateway"):
        need.add(f"SHUANGJIAN_DB_URL_{process.upper()}")
    if process == "gateway":
        need.add("SHUANGJIAN_GATEWAY_ADDRESS")
    if process == "worker":
        need |= TEMPORAL_ENV
    if process == localrun.FEED:
        need.add("SHUANGJIAN_DB_URL_ESCROW")
    return need


# every SHUANGJIAN_* name the processes read; a new one must be placed in deploy/ (or here, if optional)
KNOWN_ENV = COMMON_ENV | TEMPORAL_ENV | {
    "SHUANGJIAN_DB_URL_", "SHUANGJIAN_DB_URL_TEMPLATE", "SHUANGJIAN_GATEWAY_ADDRESS", "SHUANGJIAN_GATEWAY_URL",
    "SHUANGJIAN_ACTOR_SIGNING_KEY", "SHUANGJIAN_LOG_LEVEL", "SHUANGJIAN_MAX_WORKERS",
    "SHUANGJIAN_TEMPORAL_CONNECT_WAIT", "SHUANGJIAN_PUBLIC_COMPLAINT_LIMIT", "SHUANGJIAN_PUBLIC_LOOKUP_LIMIT",
    "SHUANGJIAN_LOGIN_FAILURE_LIMIT", "SHUANGJIAN_TEMPORAL_UI_URL",
    "SHUANGJIAN_CONTRACT_CODE_LIMIT", "SHUANGJIAN_CONTRACT_CODE_MISS_LIMIT",  # 家长端 (issue 14)
    "SHUANGJIAN_SECURE_COOKIES", "SHUANGJIAN_SESSION_IDLE_MINUTES", "SHUANGJIAN_SESSION_ABSOLUTE_HOURS",
    "SHUANGJIAN_AUDIT_ANCHOR_MINUTES", "SHUANGJIAN_AUDIT_ANCHOR_FILE",
    "SHUANGJIAN_CLOCK_OFFSET_FILE",  # the end-to-end tests' clock only: never set in deploy/
}


# -- the renderer ---------------------------------------------------------------------------------


def load_docs(path: Path) -> list[dict]:
    with open(path, encoding="utf-8") as fh:
        return [doc for doc in yaml.safe_load_all(fh) if doc]


def is_builtin(resource: dict) -> bool:
    group = resource["apiVersion"].rpartition("/")[0]
    return "." not in group or group.endswith(".k8s.io")


def merge(base, patch, builtin: bool, field: str | None = None):
    """Strategic merge patch: maps merge, `null` deletes, listed lists merge by key, others replace."""
    if isinstance(base, dict) and isinstance(patch, dict):
        out = dict(base)
        for key, value in patch.items():
            if value is None:
                out.pop(key, None)
            elif key in out:
                out[key] = merge(out[key], value, builtin, key)
            else:
                out[key] = copy.deepcopy(value)
        return out
    if builtin and isinstance(base, list) and isinstance(patch, list) and field in MERGE_KEYS:
        key = MERGE_KEYS[field]
        out = [copy.deepcopy(item) for item in base]
        for item in patch:
            match = [i for i, old in enumerate(out) if old.get(key) == item.get(key)]
            if match:
                out[match[0]] = merge(out[match[0]], item, builtin)
            else:
                out.append(copy.deepcopy(item))
        return out
    return copy.deepcopy(patch)


def find(resources: list[dict], kind: str, name: str) -> dict:
    found = [r for r in resources if r["kind"] == kind and r["metadata"]["name"] == name]
    assert len(found) == 1, f"{kind}/{name}: {len(found)} found"
    return found[0]


def pod_containers(resource: dict) -> list[dict]:
    spec = resource.get("spec", {}).get("template", {}).get("spec", {})
    return spec.get("containers", []) + spec.get("initContainers", [])


def split_image(image: str) -> tuple[str, str | None]:
    name, _, digest = image.partition("@")
    head, sep, tag = name.rpartition(":")
    if sep and "/" not in tag:
        return head, tag
    return name, None


def build(directory: Path) -> list[dict]:
    """`kustomize build directory`, for the fields deploy/k8s uses."""
    kustomization = yaml.safe_load((directory / "kustomization.yaml").read_text(encoding="utf-8"))
    unknown = set(kustomization) - KUSTOMIZATION_FIELDS
    assert not unknown, f"{directory}: the test's renderer does not know {sorted(unknown)}"
    resources: list[dict] = []
    for entry in kustomization.get("resources", []):
        path = (directory / entry).resolve()
        resources += build(path) if path.is_dir() else load_docs(path)
    for entry in kustomization.get("patches", []):
        assert set(entry) == {"path"}, f"{directory}: only `patches: - path:` is rendered here"
        for patch in load_docs(directory / entry["path"]):
            target = find(resources, patch["kind"], patch["metadata"]["name"])
            assert target["apiVersion"] == patch["apiVersion"], f"patch {entry['path']}: apiVersion differs"
            merged = merge(target, patch, is_builtin(target))
            resources[resources.index(target)] = merged
    for entry in kustomization.get("replicas", []):
        targets = [r for r in resources if r["metadata"]["name"] == entry["name"]
                   and r["kind"] in ("Deployment", "StatefulSet")]
        assert targets, f"replicas: no workload {entry['name']}"
        for target in targets:
            target["spec"]["replicas"] = entry["count"]
    for entry in kustomization.get("images", []):
        matched = False
        for resource in resources:
            for container in pod_containers(resource):
                name, tag = split_image(container["image"])
                if name == entry["name"]:
                    matched = True
                    container["image"] = f"{entry.get('newName', name)}:{entry.get('newTag', tag)}"
        assert matched, f"{directory}: images entry {entry['name']} matches no container"
    namespace = kustomization.get("namespace")
    if namespace:
        for resource in resources:
            if resource["kind"] == "Namespace":
                resource["metadata"]["name"] = namespace
            elif resource["kind"] not in CLUSTER_SCOPED:
                resource["metadata"]["namespace"] = namespace
    return resources


RENDERINGS = {"base": K8S / "base", "province": K8S / "overlays" / "province"}


@pytest.fixture(scope="module", params=sorted(RENDERINGS))
def rendered(request) -> tuple[str, list[dict]]:
    return request.param, build(RENDERINGS[request.param])


def of_kind(resources: list[dict], kind: str) -> dict[str, dict]:
    return {r["metadata"]["name"]: r for r in resources if r["kind"] == kind}


# -- schema validation ----------------------------------------------------------------------------


def has_cjk(text: str) -> bool:
    return bool(re.search(r"[\u4e00-\u9fff]", text))


def check_crd(resource: dict) -> None:
    kind, spec, meta = resource["kind"], resource.get("spec"), resource.get("metadata", {})
    where = f"{kind}/{meta.get('name')}"
    assert set(resource) >= {"apiVersion", "kind", "metadata", "spec"}, where
    assert meta.get("name") and meta.get("namespace"), where
    assert isinstance(spec, dict) and spec, where
    if kind == "RabbitmqCluster":
        assert spec["replicas"] >= 3 and spec["replicas"] % 2 == 1, where
        assert split_image(spec["image"])[1], f"{where}: image without a tag"
        assert spec["resources"]["requests"] and spec["resources"]["limits"], where
        assert "prometheus.return_per_object_metrics = true" in spec["rabbitmq"]["additionalConfig"], where
    elif kind == "ServiceMonitor":
        assert spec["selector"]["matchLabels"], where
        assert spec["endpoints"] and all(e.get("port") and e.get("path") for e in spec["endpoints"]), where
    elif kind == "PrometheusRule":
        rules = [rule for group in spec["groups"] for rule in group["rules"]]
        assert rules, where
        for rule in rules:
            assert rule["alert"] and rule["expr"].strip(), rule
            assert rule["labels"]["severity"] in ("critical", "warning", "info"), rule["alert"]
            assert has_cjk(rule["annotations"]["summary"]), f"{rule['alert']}: summary in Chinese"
            assert has_cjk(rule["annotations"]["description"]), rule["alert"]
    elif kind == "Cluster":
        assert isinstance(spec["instances"], int) and spec["instances"] >= 1, where
        assert split_image(spec["imageName"])[1], f"{where}: image without a tag"
        assert spec["storage"]["size"], where
        assert spec["bootstrap"]["initdb"]["secret"]["name"], where
    elif kind == "Database":
        assert spec["name"] and spec["owner"] and spec["cluster"]["name"], where


def test_every_resource_validates(rendered):
    name, resources = rendered
    assert resources
    validated = set()
    for resource in resources:
        key = (resource["apiVersion"], resource["kind"])
        try:
            kubernetes_validate.validate(resource, K8S_VERSION, strict=True)
            validated.add(resource["kind"])
        except kubernetes_validate.SchemaNotFoundError:
            assert key in CRD_KINDS, f"{name}: no schema for {key} and no structural check either"
            check_crd(resource)
        except kubernetes_validate.ValidationError as exc:
            pytest.fail(f"{name}: {resource['kind']}/{resource['metadata']['name']}: {exc.message} "
                        f"at {'/'.join(map(str, exc.path))}")
    assert {"Deployment", "Service", "HorizontalPodAutoscaler", "ConfigMap", "Ingress",
            "PersistentVolumeClaim", "Namespace"} <= validated
    kinds = {r["kind"] for r in resources}
    assert {"RabbitmqCluster", "ServiceMonitor", "PrometheusRule", "Cluster", "Database"} <= kinds


def test_names_are_unique_and_namespaced(rendered):
    name, resources = rendered
    keys = [(r["kind"], r["metadata"]["name"]) for r in resources]
    assert len(keys) == len(set(keys)), f"{name}: duplicate resources"
    for resource in resources:
        if resource["kind"] != "Namespace":
            assert resource["metadata"]["namespace"] == "shuangjian", resource["metadata"]["name"]


def test_secret_template_validates_and_stays_out_of_the_build(rendered):
    _, resources = rendered
    secrets = load_docs(K8S / "base" / "secrets.example.yaml")
    for secret in secrets:
        kubernetes_validate.validate(secret, K8S_VERSION, strict=True)
    assert not of_kind(resources, "Secret"), "secrets are applied by hand, never from the repository"
    by_name = {s["metadata"]["name"]: s for s in secrets}
    keys = json.loads(by_name["shuangjian-secrets"]["stringData"]["secrets.json"])
    assert set(keys) == {"actor_signing_key", "session_signing_key", "admin_username", "admin_password"}
    for secret in secrets:
        if secret["type"] == "kubernetes.io/basic-auth":
            assert set(secret["stringData"]) == {"username", "password"}


# -- every process: Deployment, probes, resources, HPA, Service, ServiceMonitor ---------------------


def env_names(container: dict, config_maps: dict) -> list[str]:
    names = []
    for source in container.get("envFrom", []):
        names += list(config_maps[source["configMapRef"]["name"]]["data"])
    return names + [e["name"] for e in container.get("env", [])]


def test_every_process_has_a_deployment(rendered):
    name, resources = rendered
    deployments = of_kind(resources, "Deployment")
    hpas = {h["spec"]["scaleTargetRef"]["name"]: h for h in of_kind(resources, "HorizontalPodAutoscaler").values()}
    services = of_kind(resources, "Service")
    monitors = of_kind(resources, "ServiceMonitor")
    config_maps = of_kind(resources, "ConfigMap")
    secrets = {s["metadata"]["name"] for s in load_docs(K8S / "base" / "secrets.example.yaml")} | OPERATOR_SECRETS
    claims = of_kind(resources, "PersistentVolumeClaim")
    assert set(deployments) == {deployment for deployment, _ in PROCESSES.values()}
    for process, (deployment_name, argument) in PROCESSES.items():
        deployment = deployments[deployment_name]
        pod = deployment["spec"]["template"]["spec"]
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        assert deployment["spec"]["selector"]["matchLabels"].items() <= labels.items()
        (container,) = pod["containers"]
        assert container["args"] == [argument], process
        image, tag = split_image(container["image"])
        assert image.endswith("/shuangjian") and tag and tag != "latest", container["image"]
        limits, requests = container["resources"]["limits"], container["resources"]["requests"]
        assert {"cpu", "memory"} <= set(requests) and {"cpu", "memory"} <= set(limits), process
        ports = {p["name"]: p["containerPort"] for p in container["ports"]}
        assert ports["metrics"] == 9100
        for probe in ("readinessProbe", "livenessProbe", "startupProbe"):
            get = container[probe]["httpGet"]
            if process == "gateway":
                expected = "/health/ready" if probe == "readinessProbe" else "/health/live"
                assert (get["path"], ports[get["port"]]) == (expected, 8000), probe
            else:
                assert (get["path"], ports[get["port"]]) == ("/metrics", 9100), (process, probe)
        # settings: every SHUANGJIAN_* the process needs, $(VAR) only after VAR, refs resolve
        names = env_names(container, config_maps)
        missing = required_env(process) - set(names)
        assert not missing, f"{name}: {deployment_name} lacks {sorted(missing)}"
        seen = [n for n in names if n not in {e["name"] for e in container["env"]}]
        for entry in container["env"]:
            for ref in re.findall(r"\$\((\w+)\)", entry.get("value", "")):
                assert ref in seen, f"{deployment_name}: {entry['name']} uses $({ref}) before it is defined"
            if "valueFrom" in entry:
                assert entry["valueFrom"]["secretKeyRef"]["name"] in secrets, entry
            seen.append(entry["name"])
        mounts = {m["name"] for m in container["volumeMounts"]}
        for volume in pod["volumes"]:
            assert volume["name"] in mounts, volume["name"]
            if "secret" in volume:
                assert volume["secret"]["secretName"] in secrets
            if "persistentVolumeClaim" in volume:
                assert volume["persistentVolumeClaim"]["claimName"] in claims
        assert pod["securityContext"]["runAsNonRoot"] is True and pod["securityContext"]["runAsUser"] != 0
        # scale out: an autoscaling/v2 HPA on CPU, the replica count within its bounds
        hpa = hpas[deployment_name]
        assert hpa["apiVersion"] == "autoscaling/v2"
        assert hpa["spec"]["minReplicas"] <= deployment["spec"]["replicas"] <= hpa["spec"]["maxReplicas"]
        assert any(m["resource"]["name"] == "cpu" for m in hpa["spec"]["metrics"])
        # a Service selecting the pods with the metrics port, and a ServiceMonitor on it
        service = services[deployment_name]
        assert service["spec"]["selector"].items() <= labels.items()
        service_ports = {p["name"] for p in service["spec"]["ports"]}
        assert "metrics" in service_ports
        monitor = monitors[deployment_name]
        assert monitor["spec"]["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
        assert {e["port"] for e in monitor["spec"]["endpoints"]} <= service_ports


def test_ingress_and_databases_resolve(rendered):
    _, resources = rendered
    services = of_kind(resources, "Service")
    for ingress in of_kind(resources, "Ingress").values():
        for rule in ingress["spec"]["rules"]:
            for path in rule["http"]["paths"]:
                backend = path["backend"]["service"]
                assert backend["port"]["name"] in {p["name"] for p in services[backend["name"]]["spec"]["ports"]}
    clusters = of_kind(resources, "Cluster")
    databases = {d["spec"]["name"] for d in of_kind(resources, "Database").values()}
    for database in of_kind(resources, "Database").values():
        assert database["spec"]["cluster"]["name"] in clusters
    (cluster,) = clusters.values()
    databases.add(cluster["spec"]["bootstrap"]["initdb"]["database"])
    for deployment in of_kind(resources, "Deployment").values():
        for entry in deployment["spec"]["template"]["spec"]["containers"][0]["env"]:
            if entry["name"].startswith("SHUANGJIAN_DB_URL_"):
                host_db = entry["value"].rpartition("@")[2]
                assert host_db.startswith(f"{cluster['metadata']['name']}-rw:5432/"), host_db
                assert host_db.rpartition("/")[2] in databases, host_db
    values = yaml.safe_load((K8S / "temporal-values.yaml").read_text(encoding="utf-8"))
    for store in ("default", "visibility"):
        assert values["server"]["config"]["persistence"][store]["sql"]["database"] in databases


def test_the_province_overlay_scales_up():
    base, province = build(RENDERINGS["base"]), build(RENDERINGS["province"])

    def cpu(value: str) -> float:
        return float(value[:-1]) / 1000 if value.endswith("m") else float(value)

    for deployment_name, _ in PROCESSES.values():
        small, big = find(base, "Deployment", deployment_name), find(province, "Deployment", deployment_name)
        assert big["spec"]["replicas"] > small["spec"]["replicas"] or big["spec"]["replicas"] >= 3
        small_cpu = cpu(small["spec"]["template"]["spec"]["containers"][0]["resources"]["requests"]["cpu"])
        big_cpu = cpu(big["spec"]["template"]["spec"]["containers"][0]["resources"]["requests"]["cpu"])
        assert big_cpu > small_cpu, deployment_name
        small_hpa = find(base, "HorizontalPodAutoscaler", deployment_name)["spec"]
        big_hpa = find(province, "HorizontalPodAutoscaler", deployment_name)["spec"]
        assert big_hpa["maxReplicas"] > small_hpa["maxReplicas"]
        assert big_hpa["minReplicas"] == big["spec"]["replicas"]
        # the patch kept everything else of the container
        container = big["spec"]["template"]["spec"]["containers"][0]
        assert container["readinessProbe"] and container["env"] and container["image"].endswith(":0.1.0")
    assert find(province, "Cluster", "sj-postgres")["spec"]["instances"] == 3
    assert find(province, "ConfigMap", "shuangjian-config")["data"]["SHUANGJIAN_ROOT_DIVISION_CODE"] == "340000"
    assert find(province, "ConfigMap", "shuangjian-config")["data"]["SHUANGJIAN_TEMPORAL_ADDRESS"]


def test_temporal_chart_values():
    values = yaml.safe_load((K8S / "temporal-values.yaml").read_text(encoding="utf-8"))
    secrets = {s["metadata"]["name"] for s in load_docs(K8S / "base" / "secrets.example.yaml")}
    for store in ("default", "visibility"):
        persistence = values["server"]["config"]["persistence"][store]
        assert persistence["driver"] == "sql" and persistence["sql"]["driver"] == "postgres12"
        assert persistence["sql"]["existingSecret"] in secrets
    assert values["schema"]["setup"]["enabled"] and values["schema"]["update"]["enabled"]
    assert values["web"]["enabled"] is True
    for bundled in ("cassandra", "mysql", "postgresql", "elasticsearch", "prometheus", "grafana"):
        assert values[bundled]["enabled"] is False, bundled
    config = yaml.safe_load((K8S / "base" / "configmap.yaml").read_text(encoding="utf-8"))["data"]
    # release `temporal` → Service temporal-frontend:7233
    assert config["SHUANGJIAN_TEMPORAL_ADDRESS"] == "temporal-frontend:7233"
    namespaces = [n["name"] for n in values["server"]["config"]["namespaces"]["namespace"]]
    assert config["SHUANGJIAN_TEMPORAL_NAMESPACE"] in namespaces


# -- the image ------------------------------------------------------------------------------------


def test_the_image_runs_each_process_as_make_up_does():
    dockerfile = (DEPLOY / "Dockerfile").read_text(encoding="utf-8")
    entrypoint = (DEPLOY / "entrypoint.sh").read_text(encoding="utf-8")
    assert re.search(r"^ARG PYTHON_IMAGE=python:3\.11-slim", dockerfile, re.M)
    user = re.findall(r"^USER (\S+)", dockerfile, re.M)
    assert user and user[-1].split(":")[0] not in ("0", "root")
    assert "HEALTHCHECK" in dockerfile and 'ENTRYPOINT ["/app/deploy/entrypoint.sh"]' in dockerfile
    # the commands localrun uses: nameko run services.<s>.service --config deploy/nameko.yaml, python -m …
    argv = localrun.service_argv("registry")
    assert argv[1:3] == ["run", "services.registry.service"] and argv[3] == "--config"
    assert Path(argv[4]).relative_to(ROOT).as_posix() == "deploy/nameko.yaml"
    assert 'exec nameko run "services.$process.service" --config /app/deploy/nameko.yaml' in entrypoint
    assert localrun.worker_argv()[1:] == ["-m", "workflows.worker"]
    assert "exec python -m workflows.worker" in entrypoint
    assert localrun.feed_argv()[1:] == ["-m", "services.escrow.feed"]
    assert "exec python -m services.escrow.feed" in entrypoint
    for _, argument in PROCESSES.values():
        assert re.search(rf"^\s*[\w|]*\b{argument}\b[\w|]*\)", entrypoint, re.M), argument
    ignored = (ROOT / ".dockerignore").read_text(encoding="utf-8").split()
    assert {".venv", "var", ".git"} <= set(ignored)


def test_the_cluster_sends_cookies_over_tls_only_and_keeps_the_audit_anchor(rendered):
    """Issue 16: TLS ends at the ingress, so the session cookie is Secure; the anchor file lives on
    its own claim (not the pod's emptyDir), where every gateway replica appends to it."""
    _, resources = rendered
    data = find(resources, "ConfigMap", "shuangjian-config")["data"]
    assert data["SHUANGJIAN_SECURE_COOKIES"] == "1" and data["SHUANGJIAN_SESSION_IDLE_MINUTES"] == "30"
    gateway = find(resources, "Deployment", "gateway")["spec"]["template"]["spec"]
    claim = next(v for v in gateway["volumes"] if v["name"] == "audit-anchors")["persistentVolumeClaim"]["claimName"]
    assert find(resources, "PersistentVolumeClaim", claim)["spec"]["accessModes"] == ["ReadWriteMany"]
    mount = next(m for m in gateway["containers"][0]["volumeMounts"] if m["name"] == "audit-anchors")
    assert data["SHUANGJIAN_AUDIT_ANCHOR_FILE"].startswith(mount["mountPath"] + "/")


def test_the_metrics_port_is_the_probed_one(rendered, compose):
    """SHUANGJIAN_METRICS_PORT (services/common/metrics.py) is the port the probes, Services and
    healthcheck use: 9100 in the ConfigMap and in compose."""
    _, resources = rendered
    assert find(resources, "ConfigMap", "shuangjian-config")["data"]["SHUANGJIAN_METRICS_PORT"] == "9100"
    for process in PROCESSES:
        env = compose["services"][COMPOSE_NAME.get(process, process)]["environment"]
        assert str(env["SHUANGJIAN_METRICS_PORT"]) == "9100", process
    assert "9100/metrics" in (DEPLOY / "healthcheck.py").read_text(encoding="utf-8")


def test_no_setting_is_left_out_of_the_deployment():
    """A SHUANGJIAN_* variable a process reads that deploy/ does not know about fails here."""
    read = set()
    for folder in ("services", "workflows"):
        for path in (ROOT / folder).rglob("*.py"):
            read |= set(re.findall(r"SHUANGJIAN_[A-Z0-9_]+", path.read_text(encoding="utf-8")))
    unknown = read - KNOWN_ENV
    assert not unknown, (f"new settings {sorted(unknown)}: set them in deploy/compose.yaml and "
                         "deploy/k8s (or list them as optional in KNOWN_ENV)")


# -- compose --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((DEPLOY / "compose.yaml").read_text(encoding="utf-8"))


def test_compose_images_are_the_one_image_or_pinned(compose):
    ours = compose["x-shuangjian-image"]["image"]
    assert re.fullmatch(r"shuangjian:\$\{SHUANGJIAN_VERSION:-[\w.]+\}", ours), ours
    for name, service in compose["services"].items():
        image = service["image"]
        if "build" in service or image.startswith("shuangjian:"):
            assert image == ours, name
            assert service["build"]["dockerfile"] == "deploy/Dockerfile"
            assert (DEPLOY / service["build"]["context"] / service["build"]["dockerfile"]).is_file()
        else:
            assert re.fullmatch(r"[\w.\-/]+:[\w.\-]+", image), f"{name}: {image} not pinned"
            assert not image.endswith(":latest"), name


def test_compose_runs_every_process_with_its_settings(compose):
    services = compose["services"]
    init = (DEPLOY / "compose" / "postgres-init.sh").read_text(encoding="utf-8")
    for process, (_, argument) in PROCESSES.items():
        name = COMPOSE_NAME.get(process, process)
        service = services[name]
        assert service["command"] == [argument], name
        env = service["environment"]
        missing = required_env(process) - set(env)
        assert not missing, f"compose {name} lacks {sorted(missing)}"
        assert all(value not in (None, "") for value in env.values()), name
        assert "@rabbitmq:5672/" in env["SHUANGJIAN_AMQP_URI"]
        for key, value in env.items():
            if key.startswith("SHUANGJIAN_DB_URL_"):
                database = value.rpartition("/")[2]
                assert "@postgres:5432/" in value and f"CREATE DATABASE {database} " in init, value
        if "SHUANGJIAN_TEMPORAL_ADDRESS" in env:
            assert env["SHUANGJIAN_TEMPORAL_ADDRESS"].split(":")[0] in services
        assert env["SHUANGJIAN_SECRETS_FILE"] == "/run/secrets/" + service["secrets"][0]["target"]
        assert service["secrets"][0]["source"] in compose["secrets"]
    assert services["gateway"]["environment"]["SHUANGJIAN_GATEWAY_ADDRESS"].startswith("0.0.0.0:")
    assert "healthcheck.py" in " ".join(services["gateway"]["healthcheck"]["test"])
    for name, service in services.items():
        for dependency, condition in service.get("depends_on", {}).items():
            assert dependency in services, (name, dependency)
            if condition["condition"] == "service_healthy":
                assert "healthcheck" in services[dependency], (name, dependency)
    temporal = services["temporal"]["environment"]
    assert temporal["DB"] == "postgres12" and temporal["POSTGRES_SEEDS"] == "postgres"
    for database in (temporal["DBNAME"], temporal["VISIBILITY_DBNAME"]):
        assert f"CREATE DATABASE {database} " in init


# -- monitoring -----------------------------------------------------------------------------------

CONTRACT_METRICS = ["http_requests_total", "http_request_seconds", "messages_consumed_total",
                    "messages_published_total", "rabbitmq_queue_messages_ready",
                    "temporal_workflows_started_total", "temporal_workflows_completed_total",
                    "temporal_workflows_failed_total", "escrow_alerts_open", "report_cycles_overdue"]


def test_grafana_dashboard():
    dashboard = json.loads((DEPLOY / "monitoring" / "grafana-dashboard.json").read_text(encoding="utf-8"))
    panels = dashboard["panels"]
    assert panels and dashboard["uid"] and dashboard["title"]
    assert len({p["id"] for p in panels}) == len(panels)
    expressions = []
    for panel in panels:
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            assert target["expr"].strip() and target["refId"], panel["title"]
            expressions.append(target["expr"])
    text = "\n".join(expressions)
    for metric in CONTRACT_METRICS:
        assert metric in text, metric


def test_alert_rules_cover_the_contract():
    (rule,) = load_docs(DEPLOY / "monitoring" / "prometheus-rules.yaml")
    rule["metadata"]["namespace"] = "shuangjian"
    check_crd(rule)
    text = "\n".join(r["expr"] for g in rule["spec"]["groups"] for r in g["rules"])
    for metric in ("up{", "http_requests_total", "http_request_seconds_bucket", "rabbitmq_queue_messages_ready",
                   "temporal_workflows_failed_total", "report_cycles_overdue", "escrow_alerts_open",
                   "shuangjian_calendar_next_year_official"):
        assert metric in text, metric


def test_the_operations_doc_lists_the_metrics():
    doc = (ROOT / "docs" / "operations.md").read_text(encoding="utf-8")
    for metric in CONTRACT_METRICS:
        assert f"`{metric}" in doc, metric
    assert "docs/operations.md" in (ROOT / "README.md").read_text(encoding="utf-8")
