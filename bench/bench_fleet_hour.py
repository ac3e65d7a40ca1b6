"""One fleet-hour through the real local Dagster instance vs the pure work of the same host-hours.

Input: 20 simulated hosts (8 GPUs each, every source) x 1 complete hour in a landing folder, a
template miner mined from that hour and a champion trained on synthetic windows with the real
feature columns, registered in a tmp MLflow (sqlite) store.
- pure work: for each host, in one process and in order: fetch (DirectorySource) -> parse every
  source -> template assignment -> window features + template counts -> champion scores.
- Dagster: a persistent local instance (sqlite, DagsterInstance.local_temp); new_data_sensor's tick
  yields ONE run for the fleet-hour (raw -> parsed -> window_features -> anomaly_scores, range over the
  20 hosts), executed in process (the local executor). Wall = tick + run. For comparison, SAMPLE
  host-hours are re-run one run each (the design before issue 15) and extrapolated to 20.
  seconds_per_event = (wall - pure) / events written by the run: the event log (SQLite here) is
  what the overhead is made of.
Target: Dagster wall <= 1.5 x pure work. Run: .venv/bin/python bench/run.py fleet_hour
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from run import record

HOSTS, GPUS = int(os.getenv("BENCH_FLEET_HOSTS", "20")), 8
SAMPLE = 4  # host-hours run one per run for the comparison with the per-host-hour design


def _champion(uri: str, artifacts: str):
    import mlflow

    from mlops_assets.lib.detect.model import ModelParams, train
    from mlops_assets.lib.registry import aliases as registry
    from mlops_assets.lib.registry.serving import log_pyfunc, serving_example
    from mlops_assets_tests.model_fixtures import synthetic

    f, c = synthetic(n=600)
    model = train(f, c, ModelParams(n_estimators=50, max_samples=256, min_host_windows=100))
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    exp = registry.ensure_experiment(uri, "bench", artifacts)
    with mlflow.start_run(experiment_id=exp):
        info = log_pyfunc(model, serving_example(model, f, c), registered_model_name=registry.MODEL_NAME)
    registry.promote(uri, str(info.registered_model_version))
    return model, str(info.registered_model_version)


def pure_work(landing: Path, hosts: list[str], hour: str, miner, model, version: str) -> float:
    from mlops_assets.defs.partitions import window_of
    from mlops_assets.lib.contracts.raw import SOURCES
    from mlops_assets.lib.detect.scoring import score
    from mlops_assets.lib.features.template_counts import assign_templates, build_template_counts
    from mlops_assets.lib.features.windows import build_window_features
    from mlops_assets.lib.parsing.bundle import parse_source
    from mlops_assets.sources.directory import DirectorySource

    start, end = window_of(hour)
    t0 = time.perf_counter()
    source = DirectorySource(landing)
    for host in hosts:
        bundle = source.fetch(host, start, end, list(SOURCES))
        tables = {}
        for s in SOURCES:
            tables.update(parse_source(s, bundle[s], host).tables)
        tagged = assign_templates(tables, miner)
        feats = build_window_features(tagged, host, start, end, window="1min")
        counts = build_template_counts(tagged, host, start, end, window="1min")
        score(model, feats, counts, model_version=version)
    return time.perf_counter() - t0


def run() -> list[dict]:
    import dagster as dg

    from mlops_assets.defs.automation import with_automation
    from mlops_assets.defs.features.assets import window_features
    from mlops_assets.defs.ingest.assets import raw_logs
    from mlops_assets.defs.ingest.sensors import new_data_sensor
    from mlops_assets.defs.model.resources import ModelRegistryResource
    from mlops_assets.defs.monitor.scoring import anomaly_scores
    from mlops_assets.defs.parse.assets import parse_assets
    from mlops_assets.lib.contracts.raw import SOURCES
    from mlops_assets.lib.parsing.bundle import parse_source
    from mlops_assets.lib.templates import TemplateMiner
    from mlops_assets.lib.templates.state import save_template_miner
    from mlops_assets.resources import LogSourceResource, StorageResource
    from mlops_assets.simulate import simulate
    from mlops_assets.sources.directory import DirectorySource

    warnings.simplefilter("ignore")
    tmp = Path(tempfile.mkdtemp(prefix="bench_fleet_"))
    os.environ["MLOPS_SENSOR_BACKFILL_HOURS"] = "1"
    summary = simulate(tmp / "landing", hosts=HOSTS, gpus=GPUS, hours=1 + 10 / 60, seed=11, faults=[])
    hosts = list(summary.hosts)
    hour = summary.start.strftime("%Y-%m-%d-%H:%M")
    uri, artifacts = f"sqlite:///{tmp / 'mlflow.db'}", str(tmp / "artifacts")
    model, version = _champion(uri, artifacts)
    from mlops_assets.defs.partitions import window_of

    miner = TemplateMiner()
    bundle = DirectorySource(tmp / "landing").fetch(hosts[0], *window_of(hour), list(SOURCES))
    for s in ("journal", "docker_logs"):
        for t in parse_source(s, bundle[s], hosts[0]).tables.values():
            if "message" in t.columns:
                miner.fit(t["message"].astype(str).tolist())
    storage = StorageResource(root=str(tmp / "store"))
    save_template_miner(storage.root, miner, set())

    pure = min(pure_work(tmp / "landing", hosts, hour, miner, model, version) for _ in range(2))

    defs = dg.Definitions(
        assets=[
            raw_logs,
            *parse_assets,
            window_features,
            anomaly_scores,
            dg.AssetSpec("log_templates"),
            dg.AssetSpec("deployed_model"),
        ],
        sensors=[new_data_sensor],
        resources={
            "log_source": LogSourceResource(kind="directory", directory=str(tmp / "landing")),
            "storage": storage,
            "model_registry": ModelRegistryResource(tracking_uri=uri, artifact_root=artifacts),
        },
    ).map_asset_specs(func=with_automation)
    (tmp / "dagster_home").mkdir()
    with dg.DagsterInstance.local_temp(str(tmp / "dagster_home")) as instance:
        instance.add_dynamic_partitions("hosts", hosts)
        for key in ("log_templates", "deployed_model"):
            instance.report_runless_asset_event(dg.AssetMaterialization(asset_key=key))
        t0 = time.perf_counter()
        ctx = dg.build_sensor_context(
            instance=instance,
            instance_ref=instance.get_ref(),
            definitions=defs,
            resources={"log_source": defs.resources["log_source"]},
        )
        (request,) = new_data_sensor.evaluate_tick(ctx).run_requests
        result = defs.resolve_implicit_global_asset_job_def().execute_in_process(
            instance=instance,
            asset_selection=list(request.asset_selection),
            tags=dict(request.tags),
            run_config={"loggers": {"console": {"config": {"log_level": "WARNING"}}}},
            raise_on_error=True,
        )
        wall = time.perf_counter() - t0
        scored = len(instance.get_materialized_partitions(dg.AssetKey("anomaly_scores")))
        runs = len(instance.get_runs())
        events = len(instance.all_logs(result.run_id))
        # The same work as one run per host-hour (the design before issue 15), on SAMPLE hosts.
        job = defs.resolve_implicit_global_asset_job_def()
        t1 = time.perf_counter()
        for host in hosts[:SAMPLE]:
            job.execute_in_process(
                instance=instance,
                asset_selection=list(request.asset_selection),
                partition_key=dg.MultiPartitionKey({"host": host, "hour": hour}),
                run_config={"loggers": {"console": {"config": {"log_level": "WARNING"}}}},
            )
        per_run = (time.perf_counter() - t1) / SAMPLE
    if not result.success or scored != HOSTS:
        raise RuntimeError(f"fleet-hour run success={result.success}, {scored} host-hours scored of {HOSTS}")
    ratio = wall / pure
    return [
        record(
            "fleet_hour",
            items=HOSTS,
            seconds=wall,
            unit="host-hours/s",
            baseline_throughput=HOSTS / pure,
            target="Dagster wall <= 1.5 x pure work of the same host-hours (one run per fleet-hour)",
            pure_work_s=round(pure, 3),
            wall_over_pure=round(ratio, 2),
            runs=runs,
            events_in_run=events,
            seconds_per_event=round((wall - pure) / events, 3),
            per_host_hour_runs_s=round(per_run * HOSTS, 1),
            per_host_hour_runs_over_pure=round(per_run * HOSTS / pure, 2),
            parallelism=os.getenv("MLOPS_FLEET_PARALLELISM", "4"),
            meets_target=ratio <= 1.5,
        )
    ]
