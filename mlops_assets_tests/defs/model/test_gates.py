"""Gates on the hosts' own history block: a degraded challenger fails blocking checks and the
champion alias stays; a good one moves it; rollback restores the previous version; a cold start
promotes nothing and says why. Real MLflow on a tmp sqlite store."""

import argparse
import json
from pathlib import Path

import dagster as dg

from mlops_assets.commands import rollback as rollback_cmd
from mlops_assets.defs.model import anomaly_model, deployed_model, model_checks
from mlops_assets.defs.model.resources import mlflow_resources
from mlops_assets.lib.registry import aliases as registry
from mlops_assets.lib.storage.partition_store import PartitionStore
from mlops_assets.resources import StorageResource
from mlops_assets_tests.defs.model.conftest import RUN_CONFIG, build_root


def _materialize(
    root: str, uri: str, artifacts: str, instance: dg.DagsterInstance, **config
) -> dg.ExecuteInProcessResult:
    return dg.materialize(
        [anomaly_model, deployed_model, *model_checks],
        instance=instance,
        run_config={"ops": {"anomaly_model": {"config": {**RUN_CONFIG, **config}}}},
        raise_on_error=False,
        resources={"storage": StorageResource(root=root), **mlflow_resources(uri, artifacts)},
    )


def _failed_checks(result: dg.ExecuteInProcessResult) -> list[str]:
    return sorted(e.check_name for e in result.get_asset_check_evaluations() if not e.passed)


def _checks(result: dg.ExecuteInProcessResult) -> dict:
    return {e.check_name: e for e in result.get_asset_check_evaluations()}


def test_gates_block_degraded_and_rollback_restores(
    featurised: dict, mlflow_dirs: tuple[str, str], capsys, monkeypatch
) -> None:
    # 6 held-out hours x 2 hosts = 0.5 host-days: ONE false alarm group reads as 2 per host-day, so
    # this small fixture runs with a looser false-alarm bound (the gate's failure: test_gates.py)
    monkeypatch.setenv("MLOPS_GATE_MAX_FALSE_ALARMS", "4")
    uri, artifacts = mlflow_dirs
    with dg.instance_for_test() as instance:
        good = _materialize(featurised["root"], uri, artifacts, instance)
        assert _failed_checks(good) == [], {k: v.metadata for k, v in _checks(good).items()}
        assert registry.alias_version(uri, registry.CHAMPION) == "1"
        md = good.asset_materializations_for_node("anomaly_model")[0].metadata
        assert md["gate_data"].value == "own-history"
        # time split: the held-out 6 h are never in the training range
        assert md["train_range"].value.split("..")[1] < md["holdout_range"].value.split("..")[0].replace(
            "T", "-"
        )
        ev = json.loads(Path(md["evaluation_path"].value).read_text())
        assert ev["reference_kind"] == "health-rules-baseline" and ev["params"]["overlay_faults"] >= 9
        recall = _checks(good)["overlay_recall"].metadata
        assert recall["threshold"].value == 0.9 and recall["value"].value >= 0.9
        run = registry.client(uri).get_run(ev["run_id"])
        assert run.data.params["overlay_seed"] == "1234" and "overlay_labels.csv" in [
            a.path for a in registry.client(uri).list_artifacts(ev["run_id"])
        ]

        bad = _materialize(featurised["root"], uri, artifacts, instance, degrade="threshold:0.0")
        assert {"alarm_minute_share", "overlay_recall"} <= set(_failed_checks(bad))
        assert registry.alias_version(uri, registry.CHAMPION) == "1", (
            "a failing challenger must not become champion"
        )
        ref = _checks(bad)["not_worse_than_reference"].metadata
        assert ref["reference"].value == "champion" and ref["reference_version"].value == "1"

        shuffled = _materialize(featurised["root"], uri, artifacts, instance, degrade="shuffle")
        assert _failed_checks(shuffled), "a model trained on shuffled columns must fail at least one gate"

        again = _materialize(featurised["root"], uri, artifacts, instance)
        assert _failed_checks(again) == []
        assert registry.alias_version(uri, registry.CHAMPION) == "4"
        assert registry.alias_version(uri, registry.PREVIOUS) == "1"

    assert rollback_cmd.run(argparse.Namespace(model=registry.MODEL_NAME, tracking_uri=uri)) == 0
    assert "champion is now v1" in capsys.readouterr().out
    assert registry.alias_version(uri, registry.CHAMPION) == "1"


def test_cold_start_promotes_nothing_and_says_why(
    featurised: dict, mlflow_dirs: tuple[str, str], tmp_path: Path
) -> None:
    root = str(tmp_path / "young")
    build_root(featurised["raw"], root, featurised["hosts"][:1], 3)
    assert len(PartitionStore(root).keys("features", featurised["hosts"][0])) == 3
    uri, artifacts = mlflow_dirs
    with dg.instance_for_test() as instance:
        result = _materialize(root, uri, artifacts, instance)
        assert result.success, "a cold start is not a failed run"
        deployed = result.asset_materializations_for_node("deployed_model")[0].metadata
        assert deployed["champion"].value == "none"
        assert (
            "cold start" in deployed["why_no_champion"].value
            and "Health rules" in deployed["why_no_champion"].value
        )
        assert all(e.severity == dg.AssetCheckSeverity.WARN for e in result.get_asset_check_evaluations())
    assert registry.alias_version(uri, registry.CHAMPION) is None
