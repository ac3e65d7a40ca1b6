"""Build the Kubernetes Job that dagster-k8s would create for one step, without a cluster.

Mirrors `dagster_k8s.executor.K8sStepHandler._get_container_context` + `launch_step`: the code
location's container context (what the chart serializes with includeConfigInLaunchedRuns), the run
launcher's config, our executor config and the op's `dagster-k8s/config` tag, merged in that order,
then `construct_dagster_k8s_job`. Only the K8sRunLauncher object is faked (it loads kube config).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import kubernetes
import yaml
from dagster_k8s.container_context import K8sContainerContext
from dagster_k8s.job import (
    UserDefinedDagsterK8sConfig,
    construct_dagster_k8s_job,
    get_k8s_job_name,
    get_user_defined_k8s_config,
)

REPO_ROOT = Path(__file__).resolve().parents[2]
DEPLOY = REPO_ROOT / "deploy"
NAMESPACE = "mlops"
IMAGE = "registry.example.com/mlops-assets:0123abc"


def _helm_merge(base: dict[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """Helm's rule for `-f a.yaml -f b.yaml`: maps merge recursively, everything else is replaced."""
    out = dict(base)
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = _helm_merge(dict(out[key]), value)
        else:
            out[key] = value
    return out


def load_values(name: str = "values.yaml") -> dict[str, Any]:
    """values.yaml, or values.yaml overlaid with an override file as `helm -f values.yaml -f name` does."""
    base = yaml.safe_load((DEPLOY / "helm" / "values.yaml").read_text())
    if name == "values.yaml":
        return base
    return _helm_merge(base, yaml.safe_load((DEPLOY / "helm" / name).read_text()))


def user_deployment(values: Mapping[str, Any]) -> dict[str, Any]:
    deployments = values["dagster-user-deployments"]["deployments"]
    assert len(deployments) == 1, "one code location expected"
    return deployments[0]


def code_location_context(values: Mapping[str, Any]) -> K8sContainerContext:
    """What the chart's `dagsterUserDeployments.k8sContainerContext` helper hands to run and step pods."""
    dep = user_deployment(values)
    return K8sContainerContext(
        image_pull_policy=dep["image"]["pullPolicy"],
        env_config_maps=[
            f"dagster-{dep['name']}-user-env",
            *(c["name"] for c in dep.get("envConfigMaps", [])),
        ],
        env_secrets=[s["name"] for s in dep.get("envSecrets", [])],
        volume_mounts=dep.get("volumeMounts", []),
        volumes=dep.get("volumes", []),
        resources=dep.get("resources"),
        namespace=NAMESPACE,
        service_account_name=values["dagster-user-deployments"]["serviceAccount"]["name"],
        env=dep.get("env", []),
        run_k8s_config=UserDefinedDagsterK8sConfig(pod_spec_config={"automount_service_account_token": True}),
    )


def run_launcher_context(values: Mapping[str, Any]) -> K8sContainerContext:
    """The chart's K8sRunLauncher config as it reaches step pods (`create_for_run`)."""
    cfg = values["runLauncher"]["config"]["k8sRunLauncher"]
    run_cfg = cfg.get("runK8sConfig", {})
    return K8sContainerContext(
        image_pull_policy=cfg.get("imagePullPolicy"),
        env_config_maps=[c["name"] for c in cfg.get("envConfigMaps", [])],
        env_secrets=[s["name"] for s in cfg.get("envSecrets", [])],
        security_context=cfg.get("securityContext"),
        run_k8s_config=UserDefinedDagsterK8sConfig.from_dict(
            {
                "pod_spec_config": run_cfg.get("podSpecConfig", {}),
                "job_spec_config": run_cfg.get("jobSpecConfig", {}),
            }
        ),
    )


def executor_context(executor_config: Mapping[str, Any]) -> K8sContainerContext:
    """`k8s_job_executor`'s own container context, built exactly as dagster_k8s/executor.py does."""
    c = executor_config
    return K8sContainerContext(
        image_pull_policy=c.get("image_pull_policy"),
        service_account_name=c.get("service_account_name"),
        env_config_maps=c.get("env_config_maps"),
        env_secrets=c.get("env_secrets"),
        env_vars=c.get("env_vars"),
        volume_mounts=c.get("volume_mounts"),
        volumes=c.get("volumes"),
        labels=c.get("labels"),
        namespace=c.get("job_namespace"),
        resources=c.get("resources"),
        security_context=c.get("security_context"),
        run_k8s_config=UserDefinedDagsterK8sConfig.from_dict(c.get("step_k8s_config", {})),
    )


def step_job_manifest(
    step_key: str, op_tags: Mapping[str, str], values: Mapping[str, Any], executor_config: Mapping[str, Any]
) -> dict[str, Any]:
    """The step Job as the API server would receive it (camelCase dict)."""
    context = (
        run_launcher_context(values)
        .merge(code_location_context(values))
        .merge(executor_context(executor_config))
        .merge(K8sContainerContext(run_k8s_config=get_user_defined_k8s_config(op_tags)))
    )
    fake_launcher = SimpleNamespace(
        job_image=None,
        dagster_home=values["global"]["dagsterHome"],
        instance_config_map="dagster-instance",
        postgres_password_secret=values["global"]["postgresqlSecretName"],
    )
    job_config = context.get_k8s_job_config(None, fake_launcher).with_image(IMAGE)
    run_id = str(uuid.uuid4())
    job_name = f"dagster-step-{get_k8s_job_name(run_id, step_key)}"
    job = construct_dagster_k8s_job(
        job_config=job_config,
        args=["dagster", "api", "execute_step"],
        job_name=job_name,
        pod_name=job_name,
        component="step_worker",
        user_defined_k8s_config=context.run_k8s_config,
        labels={"dagster/job": "__ASSET_JOB", "dagster/op": step_key, "dagster/run-id": run_id},
        env_vars=[{"name": "DAGSTER_RUN_STEP_KEY", "value": step_key}],
    )
    manifest = kubernetes.client.ApiClient().sanitize_for_serialization(job)
    manifest["metadata"]["namespace"] = context.namespace
    return manifest
