"""anomaly_scores + incidents with dg.materialize on a small prepared storage and a real champion."""

import json
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest

from mlops_assets.defs.model.resources import ModelRegistryResource
from mlops_assets.defs.monitor.incidents import incidents
from mlops_assets.defs.monitor.scoring import EVIDENCE_TABLE, anomaly_scores, champion
from mlops_assets.defs.partitions import HOURLY_FMT
from mlops_assets.lib.contracts.tables import INCIDENTS, SCORES, TABLES, conform, empty_frame
from mlops_assets.lib.detect.model import ModelParams, train
from mlops_assets.lib.detect.scoring import score
from mlops_assets.lib.storage.partition_store import PartitionStore, read_parquet
from mlops_assets.lib.templates import TemplateMiner
from mlops_assets.lib.templates.state import save_template_miner
from mlops_assets.resources import StorageResource
from mlops_assets_tests.model_fixtures import register_champion, synthetic

HOST = "h1"
HOUR = pd.Timestamp("2026-11-02 00:00", tz="UTC")
KEY = HOUR.strftime(HOURLY_FMT)
FAN_STALL = (10, 11, 12)  # minutes of the hour
XID_BURST = 40


@pytest.fixture()
def prepared(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict:
    f, c = synthetic(n=600)
    model = train(f, c, ModelParams(n_estimators=30, max_samples=128, min_host_windows=100))
    uri, artifacts = f"sqlite:///{tmp_path / 'mlflow.db'}", str(tmp_path / "artifacts")
    version = register_champion(model, f, c, uri, artifacts, monkeypatch)

    root = str(tmp_path / "storage")
    store = PartitionStore(root)
    hour, counts = synthetic(n=60, seed=9, hosts=(HOST,), start=HOUR)
    hour.loc[list(FAN_STALL), "fan_min_pct"] = 0.0
    hour.loc[XID_BURST, ["xid_fatal", "kernel_lines"]] = 12.0
    store.write("features", HOST, KEY, hour)
    store.write("template_counts", HOST, KEY, counts)
    xid_ts = HOUR + pd.Timedelta(minutes=XID_BURST, seconds=5)
    store.write(
        "kernel_events",
        HOST,
        KEY,
        conform(
            pd.DataFrame(
                [
                    {
                        "ts": xid_ts,
                        "host": HOST,
                        "kind": "xid",
                        "xid": 79,
                        "message": "NVRM: Xid (PCI:0000:3b:00): 79, GPU has fallen off the bus.",
                    }
                ]
            ),
            TABLES["kernel_events"],
        ),
    )
    for table in ("journal_entries", "docker_lines"):
        store.write(table, HOST, KEY, empty_frame(TABLES[table]))
    miner = TemplateMiner()
    miner.fit(["job 1 started", "job 2 started"])
    save_template_miner(root, miner, set())
    return {
        "root": root,
        "version": version,
        "resources": {
            "storage": StorageResource(root=root),
            "model_registry": ModelRegistryResource(tracking_uri=uri, artifact_root=artifacts),
        },
    }


def _score(
    instance: dg.DagsterInstance, resources: dict, raise_on_error: bool = True
) -> dg.ExecuteInProcessResult:
    instance.add_dynamic_partitions("hosts", [HOST])
    return dg.materialize(
        [anomaly_scores],
        instance=instance,
        resources=resources,
        raise_on_error=raise_on_error,
        partition_key=dg.MultiPartitionKey({"host": HOST, "hour": KEY}),
    )


def test_scores_evidence_and_incidents(prepared: dict) -> None:
    store = PartitionStore(prepared["root"])
    with dg.instance_for_test() as instance:
        result = _score(instance, prepared["resources"])
        md = result.asset_materializations_for_node("anomaly_scores")[0].metadata
        assert md["dagster/row_count"].value == 60 and md["model_version"].value == prepared["version"]
        assert md["coverage"].value == "model + health rules"

        scores = store.read("scores", HOST, KEY)
        assert list(scores.columns) == list(SCORES) and len(scores) == 60
        flagged = set(scores.index[scores["is_anomaly"]])
        assert {*FAN_STALL, XID_BURST} <= flagged
        assert json.loads(scores.loc[FAN_STALL[0], "top_features"])[0]["feature"] == "fan_min_pct"

        evidence = store.read(EVIDENCE_TABLE, HOST, KEY)
        assert len(evidence) == len(flagged)
        xid_row = evidence[
            pd.to_datetime(evidence["window_start"], utc=True) == HOUR + pd.Timedelta(minutes=XID_BURST)
        ]
        assert "fallen off the bus" in json.loads(xid_row["sample_lines"].iloc[0])[0]

        inc = dg.materialize(
            [incidents], instance=instance, resources={"storage": prepared["resources"]["storage"]}
        )
        imd = inc.asset_materializations_for_node("incidents")[0].metadata
    table = read_parquet(imd["table_path"].value)
    assert list(table.columns) == list(INCIDENTS) and imd["dagster/row_count"].value == len(table)
    by_start = {pd.Timestamp(r.start): r for r in table.itertuples()}
    fan = by_start[HOUR + pd.Timedelta(minutes=FAN_STALL[0])]
    assert fan.windows >= 3 and pd.Timestamp(fan.end) >= HOUR + pd.Timedelta(minutes=FAN_STALL[-1] + 1)
    assert "gpu" in fan.sources.split(";")
    assert json.loads(fan.evidence)["top_features"][0]["feature"] == "fan_min_pct"
    xid = next(
        r
        for r in table.itertuples()
        if pd.Timestamp(r.start) <= HOUR + pd.Timedelta(minutes=XID_BURST) < pd.Timestamp(r.end)
    )
    assert "kernel" in xid.sources.split(";")
    assert any("fallen off the bus" in ln for ln in json.loads(xid.evidence)["sample_lines"])
    assert table["summary"].isna().all()  # incident_triage fills it


def test_scoring_without_features_or_champion_says_what_to_do(prepared: dict, tmp_path: Path) -> None:
    res = prepared["resources"]
    with dg.instance_for_test() as instance:
        no_feats = _score(
            instance, {**res, "storage": StorageResource(root=str(tmp_path / "empty"))}, raise_on_error=False
        )
        assert not no_feats.success
        assert "materialize window_features first" in str(
            no_feats.get_step_failure_events()[0].step_failure_data.error
        )
        other = ModelRegistryResource(
            tracking_uri=f"sqlite:///{tmp_path / 'none.db'}", artifact_root=str(tmp_path / "a2")
        )
        no_champ = _score(instance, {**res, "model_registry": other}, raise_on_error=False)
        assert not no_champ.success
        assert "materialize anomaly_model + deployed_model" in str(
            no_champ.get_step_failure_events()[0].step_failure_data.error
        )


def test_an_hour_is_scored_with_the_end_of_the_previous_hour_as_context(prepared: dict) -> None:
    """The sustained term of minute 0 averages over minutes -4..0: hour by hour == the two hours at once."""
    store = PartitionStore(prepared["root"])
    hour, counts = store.read("features", HOST, KEY), store.read("template_counts", HOST, KEY)
    prev_start = HOUR - pd.Timedelta(hours=1)
    prev, prev_counts = synthetic(n=60, seed=8, hosts=(HOST,), start=prev_start)
    prev.loc[56:, "journal_disk_full"] = 3.0  # a weak persistent fault running into the scored hour
    hour.loc[:3, "journal_disk_full"] = 3.0
    store.write("features", HOST, KEY, hour)
    with dg.instance_for_test() as instance:
        alone = _score(instance, prepared["resources"])
        first_alone = store.read("scores", HOST, KEY).iloc[:4]
        store.write("features", HOST, prev_start.strftime(HOURLY_FMT), prev)
        store.write("template_counts", HOST, prev_start.strftime(HOURLY_FMT), prev_counts)
        with_context = _score(instance, prepared["resources"])
        scores = store.read("scores", HOST, KEY)
    md = lambda r: r.asset_materializations_for_node("anomaly_scores")[0].metadata  # noqa: E731
    assert md(alone)["context_windows"].value == 0 and md(with_context)["context_windows"].value == 60
    model, version = champion(prepared["resources"]["model_registry"])
    both = score(model, pd.concat([prev, hour], ignore_index=True), pd.concat([prev_counts, counts]), version)
    pd.testing.assert_frame_equal(scores, conform(both.iloc[60:].reset_index(drop=True), SCORES))
    assert len(scores) == 60
    assert (
        scores["score"].iloc[:4] > first_alone["score"]
    ).all()  # the run is 5+ windows long only with context
    assert "over_windows" in scores["top_features"].iloc[0]


def test_a_host_the_champion_never_saw_is_shown_as_health_rules_only(prepared: dict) -> None:
    store, young = PartitionStore(prepared["root"]), "h9"
    hour, counts = synthetic(n=60, seed=3, hosts=(young,), start=HOUR)
    hour.loc[5:8, "fan_min_pct"] = 0.0  # a stalled fan: the model cannot judge this host, the rules do
    store.write("features", young, KEY, hour)
    store.write("template_counts", young, KEY, counts)
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions("hosts", [young])
        result = dg.materialize(
            [anomaly_scores],
            instance=instance,
            resources=prepared["resources"],
            partition_key=dg.MultiPartitionKey({"host": young, "hour": KEY}),
        )
        md = result.asset_materializations_for_node("anomaly_scores")[0].metadata
        assert md["coverage"].value == "health rules only: host not in the training range"
        assert md["anomalous_windows"].value == 0
