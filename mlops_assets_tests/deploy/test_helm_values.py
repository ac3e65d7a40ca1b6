"""deploy/helm values: keys the dagster chart knows, and the same pod shape as prod_executor()'s steps.

The chart's JSON schema is not vendored; the key sets below are transcribed from the chart's pydantic
schema (helm/dagster/schema/schema/charts/...) for 1.13. Fragments that end up in pod specs are
embedded in a Deployment and validated strictly against Kubernetes 1.30.
"""

from __future__ import annotations

import copy
import tomllib
from typing import Any

import kubernetes_validate
import pytest
import yaml

from mlops_assets import k8s as prod

from .step_jobs import DEPLOY, REPO_ROOT, load_values, user_deployment

pytestmark = pytest.mark.k8s

TOP_LEVEL_KEYS = {
    "dagsterWebserver", "dagster-user-deployments", "postgresql", "generatePostgresqlPasswordSecret",
    "generateCeleryConfigSecret", "rabbitmq", "redis", "flower", "ingress", "imagePullSecrets",
    "computeLogManager", "scheduler", "runLauncher", "pythonLogs", "dagsterDaemon", "busybox", "migrate",
    "telemetry", "serviceAccount", "global", "retention", "concurrency", "additionalInstanceConfig",
    "rbacEnabled",
}  # fmt: skip
USER_DEPLOYMENT_KEYS = {
    "name", "image", "dagsterApiGrpcArgs", "codeServerArgs", "includeConfigInLaunchedRuns",
    "deploymentNamespace", "port", "env", "envConfigMaps", "envSecrets", "annotations", "nodeSelector",
    "affinity", "tolerations", "podSecurityContext", "securityContext", "resources", "livenessProbe",
    "readinessProbe", "startupProbe", "labels", "volumeMounts", "volumes", "schedulerName",
}  # fmt: skip
K8S_RUN_LAUNCHER_KEYS = {
    "image", "imagePullPolicy", "jobNamespace", "loadInclusterConfig", "kubeconfigFile", "envConfigMaps",
    "envSecrets", "envVars", "volumeMounts", "volumes", "labels", "failPodOnRunFailure", "resources",
    "schedulerName", "securityContext", "runK8sConfig",
}  # fmt: skip
RUN_K8S_CONFIG_KEYS = {
    "containerConfig",
    "podSpecConfig",
    "podTemplateSpecMetadata",
    "jobSpecConfig",
    "jobMetadata",
}
QUEUED_COORDINATOR_KEYS = {
    "maxConcurrentRuns", "tagConcurrencyLimits", "dequeueIntervalSeconds", "dequeueNumWorkers",
    "dequeueUseThreads",
}  # fmt: skip
VALUES_FILES = ["values.yaml", "values-kind.yaml"]


def _pod(container: dict[str, Any], pod: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "probe", "namespace": "mlops"},
        "spec": {
            "selector": {"matchLabels": {"a": "b"}},
            "template": {
                "metadata": {"labels": {"a": "b"}},
                "spec": {**pod, "containers": [{"name": "c", "image": "i:1", **container}]},
            },
        },
    }


@pytest.mark.parametrize("name", VALUES_FILES)
def test_values_use_only_keys_the_chart_knows(name: str) -> None:
    values = load_values(name)
    assert set(values) <= TOP_LEVEL_KEYS, set(values) - TOP_LEVEL_KEYS
    dep = user_deployment(values)
    assert set(dep) <= USER_DEPLOYMENT_KEYS, set(dep) - USER_DEPLOYMENT_KEYS
    launcher = values["runLauncher"]
    assert launcher["type"] == "K8sRunLauncher"
    cfg = launcher["config"]["k8sRunLauncher"]
    assert set(cfg) <= K8S_RUN_LAUNCHER_KEYS, set(cfg) - K8S_RUN_LAUNCHER_KEYS
    assert set(cfg.get("runK8sConfig", {})) <= RUN_K8S_CONFIG_KEYS
    coordinator = values["dagsterDaemon"]["runCoordinator"]
    assert coordinator["type"] == "QueuedRunCoordinator" and coordinator["enabled"] is True
    assert set(coordinator["config"]["queuedRunCoordinator"]) <= QUEUED_COORDINATOR_KEYS


def test_production_values_wire_the_platform() -> None:
    values = load_values()
    assert values["dagsterDaemon"]["enabled"] is True
    assert values["telemetry"]["enabled"] is False
    assert values["postgresql"]["enabled"] is False and values["generatePostgresqlPasswordSecret"] is False
    assert values["global"]["postgresqlSecretName"] == "dagster-postgresql-secret"
    assert values["serviceAccount"] == {"create": False, "name": prod.SERVICE_ACCOUNT}
    assert values["global"]["serviceAccountName"] == prod.SERVICE_ACCOUNT
    assert values["rbacEnabled"] is False, "deploy/k8s/10-rbac.yaml is the least-privilege Role"
    dep = user_deployment(values)
    module = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["tool"]["dagster"]["module_name"]
    assert dep["dagsterApiGrpcArgs"] == ["-m", module]
    assert dep["port"] == 3030
    assert dep["includeConfigInLaunchedRuns"] == {"enabled": True}
    assert dep["image"]["tag"] != "latest"
    assert [c["name"] for c in dep["envConfigMaps"]] == [prod.ENV_CONFIG_MAP]
    assert [s["name"] for s in dep["envSecrets"]] == [prod.ENV_SECRET]
    assert {"name": "MLOPS_ASSETS_ENV", "value": "prod"} in dep["env"]
    assert values["dagsterDaemon"]["runRetries"]["enabled"] is True


@pytest.mark.parametrize("name", VALUES_FILES)
def test_code_server_pod_matches_step_pods(name: str) -> None:
    """Identical volumes de-duplicate when dagster-k8s merges contexts; different ones would clash."""
    dep = user_deployment(load_values(name))
    assert dep["volumes"] == prod.POD_VOLUMES
    assert dep["volumeMounts"] == prod.POD_VOLUME_MOUNTS
    assert dep["securityContext"] == prod.CONTAINER_SECURITY_CONTEXT
    assert dep["podSecurityContext"] == prod.POD_SECURITY_CONTEXT


@pytest.mark.parametrize("name", VALUES_FILES)
def test_pod_fragments_validate_strictly(name: str) -> None:
    values = load_values(name)
    dep = user_deployment(values)
    container = {
        "env": dep["env"],
        "envFrom": [{"configMapRef": c} for c in dep["envConfigMaps"]]
        + [{"secretRef": s} for s in dep["envSecrets"]],
        "securityContext": dep["securityContext"],
        "resources": dep["resources"],
        "volumeMounts": dep["volumeMounts"],
        "imagePullPolicy": dep["image"]["pullPolicy"],
    }
    kubernetes_validate.validate(
        _pod(container, {"securityContext": dep["podSecurityContext"], "volumes": dep["volumes"]}),
        "1.30",
        strict=True,
    )
    for component in ("dagsterWebserver", "dagsterDaemon"):
        part = values[component]
        if "securityContext" in part:
            pod = {"securityContext": part["podSecurityContext"], "volumes": part["volumes"]}
            c = {"securityContext": part["securityContext"], "volumeMounts": part["volumeMounts"]}
            kubernetes_validate.validate(
                _pod({**c, "resources": part["resources"]}, pod), "1.30", strict=True
            )
    run_cfg = values["runLauncher"]["config"]["k8sRunLauncher"]
    if "runK8sConfig" in run_cfg:
        pod = copy.deepcopy(run_cfg["runK8sConfig"]["podSpecConfig"])
        kubernetes_validate.validate(
            _pod({"securityContext": run_cfg["securityContext"]}, pod), "1.30", strict=True
        )


def test_kind_overrides_use_the_locally_loaded_image() -> None:
    dep = user_deployment(load_values("values-kind.yaml"))
    assert dep["image"] == {"repository": "mlops-assets", "tag": "local", "pullPolicy": "Never"}
    assert {"name": prod.PULL_POLICY_ENV, "value": "Never"} in dep["env"]
    assert (
        load_values("values-kind.yaml")["runLauncher"]["config"]["k8sRunLauncher"]["imagePullPolicy"]
        == "Never"
    )
    mlflow = [
        d
        for d in yaml.safe_load_all((DEPLOY / "k8s" / "50-mlflow.yaml").read_text())
        if d["kind"] == "Deployment"
    ]
    assert mlflow[0]["spec"]["template"]["spec"]["containers"][0]["image"] == "mlops-assets:local"
    script = (DEPLOY / "e2e-kind.sh").read_text()
    assert "mlops-assets:local" in script and "values-kind.yaml" in script


def test_webserver_port_is_bindable_without_capabilities_and_allowed_in() -> None:
    web = load_values()["dagsterWebserver"]
    port = web["service"]["port"]
    assert web["securityContext"]["capabilities"]["drop"] == ["ALL"] and port >= 1024
    assert web["readinessProbe"]["httpGet"]["port"] == port
    policies = [
        d
        for d in yaml.safe_load_all((DEPLOY / "k8s" / "60-networkpolicy.yaml").read_text())
        if d["metadata"]["name"] == "webserver-ingress"
    ]
    assert policies[0]["spec"]["ingress"][0]["ports"] == [{"protocol": "TCP", "port": port}]
    assert f":{port} " in (DEPLOY / "e2e-kind.sh").read_text(), "port-forward must target the webserver port"
