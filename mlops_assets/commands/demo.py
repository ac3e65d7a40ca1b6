"""`mlops-assets demo`: simulate hosts and run every stage of the pipeline on the local instance.

Runs go into the persistent DAGSTER_HOME instance, so `make ui` afterwards shows their history.
The last line printed is one JSON object with the headline numbers.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import UTC, datetime, timedelta

QUIET = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--hosts", type=int, default=2)
    parser.add_argument("--gpus", type=int, default=8)
    parser.add_argument("--hours", type=int, default=24)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--eval-hosts", type=int, default=2, help="hosts of the held-out labelled period")
    parser.add_argument("--eval-hours", type=int, default=24, help="hours of the held-out labelled period")


_T0 = time.perf_counter()


def _say(msg: str) -> None:
    print(f"[demo {time.perf_counter() - _T0:6.1f}s] {msg}", file=sys.stderr, flush=True)


def run(args: argparse.Namespace) -> int:
    import dagster as dg

    from mlops_assets.definitions import defs
    from mlops_assets.defs.partitions import HOURLY_FMT, host_hour_key, hosts_partitions
    from mlops_assets.environment import settings
    from mlops_assets.lib.evaluation import evaluate_detections
    from mlops_assets.lib.storage import join
    from mlops_assets.simulate import read_labels, simulate

    t0 = time.perf_counter()
    cfg = settings()
    # The simulated day ends at the last whole hour, so freshness checks judge it like live data.
    end = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    start = end - timedelta(hours=args.hours)
    _say(
        f"simulating {args.hosts} hosts x {args.gpus} GPUs, {start:%Y-%m-%d %H:%M} -> {end:%H:%M} UTC into {cfg.raw_dir}"
    )
    summary = simulate(
        cfg.raw_dir, hosts=args.hosts, gpus=args.gpus, hours=args.hours, seed=args.seed, start=start
    )

    instance = dg.DagsterInstance.get()
    instance.add_dynamic_partitions(hosts_partitions.name, summary.hosts)
    keys = [
        host_hour_key(host, start + timedelta(hours=h)) for host in summary.hosts for h in range(args.hours)
    ]

    def run_job(
        name: str,
        partition_key: dg.MultiPartitionKey | None = None,
        ops: dict | None = None,
        allow_failure: bool = False,
    ) -> dg.ExecuteInProcessResult:
        job = defs.resolve_job_def(name)
        run_config = {**QUIET, "ops": ops} if ops else QUIET
        result = job.execute_in_process(
            instance=instance, partition_key=partition_key, run_config=run_config, raise_on_error=False
        )
        if not result.success and not allow_failure:
            failed = [e.message for e in result.all_events if e.is_failure]
            raise SystemExit(
                f"[demo] job {name} {partition_key or ''} failed: {failed[-1] if failed else 'see the run in the UI'}"
            )
        return result

    _say(f"collect_and_parse: {len(keys)} host-hour partitions")
    for key in keys:
        run_job("collect_and_parse", key)
    _say("mining log templates")
    run_job("mine_templates")
    _say(f"build_features: {len(keys)} partitions")
    for key in keys:
        run_job("build_features", key)
    _say("train_and_deploy: MLflow run, held-out evaluation, blocking gates, champion alias")
    heldout = {"eval_hosts": args.eval_hosts, "eval_hours": args.eval_hours, "eval_gpus": args.gpus}
    result = run_job("train_and_deploy", ops={"anomaly_model": {"config": heldout}}, allow_failure=True)
    failed_checks = [e for e in result.get_asset_check_evaluations() if not e.passed]
    for check in failed_checks:
        values = {k: getattr(v, "value", v) for k, v in check.metadata.items()}
        _say(f"gate FAILED: {check.check_name} {values}")
    if not result.success:
        raise SystemExit(
            "[demo] the challenger did not pass its blocking gates, so no champion was promoted; "
            "the checks above say which property failed and by how much"
        )
    _say(f"score: {len(keys)} partitions")
    for key in keys:
        run_job("score", key)
    _say("monitor: incidents, triage, drift report")
    run_job("monitor")

    from mlops_assets.defs.monitor.summary import demo_outputs

    outputs = demo_outputs(cfg, summary.hosts, [k.keys_by_dimension["hour"] for k in keys[: args.hours]])
    labels = read_labels(join(cfg.raw_dir, "labels.csv"))
    detection = evaluate_detections(outputs["scores"], labels)
    line = {
        "hosts": len(summary.hosts),
        "hours": args.hours,
        "faults_injected": len(labels),
        "faults_detected": detection["events_detected"],
        "false_alarms_per_host_day": round(detection["false_alarms_per_host_day"], 2),
        "median_minutes_to_detect": detection.get("median_minutes_to_detect"),
        "champion_version": outputs["champion_version"],
        "mlflow_tracking_uri": cfg.mlflow_tracking_uri,
        "drift_report": outputs["drift_report"],
        "incidents": outputs["incidents"],
        "dagster_home": str(instance.root_directory),
        "window": f"{start.strftime(HOURLY_FMT)} .. {end.strftime(HOURLY_FMT)}",
        "seconds": round(time.perf_counter() - t0, 1),
    }
    print(json.dumps(line), flush=True)
    return 0
