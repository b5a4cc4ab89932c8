"""deploy/k8s/: every manifest valid under a current Kubernetes API schema (kubernetes-validate, strict), and
the properties an operator relies on: two or more non-root read-only replicas that drain before they stop,
probes on /readyz and /healthz, a migration Job with the keys, placeholder secrets that hold no key."""

from __future__ import annotations

import copy
import subprocess
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from chat.crypto.keyring import FileKeyRing, KeyError_
from tests.deploy.names import settings_read
from triage import load_region

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "k8s"
KUBERNETES = "1.37.0"  # the newest the pinned kubernetes-validate ships
FILES = sorted(K8S.rglob("*.yaml"))
APP = {"app.kubernetes.io/name": "minimaria-chat", "app.kubernetes.io/component": "app"}


def documents(path: Path) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")) if doc is not None]


@pytest.fixture(scope="module")
def resources() -> dict[tuple[str, str], dict[str, Any]]:
    """Every resource in deploy/k8s by (kind, name)."""
    found: dict[tuple[str, str], dict[str, Any]] = {}
    for path in FILES:
        for doc in documents(path):
            key = (doc["kind"], doc["metadata"]["name"])
            assert key not in found, f"{key} twice"
            found[key] = doc
    return found


def pod_spec(resource: dict[str, Any]) -> dict[str, Any]:
    spec: dict[str, Any] = resource["spec"]["template"]["spec"]
    return spec


def env_of(container: dict[str, Any]) -> dict[str, str]:
    return {item["name"]: item.get("value", "") for item in container.get("env", [])}


def mounts_of(container: dict[str, Any]) -> dict[str, str]:
    return {mount["mountPath"]: mount["name"] for mount in container.get("volumeMounts", [])}


@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.relative_to(K8S)))
def test_manifest_validates_against_the_kubernetes_schema(path: Path) -> None:
    """Strict: an unknown or misplaced field fails, as it would on `kubectl apply --validate=strict`."""
    docs = documents(path)
    assert docs
    for doc in docs:
        kubernetes_validate.validate(doc, KUBERNETES, strict=True)
        assert "namespace" not in doc["metadata"], "namespace-agnostic: `kubectl apply -n` chooses it"


def test_the_validation_has_teeth(resources: dict[tuple[str, str], dict[str, Any]]) -> None:
    """A misspelt field in the Deployment is refused in strict mode."""
    broken = copy.deepcopy(resources[("Deployment", "minimaria")])
    pod_spec(broken)["containers"][0]["readinessProbe"]["httpGet"]["paht"] = "/readyz"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, KUBERNETES, strict=True)


def test_all_the_pieces_are_there(resources: dict[tuple[str, str], dict[str, Any]]) -> None:
    """Deployment, Service, Ingress, migration Job, key and database Secrets, region ConfigMap, PDB, HPA."""
    assert set(resources) == {
        ("Deployment", "minimaria"), ("Service", "minimaria"), ("Ingress", "minimaria"),
        ("Job", "minimaria-migrate"), ("Secret", "minimaria-keys"), ("Secret", "minimaria-database"),
        ("ConfigMap", "minimaria-region"), ("PodDisruptionBudget", "minimaria"),
        ("HorizontalPodAutoscaler", "minimaria"),
    }  # fmt: skip


def test_the_deployment_runs_two_replicas_with_probes(resources: dict[tuple[str, str], dict[str, Any]]) -> None:
    """Two replicas; ready only when /readyz says the database and the bus answer; alive while /healthz does."""
    deployment = resources[("Deployment", "minimaria")]
    assert deployment["spec"]["replicas"] >= 2
    assert deployment["spec"]["selector"]["matchLabels"] == APP == deployment["spec"]["template"]["metadata"]["labels"]
    assert deployment["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
    (app,) = pod_spec(deployment)["containers"]
    assert app["args"] == ["serve", "--host", "0.0.0.0", "--port", "8000"]  # noqa: S104 - the pod's own interface
    assert app["ports"] == [{"name": "http", "containerPort": 8000}]
    assert app["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    assert app["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}


def test_a_stopping_pod_drains_before_it_closes_sockets(resources: dict[tuple[str, str], dict[str, Any]]) -> None:
    """preStop waits about ten seconds for the ingress to stop routing to the pod; the grace period covers that
    wait plus the 1012 close, the reconnects elsewhere and the rest of the shutdown."""
    spec = pod_spec(resources[("Deployment", "minimaria")])
    delay = spec["containers"][0]["lifecycle"]["preStop"]["sleep"]["seconds"]
    assert 5 <= delay <= 15
    assert spec["terminationGracePeriodSeconds"] >= delay + 30


def test_every_container_is_non_root_read_only_and_bounded(resources: dict[tuple[str, str], dict[str, Any]]) -> None:
    """Pods run as the image's uid 10001; every container (init ones too) has a read-only root, no privilege
    escalation, no capabilities, and requests and limits; /tmp is an emptyDir."""
    for key in (("Deployment", "minimaria"), ("Job", "minimaria-migrate")):
        spec = pod_spec(resources[key])
        assert spec["securityContext"]["runAsNonRoot"] is True
        assert spec["securityContext"]["runAsUser"] == 10001  # USER in deploy/Dockerfile
        assert spec["automountServiceAccountToken"] is False
        for container in spec.get("initContainers", []) + spec["containers"]:
            context = container["securityContext"]
            assert context["readOnlyRootFilesystem"] is True, container["name"]
            assert context["allowPrivilegeEscalation"] is False, container["name"]
            assert context["capabilities"]["drop"] == ["ALL"], container["name"]
            assert set(container["resources"]) == {"requests", "limits"}, container["name"]
            assert {"cpu", "memory"} <= set(container["resources"]["limits"]), container["name"]
        volumes = {volume["name"]: volume for volume in spec["volumes"]}
        main = spec["containers"][0]
        assert "emptyDir" in volumes[mounts_of(main)["/tmp"]]  # noqa: S108 - a mount point in the pod


def test_the_apps_and_the_job_get_the_keys_and_the_database_password_as_files(
    resources: dict[tuple[str, str], dict[str, Any]],
) -> None:
    """The key file and the database password come from Secrets mounted as files (migration 0013 needs the keys);
    every MINIMARIA_ name set is one the service reads."""
    for key in (("Deployment", "minimaria"), ("Job", "minimaria-migrate")):
        spec = pod_spec(resources[key])
        volumes = {volume["name"]: volume for volume in spec["volumes"]}
        (init,) = spec["initContainers"]
        main = spec["containers"][0]
        env = env_of(main)
        assert set(env) <= settings_read(), set(env) - settings_read()
        assert "MINIMARIA_KEYS" not in env and "MINIMARIA_DATABASE_PASSWORD" not in env
        keys_dir, _, _ = env["MINIMARIA_KEYS_FILE"].rpartition("/")
        assert volumes[mounts_of(main)[keys_dir]]["emptyDir"]["medium"] == "Memory"
        assert init["command"][-1] == env["MINIMARIA_KEYS_FILE"]
        secret_dir, _, _ = init["command"][-2].rpartition("/")
        assert volumes[mounts_of(init)[secret_dir]]["secret"]["secretName"] == "minimaria-keys"
        password_dir, _, password_key = env["MINIMARIA_DATABASE_PASSWORD_FILE"].rpartition("/")
        assert password_key == "password"
        assert volumes[mounts_of(main)[password_dir]]["secret"]["secretName"] == "minimaria-database"
        assert ":" not in env["MINIMARIA_DATABASE_URL"].split("://", 1)[1].split("@")[0], "no password in the URL"
    job = resources[("Job", "minimaria-migrate")]
    assert pod_spec(job)["containers"][0]["args"] == ["db", "upgrade"]
    assert pod_spec(job)["restartPolicy"] == "Never"


def test_the_init_container_makes_a_key_file_the_service_accepts(
    resources: dict[tuple[str, str], dict[str, Any]], tmp_path: Path
) -> None:
    """Kubernetes makes a secret file 0440 when fsGroup is set, which the key ring refuses; the init container's
    own command, run here on such a file, leaves an owner-only copy that loads."""
    (init,) = pod_spec(resources[("Deployment", "minimaria")])["initContainers"]
    secret = tmp_path / "secret" / "minimaria-keys.json"
    secret.parent.mkdir()
    ring = FileKeyRing.create(secret)
    secret.chmod(0o440)
    with pytest.raises(KeyError_, match="readable by group"):
        FileKeyRing(secret)
    copied = tmp_path / "keys" / "minimaria-keys.json"
    copied.parent.mkdir()
    source, target = init["command"][-2:]
    command = [*init["command"][:-2], str(secret), str(copied)]
    assert Path(source).name == secret.name and Path(target).name == copied.name
    subprocess.run(command, check=True, timeout=30)
    assert FileKeyRing(copied).primary_id() == ring.primary_id()


def test_the_placeholder_secrets_hold_no_key_and_are_not_applied_with_the_rest(
    resources: dict[tuple[str, str], dict[str, Any]], tmp_path: Path
) -> None:
    """The key Secret's value is not a key file (applied by mistake, the service refuses to start), and the
    placeholders sit in a folder that `kubectl apply -f deploy/k8s/` does not descend into."""
    placeholder = resources[("Secret", "minimaria-keys")]["stringData"]["minimaria-keys.json"]
    written = tmp_path / "keys.json"
    written.write_text(placeholder, encoding="utf-8")
    written.chmod(0o600)
    with pytest.raises(KeyError_):
        FileKeyRing(written)
    assert "kubectl create secret" in (K8S / "secrets" / "keys.yaml").read_text(encoding="utf-8")
    assert "minimaria keys init" in (K8S / "secrets" / "keys.yaml").read_text(encoding="utf-8")
    top_level = {doc["kind"] for path in K8S.glob("*.yaml") for doc in documents(path)}
    assert "Secret" not in top_level


def test_the_region_configmap_is_a_valid_region(resources: dict[tuple[str, str], dict[str, Any]], tmp_path: Path) -> None:
    """The ConfigMap's region file passes the same checks as `minimaria config check`, at the path the app reads."""
    region = tmp_path / "region.toml"
    region.write_text(resources[("ConfigMap", "minimaria-region")]["data"]["region.toml"], encoding="utf-8")
    assert load_region(region).teams
    spec = pod_spec(resources[("Deployment", "minimaria")])
    path, _, name = env_of(spec["containers"][0])["MINIMARIA_REGION_CONFIG"].rpartition("/")
    assert name == "region.toml"
    volumes = {volume["name"]: volume for volume in spec["volumes"]}
    assert volumes[mounts_of(spec["containers"][0])[path]]["configMap"]["name"] == "minimaria-region"


def test_service_ingress_pdb_and_hpa_point_at_the_app(resources: dict[tuple[str, str], dict[str, Any]]) -> None:
    """The Service selects the app's pods; the Ingress terminates TLS for its host and keeps quiet WebSockets open
    for an hour; the PDB keeps one pod through a drain; the HPA never goes below two."""
    service = resources[("Service", "minimaria")]
    assert service["spec"]["selector"] == APP
    assert service["spec"]["ports"][0]["targetPort"] == "http"
    ingress = resources[("Ingress", "minimaria")]
    annotations = ingress["metadata"]["annotations"]
    assert annotations["nginx.ingress.kubernetes.io/proxy-read-timeout"] == "3600"
    assert annotations["nginx.ingress.kubernetes.io/proxy-send-timeout"] == "3600"
    (rule,) = ingress["spec"]["rules"]
    assert ingress["spec"]["tls"][0]["hosts"] == [rule["host"]]
    assert ingress["spec"]["tls"][0]["secretName"]
    assert rule["http"]["paths"][0]["backend"]["service"] == {"name": "minimaria", "port": {"name": "http"}}
    pdb = resources[("PodDisruptionBudget", "minimaria")]
    assert pdb["apiVersion"] == "policy/v1"
    assert pdb["spec"] == {"minAvailable": 1, "selector": {"matchLabels": APP}}
    hpa = resources[("HorizontalPodAutoscaler", "minimaria")]
    assert hpa["apiVersion"] == "autoscaling/v2"
    assert hpa["spec"]["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": "minimaria"}
    assert hpa["spec"]["minReplicas"] >= 2
    assert hpa["spec"]["maxReplicas"] > hpa["spec"]["minReplicas"]
