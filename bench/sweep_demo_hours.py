"""Sweep the demo's lifecycle over all 24 start hours (in process, the library path the assets call).

For each start hour: simulate ``--days`` of hosts (faults in the first ``--train-days``, the room
``--hot-room`` C warmer on the last day), mine templates from the history, then run exactly what
anomaly_model runs on its data (commands/backtest_gates.backtest_gates: time split, train on the
first days, faults overlaid on copies of the last day's raw, false alarms on the unmodified last
day, every gate). The cheap variant (one host, 4 GPUs) skips the Dagster run
overhead, not the code path: the start-hour failure of the old demo came from that path
(a quiet training day calibrated the threshold too low).

    .venv/bin/python bench/sweep_demo_hours.py [--hours 0,4,5] [--hosts 1] [--out bench/sweep_demo_hours.json]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mlops_assets.commands.backtest_gates import backtest_gates
from mlops_assets.lib.parsing.bundle import parse_bundle
from mlops_assets.lib.templates import TemplateMiner
from mlops_assets.simulate import simulate
from mlops_assets.simulate.host import host_name
from mlops_assets.simulate.schedule import default_schedule
from mlops_assets.sources.directory import DirectorySource

DAY0 = datetime(2026, 11, 1, tzinfo=UTC)


def one_hour(hour: int, args: argparse.Namespace) -> dict:
    start = DAY0 + timedelta(hours=hour)
    last_day = start + timedelta(days=args.days - 1)
    names = [host_name(i) for i in range(args.hosts)]
    faults = default_schedule(names, args.gpus, start, args.train_days * 24, args.seed)
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="sweep-") as raw:
        summary = simulate(
            Path(raw),
            hosts=args.hosts,
            gpus=args.gpus,
            hours=args.days * 24,
            seed=args.seed,
            start=start,
            gpu_interval_s=args.gpu_interval,
            faults=faults,
            ambient=(last_day, args.hot_room),
        )
        miner, source = TemplateMiner(), DirectorySource(raw)
        for host in summary.hosts:  # the mine_templates asset grows the miner from parsed history
            for h in range(0, args.train_days * 24, 2):
                s = start + timedelta(hours=h)
                tables = parse_bundle(source.fetch(host, s, s + timedelta(hours=1)), host).tables
                for name in ("journal_entries", "docker_lines"):
                    miner.fit(tables[name]["message"].fillna("").tolist())
        out = backtest_gates(
            raw,
            summary.hosts,
            start,
            start + timedelta(days=args.days),
            miner,
            holdout_days=1.0,
            seed=1234,
            expected_gpus=args.gpus,
        )
    ch = out["evaluation"]["challenger"]
    return {
        "start_hour": hour,
        "passed": out["gates_passed"],
        "failed": sorted(k for k, g in out["gates"].items() if not g["passed"]),
        "min_recall": round(ch["min_event_recall_by_fault"], 3),
        "missed": sorted(k for k, v in ch["event_recall_by_fault"].items() if v < 1.0),
        "event_recall": round(ch["event_recall"], 3),
        "false_alarms_per_host_day": round(ch["false_alarms_per_host_day"], 2),
        "alarm_minute_share": round(ch["alarm_minute_share"], 4),
        "seconds": round(time.perf_counter() - t0, 1),
    }


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--hours", default=",".join(str(h) for h in range(24)))
    p.add_argument("--hosts", type=int, default=1)
    p.add_argument("--gpus", type=int, default=4)
    p.add_argument("--days", type=int, default=3)
    p.add_argument("--train-days", type=int, default=2)
    p.add_argument("--hot-room", type=float, default=5.0)
    p.add_argument("--gpu-interval", type=float, default=10.0)
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--out", default=str(Path(__file__).resolve().parent / "sweep_demo_hours.json"))
    args = p.parse_args()
    rows = []
    for hour in [int(h) for h in args.hours.split(",")]:
        rows.append(one_hour(hour, args))
        print(json.dumps(rows[-1]), flush=True)
    passed = sum(r["passed"] for r in rows)
    summary = {
        "start_hours": len(rows),
        "passed": passed,
        "max_false_alarms_per_host_day": max(r["false_alarms_per_host_day"] for r in rows),
        "min_recall": min(r["min_recall"] for r in rows),
        "config": {k: v for k, v in vars(args).items() if k != "out"},
        "rows": rows,
    }
    Path(args.out).write_text(json.dumps(summary, indent=1) + "\n")
    print(json.dumps({k: v for k, v in summary.items() if k != "rows"}))
    return 0 if passed == len(rows) else 1


if __name__ == "__main__":
    sys.exit(main())
