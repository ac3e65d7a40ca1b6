"""A real fleet for the automation tests: simulated hosts in a landing folder, the project's own
host x hour assets, a real champion in a tmp MLflow store, and runs executed as the daemon would."""

from __future__ import annotations

import warnings
from pathlib import Path

import dagster as dg
import pytest

from mlops_assets.defs.automation import with_automation
from mlops_assets.defs.features.assets import window_features
from mlops_assets.defs.ingest.assets import raw_logs
from mlops_assets.defs.ingest.sensors import new_data_sensor
from mlops_assets.defs.model.resources import ModelRegistryResource
from mlops_assets.defs.monitor.incidents import incidents
from mlops_assets.defs.monitor.scoring import anomaly_scores
from mlops_assets.defs.parse.assets import parse_assets
from mlops_assets.lib.detect.model import ModelParams, train
from mlops_assets.lib.templates import TemplateMiner
from mlops_assets.lib.templates.state import save_template_miner
from mlops_assets.resources import LogSourceResource, StorageResource
from mlops_assets_tests.model_fixtures import register_champion, synthetic

HOSTS = ("gpu-node-01", "gpu-node-02", "gpu-node-03")
HOURS = ("2026-11-01-00:00", "2026-11-01-01:00", "2026-11-01-02:00")  # complete hours of 3h50m of data
UNPARTITIONED_PARENTS = ("log_templates", "deployed_model")


def simulate_fleet(out: Path) -> Path:
    from mlops_assets.simulate import simulate

    simulate(out, hosts=len(HOSTS), gpus=2, hours=3 + 50 / 60, seed=3, faults=[])
    return out


def fleet_defs(landing: Path, tmp: Path, monkeypatch: pytest.MonkeyPatch) -> dg.Definitions:
    """The project's host x hour assets with the project's automation conditions and a champion."""
    f, c = synthetic(n=600, hosts=HOSTS[:2])
    model = train(f, c, ModelParams(n_estimators=30, max_samples=128, min_host_windows=100))
    uri, artifacts = f"sqlite:///{tmp / 'mlflow.db'}", str(tmp / "artifacts")
    register_champion(model, f, c, uri, artifacts, monkeypatch)
    storage = StorageResource(root=str(tmp / "store"))
    save_template_miner(storage.root, TemplateMiner(), set())
    defs = dg.Definitions(
        assets=[
            raw_logs,
            *parse_assets,
            window_features,
            incidents,
            anomaly_scores,
            *map(dg.AssetSpec, UNPARTITIONED_PARENTS),
        ],
        sensors=[new_data_sensor],
        resources={
            "log_source": LogSourceResource(kind="directory", directory=str(landing)),
            "storage": storage,
            "model_registry": ModelRegistryResource(tracking_uri=uri, artifact_root=artifacts),
        },
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", dg.PreviewWarning)
        return defs.map_asset_specs(func=with_automation)


def mark_parents_present(instance: dg.DagsterInstance) -> None:
    """log_templates was mined and a champion deployed (both exist in the tmp stores above)."""
    for key in UNPARTITIONED_PARENTS:
        instance.report_runless_asset_event(dg.AssetMaterialization(asset_key=key))


def sensor_tick(defs: dg.Definitions, instance: dg.DagsterInstance, cursor: str | None = None):
    ctx = dg.build_sensor_context(
        instance=instance,
        instance_ref=instance.get_ref(),
        definitions=defs,
        cursor=cursor,
        resources={"log_source": defs.resources["log_source"]},
    )
    return new_data_sensor.evaluate_tick(ctx)


def execute(
    defs: dg.Definitions, instance: dg.DagsterInstance, request: dg.RunRequest
) -> dg.ExecuteInProcessResult:
    """Run a RunRequest the way the daemon launches it: its asset selection, partition (or range) tags."""
    job = defs.resolve_implicit_global_asset_job_def()
    return job.execute_in_process(
        instance=instance,
        asset_selection=list(request.asset_selection or []),
        partition_key=request.partition_key,
        tags=dict(request.tags),
        raise_on_error=False,
    )


def materialized(instance: dg.DagsterInstance, key: str) -> set[str]:
    return {str(k) for k in instance.get_materialized_partitions(dg.AssetKey(key))}


def all_keys(hosts=HOSTS, hours=HOURS) -> set[str]:
    return {f"{h}|{k}" for h in hosts for k in hours}


def flood_gpu_log(landing: Path, out: Path, host: str, minute_prefix: bytes = b"2026/11/01 02:") -> Path:
    """A copy of the landing folder where ``host``'s GPU log has 60 malformed rows in 02:00-03:00
    (7.7 % of the hour's rows > the 1 % quarantine gate)."""
    out.mkdir()
    for h in HOSTS:
        if h != host:
            (out / h).symlink_to(landing / h)
    (out / host).mkdir()
    for item in (landing / host).iterdir():
        (out / host / item.name).symlink_to(item)
    csv = out / host / "nvidia-smi.csv"
    lines = csv.read_bytes().splitlines(keepends=True)
    csv.unlink()
    junk = [minute_prefix + f"{m:02d}:30.000, GPU-garbage, not a number, ###\n".encode() for m in range(60)]
    at = next(i for i, ln in enumerate(lines) if ln.startswith(minute_prefix + b"30"))
    csv.write_bytes(b"".join(lines[:at] + junk + lines[at:]))
    return out


def requested(defs: dg.Definitions, result) -> set[tuple[str, str]]:
    """(asset, partition) pairs an automation tick requested."""
    return {
        (key.to_user_string(), str(p))
        for key in defs.resolve_asset_graph().get_all_asset_keys()
        for p in result.get_requested_partitions(key)
    }


def automation_runs(defs: dg.Definitions, result) -> list[dg.RunRequest]:
    """The runs the automation sensor launches for a tick (emit_backfills=False grouping: one run per
    partition key with every asset requested for it)."""
    by_key: dict[str, list[dg.AssetKey]] = {}
    for asset, partition in requested(defs, result):
        by_key.setdefault(partition, []).append(dg.AssetKey.from_user_string(asset))
    return [
        dg.RunRequest(
            asset_selection=sorted(keys, key=lambda k: k.to_user_string()),
            partition_key=None
            if p == "None"
            else dg.MultiPartitionKey(dict(zip(("host", "hour"), p.split("|"), strict=True))),
        )
        for p, keys in sorted(by_key.items())
    ]
