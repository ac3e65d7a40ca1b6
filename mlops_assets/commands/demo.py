"""`mlops-assets demo`: a model's lifecycle on simulated hosts, every stage on the local instance.

Simulates ``--days`` (>= 3) of hosts: faults happen in the history (the first ``--train-days``);
on the last day the environment changes: a new inference deployment sends the inference cards
``--workload`` more of their capacity in requests (utilisation and power up, temperatures follow
the power; no fault), and the room is ``--hot-room`` C warmer (the cards' thermal excess is judged
against their peers, so a room-wide rise is common mode, not a cooling fault). The model trains on
the first days only; its
gates judge it on the last day (the hosts' own held-out day: faults overlaid on copies of its raw
logs, false alarms on the unmodified day); the champion then scores that day OUT OF SAMPLE, the
drift report compares it with the training days, and a drift-triggered retraining goes through
the same gates. Runs go into the persistent DAGSTER_HOME instance (`make ui` shows them). The last
line printed is one JSON object with the headline numbers (``"in_sample": false``).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import UTC, datetime, timedelta


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--hosts", type=int, default=1, help="3 days x 1 host = 72 host-hours per stage, one range run each"
    )
    parser.add_argument("--gpus", type=int, default=8)
    parser.add_argument("--days", type=int, default=3, help="simulated days (>= 3)")
    parser.add_argument("--train-days", type=int, default=2, help="history the model trains on")
    parser.add_argument(
        "--workload",
        type=float,
        default=0.3,
        help="extra inference load on the last day, share of the inference cards' capacity (a new "
        "deployment: an environment change the drift report must show and the detector must not alarm on; "
        "0 = none)",
    )
    parser.add_argument(
        "--hot-room",
        type=float,
        default=5.0,
        help="C warmer on the last day (an environment change the drift report must show; the "
        "temperature excess is judged against the host's other cards, so a room-wide rise cancels; "
        "0 = none)",
    )
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--gpu-interval", type=float, default=10.0, help="nvidia-smi sampling period, s")
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
# The drift report's production share threshold (0.3 of the compared features); the demo departs from
# production only in acting on ONE evaluation (production waits for consecutive ones and a cooldown),
# since it has one last day to show. The JSON line names every drifted feature.
DRIFT_CONFIG = {"current_hours": 24, "consecutive": 1, "cooldown_hours": 0.0, "share_threshold": 0.3}


def _say(msg: str) -> None:
    print(f"[demo {time.perf_counter() - _T0:6.1f}s] {msg}", file=sys.stderr, flush=True)


def _window(args: argparse.Namespace) -> tuple[datetime, datetime, datetime]:
    if args.days < 3 or not 1 <= args.train_days < args.days:
        raise SystemExit(
            f"[demo] need --days >= 3 and 1 <= --train-days < --days, got {args.days}/{args.train_days}"
        )
    last_whole_hour = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    end = args.end or last_whole_hour
    if end > last_whole_hour:
        raise SystemExit(
            f"[demo] --end {end:%Y-%m-%d-%H:%M} is in the future: hourly partitions exist only up to "
            f"{last_whole_hour:%Y-%m-%d-%H:%M} UTC; pick an earlier hour or omit --end"
        )
    start = end - timedelta(days=args.days)
    return start, start + timedelta(days=args.days - 1), end


def run(args: argparse.Namespace) -> int:
    start, last_day, end = _window(args)
    import dagster as dg

    from mlops_assets.definitions import defs
    from mlops_assets.defs.partitions import HOURLY_FMT, host_hour_key, hosts_partitions
    from mlops_assets.defs.stages import GateFailed, run_all_stages
    from mlops_assets.environment import settings
    from mlops_assets.simulate import simulate
    from mlops_assets.simulate.host import host_name
    from mlops_assets.simulate.schedule import default_schedule

    t0 = time.perf_counter()
    cfg = settings()
    hours = args.days * 24
    names = [host_name(i) for i in range(args.hosts)]
    faults = default_schedule(names, args.gpus, start, args.train_days * 24, args.seed)
    _say(
        f"simulating {args.hosts} hosts x {args.gpus} GPUs, {start:%Y-%m-%d %H:%M} -> {end:%Y-%m-%d %H:%M} UTC "
        f"({len(faults)} faults in the first {args.train_days} days; last day: inference load "
        f"+{args.workload:g}, room +{args.hot_room:g} C) "
        f"into {cfg.raw_dir}"
    )
    summary = simulate(
        cfg.raw_dir,
        hosts=args.hosts,
        gpus=args.gpus,
        hours=hours,
        seed=args.seed,
        start=start,
        gpu_interval_s=args.gpu_interval,
        faults=faults,
        ambient=(last_day, args.hot_room),
        workload=(last_day, args.workload),
    )
    instance = dg.DagsterInstance.get()
    instance.add_dynamic_partitions(hosts_partitions.name, summary.hosts)
    keys = [host_hour_key(h, start + timedelta(hours=i)) for h in summary.hosts for i in range(hours)]
    last = [k for k in keys if k.keys_by_dimension["hour"] >= last_day.strftime(HOURLY_FMT)]
    model_cfg = {"train_days": float(args.train_days), "holdout_days": 1.0, "min_train_days": 1.0}
    drift_cfg = {"drift_report": {"config": DRIFT_CONFIG}}
    refused = None
    try:
        run_all_stages(defs, instance, keys, model_cfg, _say, score_keys=last, monitor_ops=drift_cfg)
    except GateFailed as exc:  # the gates refused the candidate: report their out-of-sample figures
        refused = str(exc)
    except RuntimeError as exc:
        raise SystemExit(f"[demo] {exc}") from exc
    line = (
        _gate_figures(instance) if refused else _summary(cfg, instance, defs, summary.hosts, last, model_cfg)
    )
    if refused:
        line |= {"champion_version": None, "why_no_champion": refused}
    line |= {
        "hosts": len(summary.hosts),
        "days": args.days,
        "faults_in_history": len(faults),
        "workload_last_day": args.workload,
        "hot_room_c_last_day": args.hot_room,
        "mlflow_tracking_uri": cfg.mlflow_tracking_uri,
        "dagster_home": str(instance.root_directory),
        "window": f"{start.strftime(HOURLY_FMT)} .. {end.strftime(HOURLY_FMT)}",
        "seconds": round(time.perf_counter() - t0, 1),
    }
    print(json.dumps(line, default=str), flush=True)
    return 1 if refused else 0


def _gate_figures(instance) -> dict:
    """What the gates measured on the held-out last day (the candidate's out-of-sample figures)."""
    from mlops_assets.defs.model.assets import latest_candidate, load_evaluation
    from mlops_assets.lib.evaluate.gates import compact, gate_results

    version, path = latest_candidate(instance)
    ev = load_evaluation(path)
    ch = ev["challenger"]
    service = ch.get("service_recall_by_fault", ch["event_recall_by_fault"])
    return {
        "in_sample": False,
        "gate_data": ev["gate_data"],
        "train_range": ev["train_range"],
        "heldout_range": ev["params"]["holdout_range"],
        "candidate_version": version,
        "gates": compact(gate_results(ev)),
        # what the deployment alerts on (the model OR the health rules), which the overlay gate judges
        "heldout_recall_by_kind": {k: round(v, 2) for k, v in service.items()},
        "heldout_min_recall": round(min(service.values()), 2) if service else None,
        # the model alone (the health rules name e.g. a full disk the forest does not see)
        "heldout_model_recall_by_kind": {k: round(v, 2) for k, v in ch["event_recall_by_fault"].items()},
        "heldout_false_alarms_per_host_day": round(ch["false_alarms_per_host_day"], 2),
        "heldout_alarm_minute_share": round(ch["alarm_minute_share"], 4),
        "reference": ev["reference_kind"],
    }


def _summary(cfg, instance, defs, hosts: list[str], last: list, model_cfg: dict) -> dict:
    """Out-of-sample figures: the gates on the held-out last day, its scoring, drift, retraining."""
    import dagster as dg

    from mlops_assets.defs.model.assets import latest_candidate
    from mlops_assets.defs.monitor.drift import DRIFT_KEY, retrain_on_drift
    from mlops_assets.defs.monitor.summary import demo_outputs
    from mlops_assets.defs.stages import run_job
    from mlops_assets.lib.evaluate.false_alarms import alarm_groups

    figures = _gate_figures(instance)  # before a retraining replaces the latest candidate
    hours = sorted({k.keys_by_dimension["hour"] for k in last})
    out = demo_outputs(cfg, hosts, hours)
    scores = out["scores"]
    host_days = len(scores) / 1440.0
    groups = alarm_groups(
        scores["host"].astype(str).to_numpy(),
        pd_ns(scores["window_start"]),
        scores["is_anomaly"].to_numpy(dtype=bool),
        60_000_000_000,
        300_000_000_000,
    )
    drift = instance.get_latest_materialization_event(DRIFT_KEY).asset_materialization.metadata
    tick = retrain_on_drift.evaluate_tick(dg.build_sensor_context(instance=instance, definitions=defs))
    retrain: dict = {"requested": bool(tick.run_requests), "reason": drift["retrain_reason"].value}
    if tick.run_requests:
        _say("drift sensor requested retraining: train_and_deploy through the same gates")
        result = run_job(
            defs,
            instance,
            "train_and_deploy",
            ops={"anomaly_model": {"config": model_cfg}},
            allow_failure=True,
        )
        retrain |= {
            "gates_passed": result.success,
            "failed_gates": sorted(
                e.check_name for e in result.get_asset_check_evaluations() if not e.passed
            ),
            "candidate_version": latest_candidate(instance)[0],
        }
    return {
        **figures,
        "scored_range": f"{hours[0]} .. {hours[-1]}",
        "champion_version": out["champion_version"],
        "scored_windows": len(scores),
        "scored_alarm_groups_per_host_day": round(groups / host_days, 2) if host_days else None,
        "incidents": out["incidents"],
        "incident_report": out["incident_report"],  # the newest incident's HTML report
        "drift_share": round(float(drift["drift_share"].value), 3),
        "drift_share_threshold": DRIFT_CONFIG["share_threshold"],
        "drift_compared_features": len(drift["per_feature"].value.records),
        "drifted_features": list(drift["drifted_features"].value),
        "drift_report": out["drift_report"],
        "retrain": retrain,
    }


def pd_ns(values):  # pandas is imported lazily (CLI start-up time)
    """UTC nanoseconds of a datetime column."""
    import pandas as pd

    return pd.to_datetime(values, utc=True).to_numpy(dtype="datetime64[ns]").astype("int64")
