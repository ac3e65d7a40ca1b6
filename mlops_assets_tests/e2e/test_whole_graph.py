"""The whole graph, materialized in process on a simulated pair of hosts, with every check asserted.

Same stage runner as `make demo` (defs/stages.py), the real asset definitions, every resource
pointed at a temporary folder: MLflow on a temp sqlite store, storage, notifications, rule triage.
"""

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest

TRAIN_HOURS, HOLDOUT_HOURS, GPUS = 24, 6, 8
HOURS = TRAIN_HOURS + HOLDOUT_HOURS
# A fixed window, pinned so the result does not depend on the hour the suite runs (the simulated load
# follows the hour of day). As in the demo, the injected faults lie in the training day only: the gates
# hold out the newest 6 hours, which the simulator leaves fault-free, and overlay their own faults.
END = datetime(2026, 11, 24, 9, tzinfo=UTC)


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory: pytest.TempPathFactory):
    home = tmp_path_factory.mktemp("whole_graph")
    mp = pytest.MonkeyPatch()
    mp.setenv("MLOPS_HOME", str(home))  # default paths of the notify resources
    from mlops_assets.definitions import defs
    from mlops_assets.defs.jobs import jobs
    from mlops_assets.defs.model.resources import mlflow_resources
    from mlops_assets.defs.partitions import host_hour_key, hosts_partitions
    from mlops_assets.defs.stages import run_all_stages
    from mlops_assets.notify.resources import NotifierResource, TriageResource
    from mlops_assets.resources import LogSourceResource, StorageResource
    from mlops_assets.simulate import default_schedule, simulate
    from mlops_assets.simulate.host import host_name

    start = END - timedelta(hours=HOURS)
    # The demo's shape: every fault kind once, all inside the training day.
    faults = default_schedule([host_name(i) for i in range(2)], GPUS, start, TRAIN_HOURS, 7)
    summary = simulate(home / "raw", hosts=2, gpus=GPUS, hours=HOURS, seed=7, start=start, faults=faults)
    resources = {
        "storage": StorageResource(root=str(home / "storage")),
        "log_source": LogSourceResource(kind="directory", directory=str(home / "raw")),
        **mlflow_resources(f"sqlite:///{home / 'mlflow.db'}", str(home / "mlartifacts")),
        "notifier": NotifierResource(
            channels="file", notifications_path=str(home / "n.jsonl"), delivery_log_path=str(home / "d.jsonl")
        ),
        "triage": TriageResource(use_llm=False),
    }
    test_defs = dg.Definitions(
        assets=defs.assets,
        asset_checks=defs.asset_checks,
        jobs=jobs,
        resources=resources,
        executor=dg.in_process_executor,
    )
    keys = [host_hour_key(h, start + timedelta(hours=i)) for h in summary.hosts for i in range(HOURS)]
    said: list[str] = []

    def say(msg: str) -> None:  # printed: pytest shows it when the fixture fails (e.g. which gate)
        print(msg)
        said.append(msg)

    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions(hosts_partitions.name, summary.hosts)
        results = run_all_stages(
            # issue 14: the gates judge on the newest 6 h held out of these 24 (time split)
            test_defs,
            instance,
            keys,
            {"train_days": TRAIN_HOURS / 24, "holdout_days": HOLDOUT_HOURS / 24, "min_train_days": 0.5},
            say,
        )
        yield {
            "home": home,
            "results": results,
            "instance": instance,
            "keys": keys,
            "said": said,
            "resources": resources,
            "summary": summary,
        }
    mp.undo()


@pytest.mark.e2e
def test_every_stage_succeeds_and_parse_checks_pass_per_partition(pipeline):
    assert set(pipeline["results"]) == {
        "collect_and_parse",
        "mine_templates",
        "build_features",
        "train_and_deploy",
        "score",
        "monitor",
    }
    assert all(r.success for r in pipeline["results"].values())
    instance: dg.DagsterInstance = pipeline["instance"]
    for source in ("gpu", "journal", "kernel", "docker_logs", "docker_events"):
        key = dg.AssetKey(f"parsed_{source}")
        assert len(instance.get_materialized_partitions(key)) == len(pipeline["keys"])
    last_parse = pipeline["results"]["collect_and_parse"].get_asset_check_evaluations()
    assert {e.check_name for e in last_parse} == {
        "quarantine_rate",
        "column_schema",
        "timestamps_in_order",
        "raw_freshness",
    }
    assert all(e.passed for e in last_parse if e.check_name in ("quarantine_rate", "column_schema"))
    # the pinned day grows stale as the clock moves on: the verdict follows the measured lag (live data
    # passing is asserted in test_dagster_ui)
    freshness = [e for e in last_parse if e.check_name == "raw_freshness"]
    assert len(freshness) == 5  # one fleet verdict per raw source (one range run)
    for fresh in freshness:
        worst, limit = fresh.metadata["worst_lag_hours"].value, fresh.metadata["max_lag_hours"].value
        behind = fresh.metadata["hosts_behind"].value
        assert fresh.passed == (0 <= worst <= limit) == (not behind), dict(fresh.metadata)


@pytest.mark.e2e
def test_model_gates_pass_with_their_measurements_and_champion_is_set(pipeline):
    from mlops_assets.lib.evaluate.gates import GATE_DESCRIPTIONS
    from mlops_assets.lib.registry import aliases as registry

    train = pipeline["results"]["train_and_deploy"]
    gates = {e.check_name: e for e in train.get_asset_check_evaluations()}
    assert set(gates) == set(GATE_DESCRIPTIONS)  # the 8 own-history gates
    assert all(e.passed for e in gates.values()), {k: dict(e.metadata) for k, e in gates.items()}
    assert all(e.severity == dg.AssetCheckSeverity.ERROR for e in gates.values())
    assert train.asset_materializations_for_node("deployed_model")
    uri = pipeline["resources"]["model_registry"].tracking_uri
    assert registry.alias_version(uri, registry.CHAMPION) == "1"


@pytest.mark.e2e
def test_scores_incidents_triage_and_drift_are_written(pipeline):
    from mlops_assets.lib.evaluate.detections import evaluate_detections
    from mlops_assets.lib.storage.partition_store import PartitionStore
    from mlops_assets.simulate import read_labels

    home: Path = pipeline["home"]
    store = PartitionStore(str(home / "storage"))
    scores = store.read_many("scores")
    assert len(scores) == len(pipeline["keys"]) * 60
    assert not scores["score"].isna().any()
    incidents = pd.read_parquet(home / "storage" / "incidents" / "incidents.parquet")
    assert len(incidents) >= 1
    # Out of sample: the held-out hours (no injected fault) stay within the false-alarm budget.
    heldout = scores[
        pd.to_datetime(scores["window_start"], utc=True) >= pd.Timestamp(END) - timedelta(hours=HOLDOUT_HOURS)
    ]
    assert len(heldout) == 2 * HOLDOUT_HOURS * 60
    detection = evaluate_detections(heldout, read_labels(home / "raw" / "labels.csv").iloc[0:0])
    assert detection["false_alarms_per_host_day"] <= 2.0
    # The GPU faults of the training day are health incidents that name their GPU, with no model needed.
    health = incidents[incidents["layer"] == "health"]
    assert {"XID_79"} <= set(health["kind"]), sorted(set(health["kind"]))
    assert health.loc[health["kind"] == "XID_79", "gpu_index"].notna().all()
    monitor = pipeline["results"]["monitor"]
    triaged = monitor.asset_materializations_for_node("incident_triage")
    assert triaged
    drift = monitor.asset_materializations_for_node("drift_report")[0].metadata
    assert (home / "storage" / "reports" / "drift" / "latest.html").read_text().count("<html") >= 1
    assert 0.0 <= drift["drift_share"].value <= 1.0
    assert json.loads(json.dumps(pipeline["said"]))[-1].startswith("monitor")
