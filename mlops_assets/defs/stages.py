"""Run every stage of the graph in order, in process, on one instance.

`make demo` and the whole-graph test both use this, so what the test proves is what the demo does.
Each host-hour is its own run (as the sensors would launch them); the model, monitor and drift
stages run once. Blocking gates that fail stop here with the measured values.
"""

from collections.abc import Callable

import dagster as dg

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
) -> dg.ExecuteInProcessResult:
    run_config = {**QUIET, "ops": ops} if ops else QUIET
    result = defs.resolve_job_def(name).execute_in_process(
        instance=instance, partition_key=partition_key, run_config=run_config, raise_on_error=False
    )
    if not result.success and not allow_failure:
        failed = [e.message for e in result.all_events if e.is_failure]
        raise RuntimeError(
            f"job {name} {partition_key or ''} failed: {failed[-1] if failed else 'see the run in the UI'}"
        )
    return result


def run_all_stages(
    defs: dg.Definitions,
    instance: dg.DagsterInstance,
    keys: list[dg.MultiPartitionKey],
    heldout: dict,
    say: Callable[[str], None],
    score_keys: list[dg.MultiPartitionKey] | None = None,
    monitor_ops: dict | None = None,
) -> dict[str, dg.ExecuteInProcessResult]:
    """collect+parse -> templates -> features -> train/gate/deploy -> score -> incidents/triage/drift.

    ``score_keys`` (default: every key) limits scoring, e.g. to the days the model did not train on;
    ``monitor_ops`` is the op config of the monitor job (drift thresholds).
    """
    results: dict[str, dg.ExecuteInProcessResult] = {}
    say(f"collect_and_parse: {len(keys)} host-hour partitions")
    # Newest hour first: each parse step's raw_freshness check judges the host's newest collected hour,
    # which a chronological backfill would report as stale (~200 WARN alerts for one simulated day).
    for key in sorted(keys, key=lambda k: k.keys_by_dimension["hour"], reverse=True):
        results["collect_and_parse"] = run_job(defs, instance, "collect_and_parse", key)
    say("mining log templates")
    results["mine_templates"] = run_job(defs, instance, "mine_templates")
    say(f"build_features (features + health events): {len(keys)} partitions")
    for key in keys:
        results["build_features"] = run_job(defs, instance, "build_features", key)
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
    say(f"score: {len(to_score)} partitions")
    for key in to_score:
        results["score"] = run_job(defs, instance, "score", key)
    say("monitor: incidents, triage, drift report")
    results["monitor"] = run_job(defs, instance, "monitor", ops=monitor_ops)
    return results
