"""The step Jobs prod_executor() will create are valid Kubernetes 1.30 objects, sized per stage."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

import dagster as dg
import kubernetes_validate
import pytest
from dagster._config import process_config
from dagster_k8s import k8s_job_executor

from mlops_assets import k8s as prod
from mlops_assets.defs.tags import POD_RESOURCES, STAGE_TAG, stage_tags

from .step_jobs import REPO_ROOT, load_values, step_job_manifest

pytestmark = pytest.mark.k8s


@pytest.fixture
def executor_config(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    monkeypatch.setenv(prod.NAMESPACE_ENV, "mlops")
    monkeypatch.delenv(prod.MAX_CONCURRENT_ENV, raising=False)
    monkeypatch.delenv(prod.PULL_POLICY_ENV, raising=False)
    return prod.prod_executor_config()


def _string_tags(tags: dict[str, Any]) -> dict[str, str]:
    """Op tags as Dagster stores them (dict values JSON-encoded)."""
    return {k: v if isinstance(v, str) else json.dumps(v) for k, v in tags.items()}


def _check_step_job(manifest: dict[str, Any], expected_resources: dict[str, Any] | None) -> None:
    kubernetes_validate.validate(manifest, "1.30", strict=True)
    pod = manifest["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    if expected_resources is not None:
        assert container["resources"] == expected_resources
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["automountServiceAccountToken"] is False
    assert pod["serviceAccountName"] == prod.SERVICE_ACCOUNT
    names = [v["name"] for v in pod["volumes"]]
    assert len(names) == len(set(names)), f"duplicate volumes after merge: {names}"
    assert {m["mountPath"] for m in container["volumeMounts"]} >= {"/tmp", prod.DATA_DIR, prod.SSH_DIR}
    assert manifest["metadata"]["namespace"] == "mlops"
    assert manifest["spec"]["backoffLimit"] == 0


@pytest.mark.parametrize("values_file", ["values.yaml", "values-kind.yaml"])
@pytest.mark.parametrize("stage", sorted(POD_RESOURCES))
def test_step_job_per_stage_is_valid(stage: str, values_file: str, executor_config: dict[str, Any]) -> None:
    manifest = step_job_manifest(
        f"{stage}_step", _string_tags(stage_tags(stage)), load_values(values_file), executor_config
    )
    _check_step_job(manifest, POD_RESOURCES[stage])


def test_training_pod_is_larger_than_parsing_pod() -> None:
    def mib(q: str) -> int:
        return int(q[:-2]) * (1024 if q.endswith("Gi") else 1)

    assert mib(POD_RESOURCES["train"]["limits"]["memory"]) > mib(POD_RESOURCES["parse"]["limits"]["memory"])


def _definitions_step_tags() -> dict[str, dict[str, str]]:
    """Every op/check step of the code location with its tags (all asset jobs, de-duplicated)."""
    try:
        from mlops_assets.definitions import defs
    except ImportError as exc:  # definitions.py is assembled by the lead from every domain
        pytest.skip(f"mlops_assets.definitions does not import yet: {exc}")
    steps: dict[str, dict[str, str]] = {}
    for job in defs.get_repository_def().get_all_jobs():
        for node in job.graph.nodes:
            steps[node.name] = dict(node.tags)
    return steps


def test_step_job_for_every_asset_of_the_code_location(executor_config: dict[str, Any]) -> None:
    steps = _definitions_step_tags()
    assert steps, "the code location has no steps"
    values = load_values()
    for step_key, tags in sorted(steps.items()):
        stage = tags.get(STAGE_TAG)
        expected = POD_RESOURCES[stage] if stage in POD_RESOURCES else None
        manifest = step_job_manifest(step_key, tags, values, executor_config)
        _check_step_job(manifest, expected)


def test_executor_config_passes_dagster_validation(executor_config: dict[str, Any]) -> None:
    result = process_config(k8s_job_executor.config_schema.config_type, executor_config)
    assert result.success, result.errors
    assert result.value["job_namespace"] == "mlops"
    assert result.value["retries"] == {"enabled": {}}
    stages = {limit["value"] for limit in result.value["tag_concurrency_limits"]}
    assert stages <= set(POD_RESOURCES)
    executor = prod.prod_executor()
    assert isinstance(executor, dg.ExecutorDefinition) and executor.name == "k8s_pods_for_train_and_monitor"


def test_executor_config_rejects_a_bad_value(executor_config: dict[str, Any]) -> None:
    bad = {**executor_config, "max_concurrent": "eight"}
    assert not process_config(k8s_job_executor.config_schema.config_type, bad).success


def test_executor_needs_a_namespace_and_sane_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(prod.NAMESPACE_ENV, raising=False)
    with pytest.raises(RuntimeError, match=prod.NAMESPACE_ENV):
        prod.prod_executor_config()
    monkeypatch.setenv(prod.NAMESPACE_ENV, "mlops")
    monkeypatch.setenv(prod.PULL_POLICY_ENV, "Sometimes")
    with pytest.raises(ValueError, match=prod.PULL_POLICY_ENV):
        prod.prod_executor_config()
    monkeypatch.setenv(prod.PULL_POLICY_ENV, "Never")
    for bad in ("0", "eight"):
        monkeypatch.setenv(prod.MAX_CONCURRENT_ENV, bad)
        with pytest.raises(ValueError, match=prod.MAX_CONCURRENT_ENV):
            prod.prod_executor_config()


PROD_LOAD = """
import json
import dagster as dg
from mlops_assets.definitions import defs
dg.Definitions.validate_loadable(defs)
repo = defs.get_repository_def()
print(json.dumps({"executors": sorted({j.executor_def.name for j in repo.get_all_jobs()}),
                  "jobs": len(repo.get_all_jobs())}))
"""


def test_prod_definitions_load_without_a_cluster(tmp_path) -> None:  # type: ignore[no-untyped-def]
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("MLOPS_", "MLFLOW_", "DAGSTER_", "KUBECONFIG"))
    }
    env.update(
        MLOPS_ASSETS_ENV="prod",
        MLOPS_HOME=str(tmp_path / "home"),
        MLOPS_STORAGE_ROOT=str(tmp_path / "storage"),
        MLFLOW_TRACKING_URI="http://mlflow.mlops.svc.cluster.local:5000",
        MLOPS_K8S_NAMESPACE="mlops",
        KUBECONFIG=str(tmp_path / "no-such-kubeconfig"),  # proves nothing reads a cluster config
    )
    proc = subprocess.run(
        [sys.executable, "-c", PROD_LOAD], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=180
    )
    if proc.returncode != 0 and ("ImportError" in proc.stderr or "ModuleNotFoundError" in proc.stderr):
        pytest.skip(f"mlops_assets.definitions does not import yet: {proc.stderr.strip().splitlines()[-1]}")
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["jobs"] >= 1
    assert result["executors"] == ["k8s_pods_for_train_and_monitor"], result
    assert str(REPO_ROOT)  # the subprocess imports the package installed in the venv (editable)
