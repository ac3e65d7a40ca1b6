"""Gates block: a degraded challenger fails the blocking checks and the champion alias stays; a good
one moves it; rollback restores the previous version. Real MLflow on a tmp sqlite store."""

import argparse
from pathlib import Path

import dagster as dg
import pandas as pd

from mlops_assets.commands import rollback as rollback_cmd
from mlops_assets.defs.model import anomaly_model, deployed_model, model_checks
from mlops_assets.defs.model.resources import mlflow_resources
from mlops_assets.lib.registry import aliases as registry
from mlops_assets.lib.storage.partition_store import PartitionStore
from mlops_assets.resources import StorageResource

RUN_CONFIG = {
    "ops": {
        "anomaly_model": {"config": {"eval_hosts": 2, "eval_hours": 6, "eval_seed": 11, "n_estimators": 50}}
    }
}


def _materialize(
    root: str, uri: str, artifacts: str, instance: dg.DagsterInstance
) -> dg.ExecuteInProcessResult:
    return dg.materialize(
        [anomaly_model, deployed_model, *model_checks],
        instance=instance,
        run_config=RUN_CONFIG,
        raise_on_error=False,
        resources={"storage": StorageResource(root=root), **mlflow_resources(uri, artifacts)},
    )


def _failed_checks(result: dg.ExecuteInProcessResult) -> list[str]:
    return sorted(e.check_name for e in result.get_asset_check_evaluations() if not e.passed)


def _degraded_root(featurised: dict, base: Path) -> str:
    """Same storage, but features only from labelled fault windows: the model learns faults as normal."""
    src, root = PartitionStore(featurised["root"]), str(base / "degraded")
    dst = PartitionStore(root)
    labels = featurised["labels"]
    for table in ("features", "template_counts"):
        for host in src.hosts(table):
            for key in src.keys(table, host):
                df = src.read(table, host, key)
                lab = labels[labels["host"] == host]
                keep = pd.Series(False, index=df.index)
                for s, e in zip(lab["start"], lab["end"], strict=True):
                    keep |= (df["window_start"] >= s.floor("1min")) & (df["window_start"] < e)
                dst.write(table, host, key, df[keep])
    import shutil

    shutil.copytree(Path(featurised["root"]) / "templates", Path(root) / "templates")
    return root


def test_gates_block_degraded_and_rollback_restores(
    featurised: dict, mlflow_dirs: tuple[str, str], tmp_path: Path, capsys
) -> None:
    uri, artifacts = mlflow_dirs
    with dg.instance_for_test() as instance:
        good = _materialize(featurised["root"], uri, artifacts, instance)
        assert _failed_checks(good) == [], good.get_asset_check_evaluations()
        assert registry.alias_version(uri, registry.CHAMPION) == "1"
        assert Path(artifacts).is_dir() and any(Path(artifacts).rglob("MLmodel"))
        for node in ("anomaly_model", "deployed_model"):  # the picture is inlined, not only a path
            md = good.asset_materializations_for_node(node)[0].metadata
            assert md["score_over_time"].value.startswith("![v1 held-out scores](data:image/png;base64,")

        bad = _materialize(_degraded_root(featurised, tmp_path), uri, artifacts, instance)
        assert "event_recall" in _failed_checks(bad)
        assert registry.alias_version(uri, registry.CHAMPION) == "1", (
            "a failing challenger must not become champion"
        )
        deployed = [
            e for e in bad.get_asset_materialization_events() if e.asset_key == dg.AssetKey("deployed_model")
        ]
        assert deployed == []

        again = _materialize(featurised["root"], uri, artifacts, instance)
        assert _failed_checks(again) == []
        assert registry.alias_version(uri, registry.CHAMPION) == "3"
        assert registry.alias_version(uri, registry.PREVIOUS) == "1"

    assert rollback_cmd.run(argparse.Namespace(model=registry.MODEL_NAME, tracking_uri=uri)) == 0
    assert "champion is now v1" in capsys.readouterr().out
    assert registry.alias_version(uri, registry.CHAMPION) == "1"
    assert rollback_cmd.run(argparse.Namespace(model=registry.MODEL_NAME, tracking_uri=uri)) == 1
