"""Run every stage of the graph in order, in process, on one instance.

`make demo` and the whole-graph test both use this, so what the test proves is what the demo does.
Each partitioned stage is ONE run over the rectangle of hosts x hours (a partition range, as the
sensors' fleet-hour and catch-up runs are; every host x hour asset has the single-run backfill
policy), or one run per host-hour with ``ranges=False``; the model, monitor and drift stages run
once. Blocking gates that fail stop here with the measured values.
"""

from collections.abc import Callable
from datetime import datetime, timedelta

import dagster as dg

from mlops_assets.defs.partitions import HOURLY_FMT, fleet_range_tags, hosts_partitions

QUIET = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}


class GateFailed(RuntimeError):
    """The challenger did not pass its blocking checks; no champion was promoted."""


def run_job(
    defs: dg.Definitions,
    instance: dg.DagsterInstance,
    name: str,
    partition_key: dg.MultiPartitionKey | None = None,
    ops: dict | None = None,
    allow_failure: bool = False,
    tags: dict[str, str] | None = None,
) -> dg.ExecuteInProcessResult:
    run_config = {**QUIET, "ops": ops} if ops else QUIET
    result = defs.resolve_job_def(name).execute_in_process(
        instance=instance,
        partition_key=partition_key,
        run_config=run_config,
        raise_on_error=False,
        tags=tags,
    )
    if not result.success and not allow_failure:
        failed = [e.message for e in result.all_events if e.is_failure]
        where = partition_key or " .. ".join((tags or {}).values())
        raise RuntimeError(f"job {name} {where} failed: {failed[-1] if failed else 'see the run in the UI'}")
    return result


def range_tags(instance: dg.DagsterInstance, keys: list[dg.MultiPartitionKey]) -> dict[str, str] | None:
    """Range tags covering exactly ``keys``, or None when they are not a rectangle (hosts contiguous
    in registration order x consecutive hours: a range run covers the per-dimension product)."""
    registered = instance.get_dynamic_partitions(hosts_partitions.name)
    hosts = {k.keys_by_dimension["host"] for k in keys}
    hours = sorted({k.keys_by_dimension["hour"] for k in keys})
    idx = sorted(registered.index(h) for h in hosts if h in registered)
    first = datetime.strptime(hours[0], HOURLY_FMT)
    consecutive = [(first + timedelta(hours=i)).strftime(HOURLY_FMT) for i in range(len(hours))]
    if (
        len(idx) != len(hosts)
        or idx != list(range(idx[0], idx[0] + len(idx)))
        or hours != consecutive
        or len(set(keys)) != len(hosts) * len(hours)
    ):
        return None
    return fleet_range_tags(registered[idx[0]], registered[idx[-1]], hours[0], hours[-1])


def run_stage(
    defs: dg.Definitions,
    instance: dg.DagsterInstance,
    name: str,
    keys: list[dg.MultiPartitionKey],
    ranges: bool,
) -> dg.ExecuteInProcessResult:
    """One range run over ``keys`` when they form a rectangle, else one run per key (in the given order)."""
    tags = range_tags(instance, keys) if ranges and len(keys) > 1 else None
    if tags is not None:
        return run_job(defs, instance, name, tags=tags)
    result = None
    for key in keys:
        result = run_job(defs, instance, name, key)
    if result is None:
        raise RuntimeError(f"job {name}: no partitions to run")
    return result


def run_all_stages(
    defs: dg.Definitions,
    instance: dg.DagsterInstance,
    keys: list[dg.MultiPartitionKey],
    heldout: dict,
    say: Callable[[str], None],
    score_keys: list[dg.MultiPartitionKey] | None = None,
    monitor_ops: dict | None = None,
    ranges: bool = True,
) -> dict[str, dg.ExecuteInProcessResult]:
    """collect+parse -> templates -> features -> train/gate/deploy -> score -> incidents/triage/drift.

    ``score_keys`` (default: every key) limits scoring, e.g. to the days the model did not train on;
    ``monitor_ops`` is the op config of the monitor job (drift thresholds); ``ranges`` runs each
    partitioned stage as one range run (False: one run per host-hour).
    """
    results: dict[str, dg.ExecuteInProcessResult] = {}
    how = "one range run" if ranges else "one run each"
    say(f"collect_and_parse: {len(keys)} host-hour partitions ({how})")
    # Per-key runs go newest hour first: each collect step's raw_freshness check judges every host's
    # newest collected hour, which a chronological backfill would report as stale (a WARN per source
    # and run for one simulated day). A range run collects every hour before it judges.
    newest_first = sorted(keys, key=lambda k: k.keys_by_dimension["hour"], reverse=True)
    results["collect_and_parse"] = run_stage(defs, instance, "collect_and_parse", newest_first, ranges)
    say("mining log templates")
    results["mine_templates"] = run_job(defs, instance, "mine_templates")
    say(f"build_features (features + health events): {len(keys)} partitions ({how})")
    results["build_features"] = run_stage(defs, instance, "build_features", keys, ranges)
    say("train_and_deploy: MLflow run, held-out evaluation, blocking gates, champion alias")
    train = run_job(
        defs, instance, "train_and_deploy", ops={"anomaly_model": {"config": heldout}}, allow_failure=True
    )
    results["train_and_deploy"] = train
    failed = [e for e in train.get_asset_check_evaluations() if not e.passed]
    for check in failed:
        values = {k: getattr(v, "value", v) for k, v in check.metadata.items()}
        say(f"gate FAILED: {check.check_name} {values}")
    if not train.success:
        raise GateFailed(
            "the challenger did not pass its blocking gates, so no champion was promoted; "
            "the checks above say which property failed and by how much"
        )
    to_score = keys if score_keys is None else score_keys
    say(f"score: {len(to_score)} partitions ({how})")
    results["score"] = run_stage(defs, instance, "score", to_score, ranges)
    say("monitor: incidents, triage, drift report")
    results["monitor"] = run_job(defs, instance, "monitor", ops=monitor_ops)
    return results
