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


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--hosts", type=int, default=2)
    parser.add_argument("--gpus", type=int, default=8)
    parser.add_argument("--hours", type=int, default=24)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--eval-hosts", type=int, default=2, help="hosts of the held-out labelled period")
    parser.add_argument("--eval-hours", type=int, default=24, help="hours of the held-out labelled period")
    parser.add_argument(
        "--end",
        type=_hour,
        default=None,
        help="end of the simulated period, UTC, as YYYY-MM-DD-HH:00 (default: the last whole hour); "
        "the JSON line's `window` of an earlier run reproduces that run",
    )


def _hour(value: str) -> datetime:
    try:
        end = datetime.strptime(value, "%Y-%m-%d-%H:%M").replace(tzinfo=UTC)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(
            f"--end {value!r}: expected YYYY-MM-DD-HH:00, e.g. 2026-11-24-10:00"
        ) from exc
    if end.minute:
        raise argparse.ArgumentTypeError(f"--end {value!r}: must be a whole hour (minutes 00)")
    return end


_T0 = time.perf_counter()


def _say(msg: str) -> None:
    print(f"[demo {time.perf_counter() - _T0:6.1f}s] {msg}", file=sys.stderr, flush=True)


def run(args: argparse.Namespace) -> int:
    import dagster as dg

    from mlops_assets.definitions import defs
    from mlops_assets.defs.partitions import HOURLY_FMT, host_hour_key, hosts_partitions
    from mlops_assets.defs.stages import run_all_stages
    from mlops_assets.environment import settings
    from mlops_assets.lib.evaluate.detections import evaluate_detections
    from mlops_assets.lib.storage.partition_store import join
    from mlops_assets.simulate import read_labels, simulate

    t0 = time.perf_counter()
    cfg = settings()
    # By default the simulated day ends at the last whole hour, so freshness checks judge it like live data.
    last_whole_hour = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    end = args.end or last_whole_hour
    if end > last_whole_hour:
        raise SystemExit(
            f"[demo] --end {end:%Y-%m-%d-%H:%M} is in the future: hourly partitions exist only up to "
            f"{last_whole_hour:%Y-%m-%d-%H:%M} UTC; pick an earlier hour or omit --end"
        )
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

    try:
        run_all_stages(
            defs,
            instance,
            keys,
            {"eval_hosts": args.eval_hosts, "eval_hours": args.eval_hours, "eval_gpus": args.gpus},
            _say,
        )
    except RuntimeError as exc:  # GateFailed included: its message says which gate failed
        raise SystemExit(f"[demo] {exc}") from exc

    from mlops_assets.defs.monitor.summary import demo_outputs

    outputs = demo_outputs(cfg, summary.hosts, [k.keys_by_dimension["hour"] for k in keys[: args.hours]])
    from mlops_assets.defs.model.assets import latest_candidate, load_evaluation

    heldout = load_evaluation(latest_candidate(instance)[1])["challenger"]
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
        # what the blocking gates measured on the held-out simulated day (another seed)
        "heldout_min_event_recall": round(heldout["min_event_recall_by_fault"], 2),
        "heldout_false_alarms_per_host_day": round(heldout["false_alarms_per_host_day"], 2),
        "mlflow_tracking_uri": cfg.mlflow_tracking_uri,
        "drift_report": outputs["drift_report"],
        "incidents": outputs["incidents"],
        "incident_report": outputs["incident_report"],  # the newest incident's HTML report
        "dagster_home": str(instance.root_directory),
        "window": f"{start.strftime(HOURLY_FMT)} .. {end.strftime(HOURLY_FMT)}",
        "seconds": round(time.perf_counter() - t0, 1),
    }
    print(json.dumps(line), flush=True)
    return 0
