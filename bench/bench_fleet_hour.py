"""One fleet-hour through the real local Dagster instance vs the pure work of the same host-hours.

Input: 20 simulated hosts (8 GPUs each, every source) x 1 complete hour in a landing folder, a
template miner mined from that hour and a champion trained on synthetic windows with the real
feature columns, registered in a tmp MLflow (sqlite) store.
- pure work: for each host, in one process and in order: fetch (DirectorySource) -> parse every
  source -> template assignment -> window features + template counts -> champion scores (+ the
  evidence of flagged windows). `pure_work_s` (the target's denominator) ALSO writes what the assets
  must write to be durable: the same PartitionStore files (raw members, every parsed table and
  quarantine, features, template counts, scores, evidence; atomic temp + fsync + rename).
  `pure_compute_s` is the same without any write (reported, not the target's denominator). Not in
  either: the parse quality checks and the re-reads between steps (a step boundary's cost).
- Dagster: a persistent local instance: a fresh DAGSTER_HOME with the repo's dagster.yaml and
  DAGSTER_EVENT_BATCH_SIZE=100, as `make dev` (SQLite; the event log is mlops_assets/local_event_log.py);
  new_data_sensor's tick yields ONE run for the fleet-hour (raw -> parsed -> window_features ->
  anomaly_scores, range over the 20 hosts), executed in process. Wall = tick + run. Every event-log
  write is timed (`event_log_s`, by event type): the overhead split into Dagster's own event writing
  and the rest. The same run is repeated on a fresh PostgreSQL event log (the production storage,
  fsync on) when a local server can start (`postgres_*`), and again with DAGSTER_EVENT_BATCH_SIZE=100
  (`postgres_batch100_*`: a step's materializations in one INSERT). SAMPLE host-hours are re-run one run each
  (the design before issue 15) and extrapolated to 20.
The pure work runs in one process, one host after another. The fleet-hour run's parse, health and
features steps fork up to min(MLOPS_FLEET_PARALLELISM, CPUs) workers (defs/fan_out.py), so on this
2-core machine `wall_over_pure` counts that parallelism as part of what the run delivers;
`cpu_over_pure_cpu` (forked workers included) is the overhead in CPU, and `threads_only_*` is the same
run with MLOPS_FLEET_PROCESSES=0 (every step on threads, as before).
Target: Dagster wall (sqlite) <= 1.5 x pure work. Run: .venv/bin/python bench/run.py fleet_hour
(BENCH_FLEET_HOSTS scales the fleet). Figures are measured on a shared 2-core machine: `load` is the
1-minute load average at the start and at the end.
"""

from __future__ import annotations

import os
import resource
import sys
import tempfile
import time
import warnings
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from run import record

HOSTS, GPUS = int(os.getenv("BENCH_FLEET_HOSTS", "20")), 8
# host-hours run one per run for the comparison with the per-host-hour design (0: skipped)
SAMPLE = int(os.getenv("BENCH_FLEET_SAMPLE", "4"))


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


def pure_work(
    landing: Path, hosts: list[str], hour: str, miner, model, version: str, out: Path | None = None
) -> float:
    """The host-hours' work in one process; with ``out``, the same durable writes as the assets."""
    from mlops_assets.defs.monitor.scoring import EVIDENCE_TABLE, evidence
    from mlops_assets.defs.partitions import window_of
    from mlops_assets.lib.contracts.raw import SOURCES
    from mlops_assets.lib.contracts.tables import SCORES, conform
    from mlops_assets.lib.detect.scoring import score
    from mlops_assets.lib.features.template_counts import assign_templates, build_template_counts
    from mlops_assets.lib.features.windows import build_window_features
    from mlops_assets.lib.parsing.bundle import parse_source
    from mlops_assets.lib.storage.partition_store import PartitionStore, write_raw_members
    from mlops_assets.sources.directory import DirectorySource

    start, end = window_of(hour)
    store = PartitionStore(str(out)) if out is not None else None
    t0 = time.perf_counter()
    source = DirectorySource(landing)
    for host in hosts:
        bundle = source.fetch(host, start, end, list(SOURCES))
        tables = {}
        for s in SOURCES:
            parsed = parse_source(s, bundle[s], host)
            tables.update(parsed.tables)
            if store is not None:
                write_raw_members(store, s, host, hour, bundle[s])
                for name, df in parsed.tables.items():
                    store.write(name, host, hour, df)
                store.write(f"quarantine_{s}", host, hour, parsed.quarantine)
        tagged = assign_templates(tables, miner)
        feats = build_window_features(tagged, host, start, end, window="1min")
        counts = build_template_counts(tagged, host, start, end, window="1min")
        scores = conform(score(model, feats, counts, model_version=version), SCORES)
        flagged = scores[scores["is_anomaly"]]
        ev = evidence(flagged, counts, tagged, miner) if len(flagged) else None
        if store is not None:
            store.write("features", host, hour, feats)
            store.write("template_counts", host, hour, counts)
            store.write("scores", host, hour, scores)
            if ev is not None:
                store.write(EVIDENCE_TABLE, host, hour, ev)
    return time.perf_counter() - t0


class EventTimer:
    """Times every event-log write of an instance (Dagster's own cost), by event type."""

    def __init__(self, instance) -> None:
        self.seconds: Counter[str] = Counter()
        self.count: Counter[str] = Counter()
        storage = instance.event_log_storage
        original, original_batch = storage.store_event, storage.store_event_batch

        def kind(event) -> str:
            return event.dagster_event.event_type_value if event.dagster_event else "LOG_MESSAGE"

        in_batch = [False]  # a batch of other event types falls back to store_event: count it once

        def timed(event) -> None:
            if in_batch[0]:
                return original(event)
            t = time.perf_counter()
            try:
                original(event)
            finally:
                self.seconds[kind(event)] += time.perf_counter() - t
                self.count[kind(event)] += 1

        def timed_batch(events) -> None:  # DAGSTER_EVENT_BATCH_SIZE > 0: one write per batch
            t, in_batch[0] = time.perf_counter(), True
            try:
                original_batch(events)
            finally:
                in_batch[0] = False
                for e in events:
                    self.seconds[kind(e)] += (time.perf_counter() - t) / len(events)
                    self.count[kind(e)] += 1

        storage.store_event = timed
        storage.store_event_batch = timed_batch

    def summary(self) -> dict[str, object]:
        return {
            "event_log_s": round(sum(self.seconds.values()), 2),
            "events_by_type": {k: [n, round(self.seconds[k], 2)] for k, n in self.count.most_common()},
        }


def cpu_seconds() -> float:
    """CPU of this process and of its reaped children (the forked workers of parse/health/features)."""
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


STEP_WORK: list[float] = []  # seconds inside fan_out (our per-host-hour work, reads and writes included)


def time_fan_out() -> None:
    """Wrap fan_out before any asset module imports it (bench-only instrumentation)."""
    import mlops_assets.defs.fan_out as partitions

    if getattr(partitions.fan_out, "timed", False):
        return
    original = partitions.fan_out

    def timed(*args, **kwargs):
        t = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            STEP_WORK.append(time.perf_counter() - t)

    timed.timed = True
    partitions.fan_out = timed


def fleet_run(defs, instance, hosts: list[str]) -> dict[str, object]:
    """The sensor's tick + its ONE fleet-hour run on ``instance``; wall, events and event-log time."""
    import dagster as dg

    from mlops_assets.defs.ingest.sensors import new_data_sensor

    instance.add_dynamic_partitions("hosts", hosts)
    for key in ("log_templates", "deployed_model"):
        instance.report_runless_asset_event(dg.AssetMaterialization(asset_key=key))
    timer = EventTimer(instance)
    STEP_WORK.clear()
    cpu0, t0 = cpu_seconds(), time.perf_counter()
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
    wall, cpu = time.perf_counter() - t0, cpu_seconds() - cpu0
    step_work = sum(STEP_WORK)
    scored = len(instance.get_materialized_partitions(dg.AssetKey("anomaly_scores")))
    if not result.success or scored != len(hosts):
        raise RuntimeError(
            f"fleet-hour run success={result.success}, {scored} host-hours scored of {len(hosts)}"
        )
    return {
        "wall": wall,
        "cpu": cpu,
        "step_work_s": round(step_work, 2),
        "request": request,
        "runs": len(instance.get_runs()),
        "events": len(instance.all_logs(result.run_id)),
        **timer.summary(),
    }


def local_home(home: Path) -> Path:
    """A fresh DAGSTER_HOME with the repo's own dagster.yaml (the local instance `make dev` runs)."""
    home.mkdir()
    (home / "dagster.yaml").write_text((Path(__file__).resolve().parents[1] / "dagster.yaml").read_text())
    os.environ["DAGSTER_HOME"] = str(home)
    os.environ.setdefault("DAGSTER_EVENT_BATCH_SIZE", "100")  # what the Makefile exports for `make dev`
    return home


def build_defs(tmp: Path, store: str, uri: str, artifacts: str):
    import dagster as dg

    from mlops_assets.defs.automation import with_automation
    from mlops_assets.defs.features.assets import window_features
    from mlops_assets.defs.ingest.assets import raw_logs
    from mlops_assets.defs.ingest.sensors import new_data_sensor
    from mlops_assets.defs.model.resources import ModelRegistryResource
    from mlops_assets.defs.monitor.scoring import anomaly_scores
    from mlops_assets.defs.parse.assets import parse_assets
    from mlops_assets.resources import LogSourceResource, StorageResource

    return dg.Definitions(
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
            "storage": StorageResource(root=store),
            "model_registry": ModelRegistryResource(tracking_uri=uri, artifact_root=artifacts),
        },
    ).map_asset_specs(func=with_automation)


def postgres_run(
    tmp: Path, miner, uri: str, artifacts: str, hosts: list[str], batch: int = 0
) -> dict[str, object]:
    """The same fleet-hour run with a PostgreSQL event log (fsync on), or why it could not run.
    ``batch`` > 0 sets DAGSTER_EVENT_BATCH_SIZE: dagster-postgres then writes a step's
    materializations in one INSERT (an environment setting of the run/step pods)."""
    import dagster as dg

    from mlops_assets.lib.templates.state import save_template_miner
    from mlops_assets_tests.postgres import postgres_unavailable, running_postgres

    reason = postgres_unavailable()
    if reason:
        return {"postgres_skipped": reason}
    store = tmp / f"store_pg{batch}"
    save_template_miner(str(store), miner, set())
    defs = build_defs(tmp, str(store), uri, artifacts)
    with running_postgres(fsync=True) as pg:
        home = tmp / f"dagster_home_pg{batch}"
        home.mkdir()
        db = "\n".join(f"      {k}: {v}" for k, v in pg.postgres_db_config().items())
        (home / "dagster.yaml").write_text(
            f"telemetry:\n  enabled: false\nstorage:\n  postgres:\n    postgres_db:\n{db}\n"
        )
        previous = os.environ.get("DAGSTER_EVENT_BATCH_SIZE")
        os.environ["DAGSTER_EVENT_BATCH_SIZE"] = str(batch)
        try:
            with dg.DagsterInstance.from_config(str(home)) as instance:
                out = fleet_run(defs, instance, hosts)
        finally:
            if previous is None:
                os.environ.pop("DAGSTER_EVENT_BATCH_SIZE")
            else:
                os.environ["DAGSTER_EVENT_BATCH_SIZE"] = previous
    tag = f"postgres_batch{batch}" if batch else "postgres"
    return {
        f"{tag}_wall_s": round(out["wall"], 2),
        f"{tag}_step_work_s": out["step_work_s"],
        f"{tag}_event_log_s": out["event_log_s"],
        f"{tag}_events_by_type": out["events_by_type"],
    }


def threads_only_run(tmp: Path, miner, uri: str, artifacts: str, hosts: list[str]) -> dict[str, float]:
    """The same fleet-hour on a fresh local instance and store with MLOPS_FLEET_PROCESSES=0."""
    import dagster as dg

    from mlops_assets.lib.templates.state import save_template_miner

    store = tmp / "store_threads"
    save_template_miner(str(store), miner, set())
    defs = build_defs(tmp, str(store), uri, artifacts)
    previous = os.environ.get("DAGSTER_HOME")
    os.environ["MLOPS_FLEET_PROCESSES"] = "0"
    try:
        home = local_home(tmp / "dagster_home_threads")
        with dg.DagsterInstance.from_config(str(home)) as instance:
            out = fleet_run(defs, instance, hosts)
    finally:
        os.environ.pop("MLOPS_FLEET_PROCESSES")
        if previous is not None:
            os.environ["DAGSTER_HOME"] = previous
    return {"threads_only_wall_s": round(out["wall"], 2), "threads_only_step_work_s": out["step_work_s"]}


def run() -> list[dict]:
    import dagster as dg

    from mlops_assets.defs.partitions import window_of
    from mlops_assets.lib.contracts.raw import SOURCES
    from mlops_assets.lib.parsing.bundle import parse_source
    from mlops_assets.lib.templates import TemplateMiner
    from mlops_assets.lib.templates.state import save_template_miner
    from mlops_assets.simulate import simulate
    from mlops_assets.sources.directory import DirectorySource

    time_fan_out()
    warnings.simplefilter("ignore")
    load_start = os.getloadavg()[0]
    tmp = Path(tempfile.mkdtemp(prefix="bench_fleet_"))
    os.environ["MLOPS_SENSOR_BACKFILL_HOURS"] = "1"
    summary = simulate(tmp / "landing", hosts=HOSTS, gpus=GPUS, hours=1 + 10 / 60, seed=11, faults=[])
    hosts = list(summary.hosts)
    hour = summary.start.strftime("%Y-%m-%d-%H:%M")
    uri, artifacts = f"sqlite:///{tmp / 'mlflow.db'}", str(tmp / "artifacts")
    model, version = _champion(uri, artifacts)

    miner = TemplateMiner()
    bundle = DirectorySource(tmp / "landing").fetch(hosts[0], *window_of(hour), list(SOURCES))
    for s in ("journal", "docker_logs"):
        for t in parse_source(s, bundle[s], hosts[0]).tables.values():
            if "message" in t.columns:
                miner.fit(t["message"].astype(str).tolist())
    save_template_miner(str(tmp / "store"), miner, set())
    compute = min(pure_work(tmp / "landing", hosts, hour, miner, model, version) for _ in range(2))
    pure_runs = []  # (wall, cpu) of the durable pure work; the faster of two
    for i in range(2):
        cpu0 = cpu_seconds()
        wall_i = pure_work(tmp / "landing", hosts, hour, miner, model, version, out=tmp / f"pure_{i}")
        pure_runs.append((wall_i, cpu_seconds() - cpu0))
    pure, pure_cpu = min(pure_runs)

    defs = build_defs(tmp, str(tmp / "store"), uri, artifacts)
    home = local_home(tmp / "dagster_home")
    with dg.DagsterInstance.from_config(str(home)) as instance:
        out = fleet_run(defs, instance, hosts)
        request = out["request"]
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
        per_run = (time.perf_counter() - t1) / SAMPLE if SAMPLE else None
    threads_only = threads_only_run(tmp, miner, uri, artifacts, hosts)
    pg = (
        {
            **postgres_run(tmp, miner, uri, artifacts, hosts),
            **postgres_run(tmp, miner, uri, artifacts, hosts, batch=100),
        }
        if os.getenv("BENCH_FLEET_POSTGRES", "1") == "1"
        else {}
    )
    wall, events, event_log = out["wall"], out["events"], out["event_log_s"]
    ratio = wall / pure
    extra = {}
    for tag in ("postgres", "postgres_batch100"):
        if f"{tag}_wall_s" in pg:
            extra[f"{tag}_wall_over_pure"] = round(pg[f"{tag}_wall_s"] / pure, 2)
    return [
        record(
            "fleet_hour",
            items=HOSTS,
            seconds=wall,
            unit="host-hours/s",
            baseline_throughput=HOSTS / pure,
            target="Dagster wall <= 1.5 x pure work of the same host-hours (one run per fleet-hour)",
            pure_work_s=round(pure, 3),
            pure_compute_s=round(compute, 3),
            wall_over_pure=round(ratio, 2),
            wall_over_compute=round(wall / compute, 2),
            runs=out["runs"],
            events_in_run=events,
            seconds_per_event=round((wall - pure) / events, 3),
            event_log_s=event_log,
            event_log_share_of_overhead=round(event_log / (wall - pure), 2) if wall > pure else None,
            step_work_s=out["step_work_s"],
            other_overhead_s=round(wall - out["step_work_s"] - event_log, 2),
            cpu_s=round(out["cpu"], 2),
            pure_cpu_s=round(pure_cpu, 2),
            cpu_over_pure_cpu=round(out["cpu"] / pure_cpu, 2),
            events_by_type=out["events_by_type"],
            **threads_only,
            threads_only_wall_over_pure=round(threads_only["threads_only_wall_s"] / pure, 2),
            per_host_hour_runs_s=round(per_run * HOSTS, 1) if per_run else None,
            per_host_hour_runs_over_pure=round(per_run * HOSTS / pure, 2) if per_run else None,
            parallelism=os.getenv("MLOPS_FLEET_PARALLELISM", "4"),
            load=[round(load_start, 2), round(os.getloadavg()[0], 2)],
            **pg,
            **extra,
            meets_target=ratio <= 1.5,
        )
    ]
