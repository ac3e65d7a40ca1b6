"""The production image serves the code location and runs real step pods here, on Docker.

A code-server container (`dagster api grpc`, the pod the chart renders) serves the definitions to the
host's dagster CLI. The host then plays webserver and run worker against a real PostgreSQL: it creates
a run from the gRPC snapshot, builds the step Job dagster-k8s would create, and runs that Job's pod as
`docker run` (read-only root, uid 10001, tmpfs /tmp, the data PVC as a shared folder, host network for
PostgreSQL and MLflow on 127.0.0.1). Upstream data for the steps is seeded host-side first.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dagster as dg
import mlflow
import pytest
from dagster._grpc.client import DagsterGrpcClient

from mlops_assets import k8s as prod
from mlops_assets.defs.tags import stage_tags
from mlops_assets_tests.postgres import PgServer

from . import image_runs
from .image_docker import Cluster, built_image, docker, docker_unavailable, pod_to_docker_run
from .step_jobs import REPO_ROOT, load_values

pytestmark = [pytest.mark.image, pytest.mark.timeout(1800)]
DAGSTER = str(Path(sys.executable).with_name("dagster"))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_for(what: str, ready, timeout: float, alive=lambda: True) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not ready():
        if not alive() or time.monotonic() > deadline:
            raise RuntimeError(f"{what} did not come up within {timeout:.0f} s")
        time.sleep(1)


@pytest.fixture(scope="module")
def image() -> str:
    reason = docker_unavailable()
    if reason:
        pytest.skip(reason)
    return built_image()


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("image-pods")


@pytest.fixture(scope="module")
def seeded(work: Path) -> dict[str, Any]:
    """Raw logs of 12 simulated hours collected, parsed, templates mined and features built host-side."""
    data = work / "data"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLOPS_", "MLFLOW_", "DAGSTER_"))}
    env.update(
        MLOPS_ASSETS_ENV="local",
        MLOPS_HOME=str(data / "home"),
        MLOPS_STORAGE_ROOT=str(data / "storage"),  # = MLOPS_STORAGE_ROOT /data/storage in the pods
        MLOPS_RAW_DIR=str(data / "raw"),
        MLOPS_LOG_SOURCE="directory",
    )
    proc = subprocess.run(
        [sys.executable, "-m", "mlops_assets_tests.deploy.image_seed", "--hours", "12", "--gpus", "2"],
        env=env, cwd=REPO_ROOT, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    seeded = json.loads(proc.stdout.strip().splitlines()[-1])
    subprocess.run(["chmod", "-R", "a+rwX", str(data)], check=True)  # the PVC is writable by uid 10001
    return {"data": data, **seeded}


@pytest.fixture(scope="module")
def mlflow_uri(work: Path) -> Iterator[str]:
    """A real MLflow tracking server serving artifacts (deploy/k8s/50-mlflow.yaml's flags) on 127.0.0.1."""
    port = _free_port()
    root = work / "mlflow"
    root.mkdir()
    log = (root / "server.log").open("w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "mlflow", "server", f"--backend-store-uri=sqlite:///{root}/mlflow.db",
         "--serve-artifacts", f"--artifacts-destination={root}/artifacts", "--host=127.0.0.1",
         f"--port={port}", "--workers=1"],
        stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        _wait_for("mlflow server", lambda: _port_open(port), 120, alive=lambda: proc.poll() is None)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        log.close()


def _port_open(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


@pytest.fixture(scope="module")
def executor_config() -> dict[str, Any]:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(prod.NAMESPACE_ENV, "mlops")
        mp.delenv(prod.MAX_CONCURRENT_ENV, raising=False)
        mp.delenv(prod.PULL_POLICY_ENV, raising=False)
        return prod.prod_executor_config()


@pytest.fixture(scope="module")
def cluster(
    seeded: dict[str, Any], postgres_server: PgServer, mlflow_uri: str, executor_config: dict[str, Any]
) -> Cluster:
    return image_runs.local_cluster(seeded["data"], postgres_server, mlflow_uri, executor_config)


@pytest.fixture(scope="module")
def code_server(image: str, cluster: Cluster, work: Path) -> Iterator[int]:
    """The code-server pod as a detached container; yields its gRPC port on 127.0.0.1."""
    port = _free_port()
    name = f"mlops-code-server-{uuid.uuid4().hex[:8]}"
    pod = image_runs.code_server_pod(load_values(), port, image)
    docker(*pod_to_docker_run(pod, image, cluster, work / name, name, detach=True))

    def healthy() -> bool:  # what `dagster api grpc-health-check` asks, without a CLI start per try
        return (
            _port_open(port)
            and DagsterGrpcClient(port=port, host="127.0.0.1").health_check_query() == "SERVING"
        )

    def running() -> bool:
        return docker("inspect", "-f", "{{.State.Running}}", name).stdout.strip() == "true"

    try:
        try:
            _wait_for("code server", healthy, 600, alive=running)
        except RuntimeError as exc:
            logs = docker("logs", name, check=False)
            raise RuntimeError(f"{exc}:\n{logs.stdout[-2000:]}{logs.stderr[-4000:]}") from exc
        yield port
    finally:
        docker("rm", "-f", name, check=False)


@pytest.fixture(scope="module")
def instance(
    postgres_server: PgServer, work: Path, cluster: Cluster, seeded: dict[str, Any]
) -> Iterator[dg.DagsterInstance]:
    """deploy/dagster.prod.yaml on the test's PostgreSQL, as the run pod has it."""
    env = cluster.config_maps[prod.ENV_CONFIG_MAP]
    with pytest.MonkeyPatch.context() as mp:
        for key in ("DAGSTER_PG_HOST", "DAGSTER_PG_PORT", "DAGSTER_PG_USERNAME", "DAGSTER_PG_DB"):
            mp.setenv(key, env[key])
        mp.setenv("DAGSTER_PG_PASSWORD", postgres_server.password)
        mp.setenv(prod.NAMESPACE_ENV, "mlops")
        with image_runs.prod_instance(work / "run-pod-instance") as inst:
            inst.add_dynamic_partitions("hosts", [seeded["host"]])
            yield inst


def test_code_server_serves_the_definitions_over_grpc(code_server: int, instance: dg.DagsterInstance) -> None:
    grpc = ["--grpc-host", "127.0.0.1", "--grpc-port", str(code_server)]
    jobs = subprocess.run([DAGSTER, "job", "list", *grpc], capture_output=True, text=True, timeout=300)
    assert jobs.returncode == 0, jobs.stderr[-2000:]
    for name in ("collect_and_parse", "build_features", "train_and_deploy", "score", "monitor"):
        assert f"Job: {name}" in jobs.stdout, jobs.stdout
    printed = subprocess.run(
        [DAGSTER, "job", "print", *grpc, "-j", image_runs.ASSET_JOB],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert printed.returncode == 0, printed.stderr[-2000:]
    with image_runs.grpc_code_location(instance, code_server) as location:
        (repo,) = location.get_repositories().values()
        served = {k.to_user_string() for k in repo.asset_graph.get_all_asset_keys()}
    from mlops_assets.definitions import defs

    assert served == {k.to_user_string() for k in defs.resolve_asset_graph().get_all_asset_keys()}
    assert {"parsed_gpu", "window_features", "anomaly_model", "deployed_model"} <= served
    for op in ("raw_logs", "parsed_gpu", "window_features", "anomaly_model", "deployed_model"):
        assert op in printed.stdout, printed.stdout


def _run_step(
    instance: dg.DagsterInstance,
    run: Any,
    step_key: str,
    stage: str,
    image: str,
    cluster: Cluster,
    work: Path,
    executor_config: dict[str, Any],
) -> dict[str, Any]:
    manifest = image_runs.step_job(
        run, step_key, stage_tags(stage), instance, load_values(), executor_config, image
    )
    pod = manifest["spec"]["template"]
    (container,) = pod["spec"]["containers"]
    assert container["args"] == ["dagster", "api", "execute_step"]
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    name = manifest["metadata"]["name"]
    cmd = pod_to_docker_run(pod, image, cluster, work / name, name)
    proc = subprocess.run(["docker", *cmd], capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, f"step pod {name} failed:\n{proc.stderr[-6000:]}"
    # A framework error inside the pod (e.g. compute-log capture on the read-only root) is an engine
    # event with an error, not a step failure: neither may happen.
    errors = [
        e.message
        for e in instance.all_logs(run.run_id)
        if e.dagster_event is not None
        and (
            e.dagster_event.is_step_failure
            or (e.dagster_event.is_engine_event and e.dagster_event.engine_event_data.error is not None)
        )
    ]
    assert not errors, errors
    return manifest


def test_parse_step_pod_materializes_its_partition(
    image: str,
    code_server: int,
    instance: dg.DagsterInstance,
    cluster: Cluster,
    seeded: dict[str, Any],
    work: Path,
    executor_config: dict[str, Any],
) -> None:
    host, hour = seeded["partitions"][-1].split("|")
    key = dg.MultiPartitionKey({"host": host, "hour": hour})
    with image_runs.grpc_code_location(instance, code_server) as location:
        run = image_runs.create_asset_run(instance, location, "parsed_gpu", key, {}, with_checks=True)
    assert run.job_code_origin.executable_path == "/opt/venv/bin/python"  # the image's, from gRPC
    _run_step(instance, run, "parsed_gpu", "parse", image, cluster, work, executor_config)

    (record,) = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=dg.AssetKey("parsed_gpu"), asset_partitions=[str(key)]), limit=5
    ).records
    assert record.run_id == run.run_id
    checks = {
        e.dagster_event.event_specific_data.check_name
        for e in instance.all_logs(run.run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION)
    }
    assert checks == {"quarantine_rate", "column_schema", "timestamps_in_order"}
    written = list((seeded["data"] / "storage" / "gpu_samples" / host).rglob("*"))
    assert any(p.is_file() and p.stat().st_uid == 10001 for p in written), (
        "the pod (uid 10001) wrote no table"
    )


def test_training_step_pod_logs_and_registers_the_model_in_mlflow(
    image: str,
    code_server: int,
    instance: dg.DagsterInstance,
    cluster: Cluster,
    mlflow_uri: str,
    work: Path,
    executor_config: dict[str, Any],
) -> None:
    # Own-history split of the 12 seeded hours: the newest 9 held out (one overlaid fault per kind and
    # host-hour), the 3 before them trained on; small enough to keep the step to about a minute.
    config = {
        "ops": {
            "anomaly_model": {"config": {"holdout_days": 9 / 24, "train_days": 1.0, "min_train_days": 2 / 24}}
        }
    }
    with image_runs.grpc_code_location(instance, code_server) as location:
        run = image_runs.create_asset_run(
            instance, location, "anomaly_model", None, config, with_checks=False
        )
    _run_step(instance, run, "anomaly_model", "train", image, cluster, work, executor_config)

    event = instance.get_latest_materialization_event(dg.AssetKey("anomaly_model"))
    assert event is not None and event.run_id == run.run_id
    meta = event.asset_materialization.metadata
    assert meta["mlflow_tracking_uri"].value == mlflow_uri
    # Both URIs pinned: a bare MlflowClient(uri) reads the process-global registry URI, which an
    # earlier in-process training in the same pytest session has pointed at its own store.
    client = mlflow.MlflowClient(tracking_uri=mlflow_uri, registry_uri=mlflow_uri)
    model_version = client.get_model_version("log-anomaly-detector", meta["model_version"].value)
    assert model_version.tags["dagster_run_id"] == run.run_id
    ml_run = client.get_run(model_version.run_id)
    assert ml_run.info.status == "FINISHED"
    assert ml_run.data.params["overlay_seed"] and "heldout_event_recall" in ml_run.data.metrics
    # Artifacts went through the tracking server (mlflow-artifacts:/), not to the pod's read-only disk.
    assert {a.path for a in client.list_artifacts(ml_run.info.run_id)} >= {
        "features.json",
        "template_miner.json",
    }
    assert any((work / "mlflow" / "artifacts").rglob("MLmodel"))
