"""Seed a shared storage folder host-side so a step pod (a container here) has real upstream data.

Run as its own process (the package reads its settings from the environment at import):
    MLOPS_STORAGE_ROOT=... MLOPS_RAW_DIR=... MLOPS_HOME=... python -m mlops_assets_tests.deploy.image_seed \
        --hours 3 --gpus 2
Simulates the host's raw logs (a test tool), then runs collect_and_parse for every hour, mine_templates
and build_features on an ephemeral instance with the in-process executor: what the step pods before
training would have left on the PVC. Prints one JSON line: the host-hour partition keys it seeded.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime, timedelta


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--hours", type=int, default=3)
    parser.add_argument("--gpus", type=int, default=2)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)

    import dagster as dg

    from mlops_assets.definitions import defs
    from mlops_assets.defs.partitions import host_hour_key, hosts_partitions
    from mlops_assets.defs.stages import run_job
    from mlops_assets.environment import settings
    from mlops_assets.simulate import simulate

    cfg = settings()
    if cfg.env != "local":
        raise SystemExit("image_seed runs the upstream steps host-side: MLOPS_ASSETS_ENV must be local")
    end = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    start = end - timedelta(hours=args.hours)
    summary = simulate(
        cfg.raw_dir,
        hosts=1,
        gpus=args.gpus,
        hours=args.hours,
        seed=args.seed,
        start=start,
        faults=[],  # healthy hours: the baseline training learns from; faults need >= 6 h per host
    )
    (sim_host,) = summary.hosts
    keys = [host_hour_key(sim_host, start + timedelta(hours=h)) for h in range(args.hours)]
    with dg.DagsterInstance.ephemeral() as instance:
        instance.add_dynamic_partitions(hosts_partitions.name, [sim_host])
        for key in sorted(keys, key=lambda k: k.keys_by_dimension["hour"], reverse=True):
            run_job(defs, instance, "collect_and_parse", key)
        run_job(defs, instance, "mine_templates")
        for key in keys:
            run_job(defs, instance, "build_features", key)
    print(json.dumps({"host": sim_host, "partitions": [str(k) for k in keys]}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
