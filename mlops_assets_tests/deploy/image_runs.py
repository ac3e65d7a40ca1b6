"""Host-side halves of a production run for the image tests: the instance, the run, the step Job.

In the cluster the webserver creates a run from the code server's gRPC snapshot, the run pod's
`k8s_job_executor` turns each step into a Job carrying the serialized `ExecuteStepArgs`, and the step
pod runs `dagster api execute_step`. Here the host plays the webserver and the run worker against the
same PostgreSQL, with the instance of deploy/dagster.prod.yaml as the run pod sees it
(DAGSTER_HOME=/opt/dagster/dagster_home); only the step itself runs in the container.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import dagster as dg
import kubernetes
import yaml
from dagster._core.definitions.selector import JobSubsetSelector
from dagster._core.execution.retries import RetryMode
from dagster._core.instance.ref import InstanceRef
from dagster._core.remote_origin import GrpcServerCodeLocationOrigin
from dagster._core.remote_representation.code_location import CodeLocation
from dagster._core.storage.dagster_run import DagsterRun
from dagster._grpc.types import ExecuteStepArgs
from dagster_k8s.container_context import K8sContainerContext
from dagster_k8s.job import construct_dagster_k8s_job, get_k8s_job_name, get_user_defined_k8s_config

from mlops_assets import k8s as prod
from mlops_assets_tests.postgres import PgServer

from .image_docker import Cluster
from .step_jobs import (
    DEPLOY,
    code_location_context,
    executor_context,
    run_launcher_context,
    user_deployment,
)

LOCATION = "mlops_assets"
ASSET_JOB = "__ASSET_JOB"
POD_DAGSTER_HOME = "/opt/dagster/dagster_home"
INSTANCE_CONFIG_MAP = "dagster-instance"  # deploy/README: created from deploy/dagster.prod.yaml


@contextmanager
def prod_instance(config_dir: Path) -> Iterator[dg.DagsterInstance]:
    """deploy/dagster.prod.yaml as the run pod loads it; its `env:` values come from os.environ."""
    config_dir.mkdir(parents=True, exist_ok=True)
    shutil.copy(DEPLOY / "dagster.prod.yaml", config_dir / "dagster.yaml")
    ref = InstanceRef.from_dir(POD_DAGSTER_HOME, config_dir=str(config_dir))
    with dg.DagsterInstance.from_ref(ref) as instance:
        yield instance


@contextmanager
def grpc_code_location(instance: dg.DagsterInstance, port: int) -> Iterator[CodeLocation]:
    origin = GrpcServerCodeLocationOrigin(host="127.0.0.1", port=port, location_name=LOCATION)
    with origin.create_location(instance) as location:
        yield location


def create_asset_run(
    instance: dg.DagsterInstance,
    location: CodeLocation,
    asset: str,
    partition_key: dg.MultiPartitionKey | None,
    run_config: Mapping[str, Any],
    with_checks: bool,
) -> DagsterRun:
    """What the webserver does for "Materialize" of one asset (one partition) from the gRPC snapshot."""
    (repo,) = location.get_repositories().values()
    key = dg.AssetKey(asset)
    check_keys = None if with_checks else []
    selector = JobSubsetSelector(
        location_name=location.name,
        repository_name=repo.name,
        job_name=ASSET_JOB,
        op_selection=None,
        asset_selection=[key],
        asset_check_selection=check_keys,
    )
    remote_job = location.get_job(selector)
    plan = location.get_execution_plan(
        remote_job, run_config, step_keys_to_execute=None, known_state=None, instance=instance
    )
    tags: dict[str, str] = dict(remote_job.tags)
    if partition_key is not None:  # the tags a backfill or the UI puts on a multi-partition run
        tags["dagster/partition"] = str(partition_key)
        for dim, value in partition_key.keys_by_dimension.items():
            tags[f"dagster/partition/{dim}"] = value
    return instance.create_run(
        job_name=remote_job.name,
        run_id=None,
        run_config=run_config,
        resolved_op_selection=None,
        step_keys_to_execute=None,
        op_selection=None,
        status=None,
        root_run_id=None,
        parent_run_id=None,
        tags=tags,
        job_snapshot=remote_job.job_snapshot,
        execution_plan_snapshot=plan.execution_plan_snapshot,
        parent_job_snapshot=remote_job.parent_job_snapshot,
        remote_job_origin=remote_job.get_remote_origin(),
        job_code_origin=remote_job.get_python_origin(),
        asset_selection=frozenset({key}),
        asset_check_selection=None if with_checks else frozenset(),
        asset_graph=repo.asset_graph,
    )


def _string_tags(tags: Mapping[str, Any]) -> dict[str, str]:
    return {k: v if isinstance(v, str) else json.dumps(v) for k, v in tags.items()}


def step_job(
    run: DagsterRun,
    step_key: str,
    op_tags: Mapping[str, Any],
    instance: dg.DagsterInstance,
    values: Mapping[str, Any],
    executor_config: Mapping[str, Any],
    image: str,
) -> dict[str, Any]:
    """The step Job `K8sStepHandler.launch_step` creates for `step_key` of `run` (camelCase dict).

    Same container-context merge as step_jobs.step_job_manifest, plus what the step handler adds at
    run time: the ExecuteStepArgs (instance ref of the run pod, run id, step key) as
    DAGSTER_COMPRESSED_EXECUTE_STEP_ARGS, DAGSTER_RUN_JOB_NAME and DAGSTER_RUN_STEP_KEY.
    """
    context = (
        run_launcher_context(values)
        .merge(code_location_context(values))
        .merge(executor_context(executor_config))
        .merge(K8sContainerContext(run_k8s_config=get_user_defined_k8s_config(_string_tags(op_tags))))
    )
    launcher = SimpleNamespace(
        job_image=None,
        dagster_home=values["global"]["dagsterHome"],
        instance_config_map=INSTANCE_CONFIG_MAP,
        postgres_password_secret=values["global"]["postgresqlSecretName"],
    )
    job_config = context.get_k8s_job_config(None, launcher).with_image(image)
    args = ExecuteStepArgs(
        job_origin=run.job_code_origin,
        run_id=run.run_id,
        step_keys_to_execute=[step_key],
        instance_ref=instance.get_ref(),
        retry_mode=RetryMode.DISABLED,
        known_state=None,
        should_verify_step=False,
        print_serialized_events=False,
    )
    name = f"dagster-step-{get_k8s_job_name(run.run_id, step_key)}"
    job = construct_dagster_k8s_job(
        job_config=job_config,
        args=args.get_command_args(skip_serialized_namedtuple=True),
        job_name=name,
        pod_name=name,
        component="step_worker",
        user_defined_k8s_config=context.run_k8s_config,
        labels={"dagster/job": run.job_name, "dagster/op": step_key, "dagster/run-id": run.run_id},
        env_vars=[
            *args.get_command_env(),
            {"name": "DAGSTER_RUN_JOB_NAME", "value": run.job_name},
            {"name": "DAGSTER_RUN_STEP_KEY", "value": step_key},
        ],
    )
    manifest = kubernetes.client.ApiClient().sanitize_for_serialization(job)
    manifest["metadata"]["namespace"] = context.namespace
    return manifest


def code_server_pod(values: Mapping[str, Any], port: int, image: str) -> dict[str, Any]:
    """The code-server pod the chart renders from the user deployment in the values (no helm here):
    `dagster api grpc -h <host> -p <port> <dagsterApiGrpcArgs>`, its env sources, volumes and
    security contexts, the instance ConfigMap at $DAGSTER_HOME/dagster.yaml and the Postgres password. The host is 127.0.0.1 and the port a free one: the pod uses the host network."""
    dep = user_deployment(values)
    container = {
        "name": dep["name"],
        "image": image,
        "args": ["dagster", "api", "grpc", "-h", "127.0.0.1", "-p", str(port), *dep["dagsterApiGrpcArgs"]],
        "env": [
            {"name": "DAGSTER_CURRENT_IMAGE", "value": image},
            {"name": "DAGSTER_HOME", "value": values["global"]["dagsterHome"]},
            {
                "name": "DAGSTER_PG_PASSWORD",
                "valueFrom": {
                    "secretKeyRef": {
                        "name": values["global"]["postgresqlSecretName"],
                        "key": "postgresql-password",
                    }
                },
            },
            *dep.get("env", []),
        ],
        "envFrom": [
            {"configMapRef": {"name": f"dagster-{dep['name']}-user-env"}},
            *({"configMapRef": {"name": c["name"]}} for c in dep.get("envConfigMaps", [])),
            *({"secretRef": {"name": s["name"]}} for s in dep.get("envSecrets", [])),
        ],
        "volumeMounts": [
            *dep.get("volumeMounts", []),
            {
                "name": INSTANCE_CONFIG_MAP,
                "mountPath": f"{values['global']['dagsterHome']}/dagster.yaml",
                "subPath": "dagster.yaml",
            },
        ],
        "resources": dep.get("resources", {}),
        "securityContext": dep.get("securityContext", {}),
    }
    return {
        "metadata": {"labels": {"app.kubernetes.io/component": "user-deployments"}},
        "spec": {
            "containers": [container],
            "volumes": [
                *dep.get("volumes", []),
                {"name": INSTANCE_CONFIG_MAP, "configMap": {"name": INSTANCE_CONFIG_MAP}},
            ],
            "securityContext": dep.get("podSecurityContext", {}),
        },
    }


def config_map_data(path: Path, name: str) -> dict[str, str]:
    for doc in yaml.safe_load_all(path.read_text()):
        if doc and doc.get("kind") == "ConfigMap" and doc["metadata"]["name"] == name:
            return {k: str(v) for k, v in doc["data"].items()}
    raise KeyError(f"no ConfigMap {name} in {path}")


def local_cluster(
    data_dir: Path, pg: PgServer, mlflow_uri: str, executor_config: Mapping[str, Any]
) -> Cluster:
    """The namespace's ConfigMaps and Secrets as deploy/k8s/ defines them, with the cluster Service
    addresses replaced by the servers on this machine, and the data PVC backed by `data_dir`."""
    env = config_map_data(DEPLOY / "k8s" / "20-config.yaml", prod.ENV_CONFIG_MAP)
    env.update(
        DAGSTER_PG_HOST=pg.host,
        DAGSTER_PG_PORT=str(pg.port),
        DAGSTER_PG_USERNAME=pg.username,
        DAGSTER_PG_DB=pg.db_name,
        MLFLOW_TRACKING_URI=mlflow_uri,
        MLOPS_K8S_NAMESPACE=executor_config["job_namespace"],
    )
    hosts = config_map_data(DEPLOY / "k8s" / "20-config.yaml", prod.HOSTS_CONFIG_MAP)
    return Cluster(
        namespace=executor_config["job_namespace"],
        config_maps={
            prod.ENV_CONFIG_MAP: env,
            INSTANCE_CONFIG_MAP: {"dagster.yaml": (DEPLOY / "dagster.prod.yaml").read_text()},
            prod.HOSTS_CONFIG_MAP: hosts,
            # rendered by the chart from the user deployment; its env entries are inline in the pod here
            "dagster-mlops-assets-user-env": {},
        },
        secrets={
            "dagster-postgresql-secret": {"postgresql-password": pg.password},
            # no Gemini key and no webhooks: the deterministic summary, alerts only in the event log
            prod.ENV_SECRET: {"GEMINI_API_KEY": "", "MLOPS_WEBHOOK_URL": "", "MLOPS_SLACK_WEBHOOK_URL": ""},
            # parse and train steps open no SSH session; the secret exists, without a key
            prod.SSH_SECRET: {},
        },
        pvcs={prod.DATA_PVC: data_dir},
    )
