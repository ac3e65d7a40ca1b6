"""`mlops-assets simulate`: write simulated GPU-host raw logs + labels.csv; prints a JSON summary."""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime
from pathlib import Path


def _utc(text: str) -> datetime:
    ts = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return ts.replace(tzinfo=UTC) if ts.tzinfo is None else ts.astimezone(UTC)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--hosts", type=int, default=2, help="number of hosts (gpu-node-01, ...)")
    parser.add_argument("--gpus", type=int, default=8, help="GPUs per host")
    parser.add_argument("--hours", type=float, default=24, help="simulated period length")
    parser.add_argument("--seed", type=int, default=7, help="same seed -> byte-identical output")
    parser.add_argument("--out", type=Path, required=True, help="output folder (ROOT of the raw layout)")
    parser.add_argument(
        "--start", type=_utc, default=None, help="ISO-8601 UTC start, default 2026-11-01T00:00:00Z"
    )
    parser.add_argument(
        "--gpu-interval", type=float, default=10, help="nvidia-smi sampling interval in seconds"
    )
    parser.add_argument(
        "--no-faults", action="store_true", help="simulate a fault-free period (empty labels.csv)"
    )
    parser.add_argument(
        "--fleet",
        choices=("uniform", "mixed"),
        default="uniform",
        help="uniform: --gpus cards per host; mixed: an RTX 3090 + RTX 3060 home box, then 8 x H100 nodes",
    )
    parser.add_argument(
        "--realdata",
        type=Path,
        default=None,
        help="folder of real log samples (../shared/realdata) replayed as background chatter",
    )
    parser.add_argument("--reboots-per-day", type=float, default=0.0, help="Poisson rate of host reboots")


def run(args: argparse.Namespace) -> int:
    from mlops_assets.simulate import DEFAULT_START, simulate

    summary = simulate(
        args.out,
        hosts=args.hosts,
        gpus=args.gpus,
        hours=args.hours,
        seed=args.seed,
        start=args.start or DEFAULT_START,
        gpu_interval_s=args.gpu_interval,
        faults=[] if args.no_faults else None,
        fleet=args.fleet,
        realdata=args.realdata,
        reboots_per_day=args.reboots_per_day,
    )
    print(json.dumps(summary.as_dict()))
    return 0
