"""deploy/dagster.prod.yaml is a valid Dagster instance config whose every piece resolves from env."""

from __future__ import annotations

from typing import Any

import pytest
import yaml
from dagster._config import process_config, validate_config
from dagster._core.instance.config import dagster_instance_config_schema
from dagster_k8s import K8sRunLauncher
from dagster_postgres import DagsterPostgresStorage

from mlops_assets import k8s as prod

from .step_jobs import DEPLOY, load_values

pytestmark = pytest.mark.k8s

PG_ENV = {
    "DAGSTER_PG_HOST": "dagster-postgresql",
    "DAGSTER_PG_PORT": "5432",
    "DAGSTER_PG_USERNAME": "dagster",
    "DAGSTER_PG_PASSWORD": "pw",
    "DAGSTER_PG_DB": "dagster",
}


@pytest.fixture
def instance_config(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    for key, value in PG_ENV.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv(prod.NAMESPACE_ENV, "mlops")
    return yaml.safe_load((DEPLOY / "dagster.prod.yaml").read_text())


def test_instance_schema(instance_config: dict[str, Any]) -> None:
    result = validate_config(dagster_instance_config_schema(), instance_config)
    assert result.success, result.errors
    assert instance_config["telemetry"] == {"enabled": False}
    assert instance_config["run_retries"]["enabled"] is True


def test_postgres_storage_comes_from_env(instance_config: dict[str, Any]) -> None:
    db = instance_config["storage"]["postgres"]["postgres_db"]
    assert db.pop("scheme") == "postgresql+psycopg2", "SQLAlchemy 2.1 would pick the absent psycopg 3"
    assert all(isinstance(v, dict) and set(v) == {"env"} for v in db.values()), "no literal connection values"
    result = process_config(DagsterPostgresStorage.config_type(), instance_config["storage"]["postgres"])
    assert result.success, result.errors
    assert load_values()["postgresql"]["postgresqlScheme"] == "postgresql+psycopg2"
    resolved = result.value["postgres_db"]
    assert (resolved["hostname"], resolved["port"], resolved["db_name"]) == (
        "dagster-postgresql",
        5432,
        "dagster",
    )


def test_postgres_storage_fails_without_env(
    instance_config: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DAGSTER_PG_HOST")
    result = process_config(DagsterPostgresStorage.config_type(), instance_config["storage"]["postgres"])
    assert not result.success


def test_run_launcher_config_is_k8s_and_matches_the_deploy_objects(instance_config: dict[str, Any]) -> None:
    launcher = instance_config["run_launcher"]
    assert (launcher["module"], launcher["class"]) == ("dagster_k8s", "K8sRunLauncher")
    result = process_config(K8sRunLauncher.config_type(), launcher["config"])  # schema only: no kube config
    assert result.success, result.errors
    cfg = result.value
    assert cfg["job_namespace"] == "mlops"
    assert cfg["service_account_name"] == prod.SERVICE_ACCOUNT
    assert cfg["env_config_maps"] == [prod.ENV_CONFIG_MAP] and cfg["env_secrets"] == [prod.ENV_SECRET]
    assert cfg["postgres_password_secret"] == load_values()["global"]["postgresqlSecretName"]


def test_queue_limits_agree_with_the_chart(instance_config: dict[str, Any]) -> None:
    ours = instance_config["run_coordinator"]["config"]
    chart = load_values()["dagsterDaemon"]["runCoordinator"]["config"]["queuedRunCoordinator"]
    assert ours["max_concurrent_runs"] == chart["maxConcurrentRuns"]
    assert ours["tag_concurrency_limits"] == chart["tagConcurrencyLimits"]
    assert {"key": "mlops_assets/stage", "value": "train", "limit": 1} in ours["tag_concurrency_limits"]


def test_io_manager_outputs_land_on_the_shared_volume(instance_config: dict[str, Any]) -> None:
    """Step pods have a read-only root and run apart: pickled outputs must go to the shared PVC."""
    ours = instance_config["local_artifact_storage"]
    chart = load_values()["additionalInstanceConfig"]["local_artifact_storage"]
    assert ours == chart
    assert ours["config"]["base_dir"] == prod.DAGSTER_ARTIFACTS_DIR
    assert prod.DAGSTER_ARTIFACTS_DIR.startswith(prod.DATA_DIR + "/")
    assert {"name": "data", "mountPath": prod.DATA_DIR} in prod.POD_VOLUME_MOUNTS


def _env_refs(node: Any) -> set[str]:
    if isinstance(node, dict):
        if set(node) == {"env"}:
            return {node["env"]}
        return set().union(*(_env_refs(v) for v in node.values())) if node else set()
    if isinstance(node, list):
        return set().union(*(_env_refs(v) for v in node)) if node else set()
    return set()


def test_every_env_var_the_instance_reads_reaches_run_and_step_pods(instance_config: dict[str, Any]) -> None:
    """Run/step pods get envFrom the ConfigMap plus DAGSTER_PG_PASSWORD from postgres_password_secret."""
    config_map = next(
        d
        for d in yaml.safe_load_all((DEPLOY / "k8s" / "20-config.yaml").read_text())
        if d["metadata"]["name"] == prod.ENV_CONFIG_MAP
    )
    provided = set(config_map["data"]) | {"DAGSTER_PG_PASSWORD"}
    missing = _env_refs(instance_config) - provided
    assert not missing, f"dagster.prod.yaml reads {sorted(missing)} which no pod receives"
