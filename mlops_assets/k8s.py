"""Production execution on Kubernetes (dagster-k8s): training and monitoring steps are their own Job,
the other steps run in the run's pod (`k8s_steps.py`).

`prod_executor()` is what `definitions.py` installs when `MLOPS_ASSETS_ENV=prod`, so runs started from
the UI, sensors and automation all route their steps the same way; step pods are sized by the
`dagster-k8s/config` op tags in `defs/tags.py`. The pod shape here (volumes, security context, env sources) must match
`deploy/helm/values.yaml` and `deploy/k8s/*.yaml`: the names below are the contract between them and
`mlops_assets_tests/deploy/` checks that both sides agree.

Nothing here talks to a cluster at import or definition time; the executor loads the in-cluster
config only when a run starts inside a pod.
"""

from __future__ import annotations

import os
from typing import Any

import dagster as dg

from mlops_assets.defs.tags import STAGE_TAG

# Names of the objects in deploy/k8s/ that every code-server, run and step pod consumes.
ENV_CONFIG_MAP = "mlops-assets-env"  # non-secret settings: MLOPS_STORAGE_ROOT, MLFLOW_TRACKING_URI, ...
ENV_SECRET = "mlops-assets-secrets"  # GEMINI_API_KEY, MLOPS_WEBHOOK_URL, ...
SSH_SECRET = "mlops-assets-ssh"  # id_ed25519 + known_hosts, mounted read-only
HOSTS_CONFIG_MAP = "mlops-assets-hosts"  # hosts.yaml for the SSH source
DATA_PVC = "mlops-assets-data"  # MLOPS_HOME (journal cursors, template state) shared by all pods
SERVICE_ACCOUNT = "mlops-assets-dagster"

SSH_DIR = "/etc/mlops-assets/ssh"
HOSTS_DIR = "/etc/mlops-assets/hosts"
DATA_DIR = "/data"
DAGSTER_ARTIFACTS_DIR = "/data/dagster"  # instance local_artifact_storage: default IO manager outputs

NAMESPACE_ENV = "MLOPS_K8S_NAMESPACE"
MAX_CONCURRENT_ENV = "MLOPS_K8S_MAX_CONCURRENT_STEPS"
PULL_POLICY_ENV = "MLOPS_K8S_IMAGE_PULL_POLICY"

# Per run: training holds a big pod, collection holds SSH sessions to the GPU hosts.
STEP_TAG_CONCURRENCY_LIMITS: list[dict[str, Any]] = [
    {"key": STAGE_TAG, "value": "train", "limit": 1},
    {"key": STAGE_TAG, "value": "monitor", "limit": 2},
    {"key": STAGE_TAG, "value": "collect", "limit": 8},
    # parse steps run in the run pod, each forking its workers: two at a time bound its memory
    {"key": STAGE_TAG, "value": "parse", "limit": 2},
]

# The image runs as uid/gid 10001 (deploy/Dockerfile); only /tmp and /data are writable.
POD_SECURITY_CONTEXT: dict[str, Any] = {
    "runAsNonRoot": True,
    "runAsUser": 10001,
    "runAsGroup": 10001,
    "fsGroup": 10001,
    "seccompProfile": {"type": "RuntimeDefault"},
}
CONTAINER_SECURITY_CONTEXT: dict[str, Any] = {
    "runAsNonRoot": True,
    "readOnlyRootFilesystem": True,
    "allowPrivilegeEscalation": False,
    "capabilities": {"drop": ["ALL"]},
    "seccompProfile": {"type": "RuntimeDefault"},
}

POD_VOLUMES: list[dict[str, Any]] = [
    {"name": "tmp", "emptyDir": {"sizeLimit": "2Gi"}},
    {"name": "data", "persistentVolumeClaim": {"claimName": DATA_PVC}},
    {"name": "ssh", "secret": {"secretName": SSH_SECRET, "defaultMode": 0o440}},
    {"name": "hosts", "configMap": {"name": HOSTS_CONFIG_MAP}},
]
POD_VOLUME_MOUNTS: list[dict[str, Any]] = [
    {"name": "tmp", "mountPath": "/tmp"},
    {"name": "data", "mountPath": DATA_DIR},
    {"name": "ssh", "mountPath": SSH_DIR, "readOnly": True},
    {"name": "hosts", "mountPath": HOSTS_DIR, "readOnly": True},
]

# Finished step Jobs are garbage-collected after a day; a failed pod is not restarted by Kubernetes
# (Dagster's own step retries decide, so a retry is visible in the event log).
STEP_JOB_SPEC: dict[str, Any] = {"backoffLimit": 0, "ttlSecondsAfterFinished": 86400}


def _required_env(name: str) -> str:
    value = os.getenv(name, "").strip()
    if not value:
        raise RuntimeError(
            f"prod executor needs {name} (set by deploy/helm/values.yaml on the code server; "
            "see deploy/README.md)"
        )
    return value


def prod_executor_config() -> dict[str, Any]:
    """Config for `k8s_job_executor`, read from the code server's environment once at load time."""
    raw_max = os.getenv(MAX_CONCURRENT_ENV, "8")
    if not raw_max.strip().isdigit():
        raise ValueError(f"{MAX_CONCURRENT_ENV} must be a positive integer, got {raw_max!r}")
    max_concurrent = int(raw_max)
    if max_concurrent < 1:
        raise ValueError(f"{MAX_CONCURRENT_ENV} must be >= 1, got {max_concurrent}")
    pull_policy = os.getenv(PULL_POLICY_ENV, "IfNotPresent")
    if pull_policy not in ("Always", "IfNotPresent", "Never"):
        raise ValueError(f"{PULL_POLICY_ENV} must be Always, IfNotPresent or Never, got {pull_policy!r}")
    return {
        "job_namespace": _required_env(NAMESPACE_ENV),
        "service_account_name": SERVICE_ACCOUNT,
        "image_pull_policy": pull_policy,
        "env_config_maps": [ENV_CONFIG_MAP],
        "env_secrets": [ENV_SECRET],
        "volumes": POD_VOLUMES,
        "volume_mounts": POD_VOLUME_MOUNTS,
        "security_context": CONTAINER_SECURITY_CONTEXT,
        "labels": {"mlops-assets/workload": "step"},  # dagster sets app.kubernetes.io/* itself
        "step_k8s_config": {
            "pod_spec_config": {
                "securityContext": POD_SECURITY_CONTEXT,
                "automountServiceAccountToken": False,  # steps never call the Kubernetes API
            },
            "job_spec_config": STEP_JOB_SPEC,
        },
        "retries": {"enabled": {}},
        "max_concurrent": max_concurrent,
        "tag_concurrency_limits": STEP_TAG_CONCURRENCY_LIMITS,
    }


def prod_executor() -> dg.ExecutorDefinition:
    """`k8s_job_executor`'s config, preconfigured for this code location: a Kubernetes Job per
    training / monitoring step, every other step a process of the run pod (k8s_steps.py)."""
    from mlops_assets.k8s_steps import EXECUTOR_NAME, stage_routing_executor

    return stage_routing_executor.configured(prod_executor_config(), name=EXECUTOR_NAME)
