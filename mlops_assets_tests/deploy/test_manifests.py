"""Every Kubernetes manifest under deploy/ is valid for Kubernetes 1.30 and follows the hardening rules."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from mlops_assets import k8s as prod

from .step_jobs import DEPLOY, REPO_ROOT

pytestmark = pytest.mark.k8s

MANIFESTS = sorted((DEPLOY / "k8s").rglob("*.yaml"))
K8S_VERSION = "1.30"
POD_KINDS = {"Deployment", "StatefulSet", "Job", "DaemonSet"}
# dagster-k8s 0.29 (client.py/launcher.py/executor.py) calls exactly these; it polls, never watches.
ALLOWED_VERBS = {
    ("batch", "jobs"): {"create", "get", "list", "delete"},
    ("batch", "jobs/status"): {"get"},
    ("", "pods"): {"get", "list", "delete"},
    ("", "pods/log"): {"get"},
    ("", "events"): {"list"},
}


def _docs(path: Path) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d is not None]


def _all_docs() -> list[tuple[str, dict[str, Any]]]:
    return [(f"{p.name}:{d['kind']}/{d['metadata']['name']}", d) for p in MANIFESTS for d in _docs(p)]


def _by_kind(kind: str) -> list[dict[str, Any]]:
    return [d for _, d in _all_docs() if d["kind"] == kind]


def test_manifest_folder_is_not_empty() -> None:
    kinds = {d["kind"] for _, d in _all_docs()}
    assert {"Namespace", "ServiceAccount", "Role", "RoleBinding", "ConfigMap", "Secret"} <= kinds
    assert {"PersistentVolumeClaim", "Deployment", "StatefulSet", "Service", "NetworkPolicy"} <= kinds


@pytest.mark.parametrize(("name", "doc"), _all_docs(), ids=[n for n, _ in _all_docs()])
def test_manifest_validates_strictly(name: str, doc: dict[str, Any]) -> None:
    kubernetes_validate.validate(doc, K8S_VERSION, strict=True)
    if doc["kind"] != "Namespace":
        assert doc["metadata"]["namespace"] == "mlops", name


def test_strict_validation_rejects_a_typo() -> None:
    """Guard for the test above: a misspelt field must not pass."""
    bad = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "x"},
        "spec": {"selector": {"a": "b"}, "ports": [{"port": 80}], "typo": 1},
    }
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(bad, K8S_VERSION, strict=True)


def test_secret_templates_hold_only_placeholders() -> None:
    secrets = _by_kind("Secret")
    assert secrets
    for secret in secrets:
        assert "data" not in secret, "templates use stringData placeholders, never encoded values"
        for key, value in secret["stringData"].items():
            assert "REPLACE_ME" in value, f"{secret['metadata']['name']}.{key} looks like a real value"
    names = {s["metadata"]["name"] for s in secrets}
    assert {prod.ENV_SECRET, prod.SSH_SECRET, "dagster-postgresql-secret"} <= names


def test_rbac_grants_only_what_dagster_k8s_calls() -> None:
    (role,) = _by_kind("Role")
    for rule in role["rules"]:
        for group in rule["apiGroups"]:
            for resource in rule["resources"]:
                allowed = ALLOWED_VERBS.get((group, resource))
                assert allowed is not None, f"unexpected resource {group}/{resource}"
                assert set(rule["verbs"]) <= allowed, f"{resource}: {rule['verbs']}"
    granted = {(g, r) for rule in role["rules"] for g in rule["apiGroups"] for r in rule["resources"]}
    assert granted == set(ALLOWED_VERBS), "the run launcher/executor would be denied something it calls"
    (binding,) = _by_kind("RoleBinding")
    assert binding["roleRef"]["name"] == role["metadata"]["name"]
    assert binding["subjects"][0]["name"] == prod.SERVICE_ACCOUNT
    assert {sa["metadata"]["name"] for sa in _by_kind("ServiceAccount")} == {prod.SERVICE_ACCOUNT}


def _pod_specs() -> list[tuple[str, dict[str, Any]]]:
    return [
        (d["metadata"]["name"], d["spec"]["template"]["spec"])
        for _, d in _all_docs()
        if d["kind"] in POD_KINDS
    ]


@pytest.mark.parametrize(("name", "spec"), _pod_specs(), ids=[n for n, _ in _pod_specs()])
def test_pods_are_hardened(name: str, spec: dict[str, Any]) -> None:
    assert spec["securityContext"]["runAsNonRoot"] is True
    assert spec["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault"
    assert spec["automountServiceAccountToken"] is False, "these pods never call the Kubernetes API"
    volumes = {v["name"]: v for v in spec["volumes"]}
    for c in spec["containers"]:
        sc = c["securityContext"]
        assert sc["readOnlyRootFilesystem"] is True
        assert sc["allowPrivilegeEscalation"] is False
        assert sc["capabilities"]["drop"] == ["ALL"]
        assert "resources" in c and c["resources"]["limits"]["memory"]
        assert ":" in c["image"] and not c["image"].endswith(":latest"), "pin image tags"
        tmp = [m for m in c["volumeMounts"] if m["mountPath"] == "/tmp"]
        assert tmp and "emptyDir" in volumes[tmp[0]["name"]], "writable /tmp must be an emptyDir"


def test_network_policy_isolates_the_code_server() -> None:
    policies = {p["metadata"]["name"]: p for p in _by_kind("NetworkPolicy")}
    deny = policies["default-deny-all"]["spec"]
    assert deny["podSelector"] == {} and set(deny["policyTypes"]) == {"Ingress", "Egress"}
    ingress = policies["code-server-ingress"]["spec"]
    assert ingress["podSelector"]["matchLabels"] == {"component": "user-deployments"}
    (rule,) = ingress["ingress"]
    assert rule["ports"] == [{"protocol": "TCP", "port": 3030}]
    sources = [p["podSelector"] for p in rule["from"]]
    assert all("namespaceSelector" not in p and "ipBlock" not in p for p in rule["from"])
    allowed = {tuple(e["values"]) for s in sources for e in s.get("matchExpressions", [])}
    allowed |= {(v,) for s in sources for v in s.get("matchLabels", {}).values()}
    assert allowed == {("dagster-webserver", "dagster-daemon"), ("run_worker",)}


def test_egress_covers_every_dependency() -> None:
    def ports(policy: dict[str, Any]) -> set[int]:
        return {p["port"] for rule in policy["spec"]["egress"] for p in rule.get("ports", [])}

    policies = {p["metadata"]["name"]: p for p in _by_kind("NetworkPolicy")}
    assert ports(policies["allow-dns-egress"]) == {53}
    assert {5432, 5000, 22, 443} <= ports(policies["code-server-egress"])
    assert {5432, 5000, 3030, 22, 443, 6443} <= ports(policies["run-and-step-egress"])
    assert {5432, 3030, 443} <= ports(policies["control-plane-egress"])


def test_config_map_carries_what_prod_settings_require() -> None:
    env = next(c for c in _by_kind("ConfigMap") if c["metadata"]["name"] == prod.ENV_CONFIG_MAP)["data"]
    for key in ("MLOPS_STORAGE_ROOT", "MLFLOW_TRACKING_URI", prod.NAMESPACE_ENV, "MLOPS_HOME"):
        assert env.get(key), key
    assert env["MLOPS_ASSETS_ENV"] == "prod"
    assert env["MLOPS_HOME"].startswith(prod.DATA_DIR + "/"), "cursors must live on the shared PVC"
    assert env["MLOPS_HOSTS_FILE"].startswith(prod.HOSTS_DIR + "/")
    hosts = next(c for c in _by_kind("ConfigMap") if c["metadata"]["name"] == prod.HOSTS_CONFIG_MAP)
    for host in yaml.safe_load(hosts["data"]["hosts.yaml"])["hosts"]:
        assert host["key_file"].startswith(prod.SSH_DIR + "/")
        assert host["known_hosts"].startswith(prod.SSH_DIR + "/")


def test_mlflow_serves_artifacts_from_its_pvc() -> None:
    mlflow = next(d for d in _by_kind("Deployment") if d["metadata"]["name"] == "mlflow")
    assert mlflow["spec"]["replicas"] == 1 and mlflow["spec"]["strategy"]["type"] == "Recreate"
    args = mlflow["spec"]["template"]["spec"]["containers"][0]["args"]
    assert "--serve-artifacts" in args
    assert any(a.startswith("--backend-store-uri=sqlite:////mlflow/") for a in args)
    assert any(a.startswith("--artifacts-destination=/mlflow/") for a in args)


def test_dockerfile_is_pinned_non_root_and_prod() -> None:
    text = (DEPLOY / "Dockerfile").read_text()
    # The base is the debootstrap image (deploy/image/build-base.sh); the classic builder has no BuildKit.
    assert "ARG BASE_IMAGE=" in text and "FROM ${BASE_IMAGE} AS runtime" in text
    instructions = [line for line in text.splitlines() if line and not line.startswith("#")]
    assert not any(line.startswith("RUN --mount") for line in instructions)
    assert not text.startswith("# syntax=")
    assert "USER 10001:10001" in text
    assert "MLOPS_ASSETS_ENV=prod" in text
    assert "uv export --frozen --no-dev" in text
    module = "mlops_assets.definitions"
    assert f'CMD ["dagster", "api", "grpc", "-m", "{module}", "-h", "0.0.0.0", "-p", "3030"]' in text
    ignored = (REPO_ROOT / ".dockerignore").read_text().split()
    assert {".venv", ".tools", ".mlops", ".dagster_home", "bench/results.json", "mlops_assets_tests"} <= set(
        ignored
    )
