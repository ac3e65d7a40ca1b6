"""drift_report + retrain_on_drift on a real MLflow sqlite registry and real stored features."""

from datetime import UTC, datetime, timedelta

import dagster as dg
import numpy as np
import pandas as pd

from mlops_assets.defs.model.resources import ModelRegistryResource
from mlops_assets.defs.monitor.drift import drift_report, retrain_on_drift
from mlops_assets.defs.partitions import HOURLY_FMT
from mlops_assets.lib.registry import aliases as registry
from mlops_assets.lib.storage.partition_store import PartitionStore
from mlops_assets.resources import StorageResource

HOSTS = ("gpu-node-01", "gpu-node-02")
T0 = datetime(2026, 11, 20, tzinfo=UTC)
REF_HOURS, CUR_HOURS = 12, 6


def _hour_features(rng, host: str, start: datetime, hotter: float) -> pd.DataFrame:
    n = 60
    ws = pd.date_range(start, periods=n, freq="1min", tz="UTC")
    return pd.DataFrame(
        {
            "host": host,
            "window_start": ws,
            "window_end": ws + pd.Timedelta("1min"),
            "gpu_temp_max_c": rng.normal(64 + hotter, 3, n),
            "gpu_power_mean_w": rng.normal(310 + 6 * hotter, 25, n),
            "gpu_util_mean_pct": rng.normal(55, 12, n),
            "journal_warning_count": rng.poisson(1.0, n).astype(float),
        }
    )


def _prepare(tmp_path, hotter: float) -> dict:
    store = PartitionStore(str(tmp_path / "storage"))
    rng = np.random.default_rng(5)
    for h in range(REF_HOURS + CUR_HOURS):
        start = T0 + timedelta(hours=h)
        for host in HOSTS:
            shift = hotter if h >= REF_HOURS else 0.0
            store.write("features", host, start.strftime(HOURLY_FMT), _hour_features(rng, host, start, shift))
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    client = registry.client(uri)
    client.create_registered_model(registry.MODEL_NAME)
    mv = client.create_model_version(registry.MODEL_NAME, source=(tmp_path / "model").as_uri())
    client.set_registered_model_alias(registry.MODEL_NAME, registry.CHAMPION, mv.version)
    first, last = T0.strftime(HOURLY_FMT), (T0 + timedelta(hours=REF_HOURS - 1)).strftime(HOURLY_FMT)
    client.set_model_version_tag(registry.MODEL_NAME, mv.version, "data_range", f"{first}..{last}")
    return {
        "storage": StorageResource(root=str(tmp_path / "storage")),
        "model_registry": ModelRegistryResource(tracking_uri=uri, artifact_root=str(tmp_path / "artifacts")),
    }


def _evaluate(instance, resources) -> tuple[dict, bool]:
    result = dg.materialize(
        [drift_report],
        instance=instance,
        resources=resources,
        run_config={"ops": {"drift_report": {"config": {"current_hours": CUR_HOURS, "consecutive": 3}}}},
    )
    md = result.asset_materializations_for_node("drift_report")[0].metadata
    [check] = result.get_asset_check_evaluations()
    return md, check.passed


def _sensor_requests(instance) -> list[dg.RunRequest]:
    ctx = dg.build_sensor_context(instance=instance)
    return list(retrain_on_drift.evaluate_tick(ctx).run_requests or [])


def test_hotter_room_fails_the_check_and_requests_retraining_after_k_evaluations(tmp_path):
    resources = _prepare(tmp_path, hotter=9.0)
    with dg.instance_for_test() as instance:
        for i in range(3):
            md, passed = _evaluate(instance, resources)
            assert not passed, "the WARN drift check fails on a covariate shift"
            assert md["dataset_drift"].value is True
            assert "gpu_temp_max_c" in md["drifted_features"].value
            assert md["retrain_recommended"].value is (i == 2), md["retrain_reason"].value
            requests = _sensor_requests(instance)
            assert len(requests) == (1 if i == 2 else 0)
        assert requests[0].run_key.startswith("drift-retrain-")
        assert requests[0].tags["mlops_assets/trigger"] == "drift"
        report = md["report"].value
        with open(report, encoding="utf-8") as fh:
            assert "<!DOCTYPE html>" in fh.read(2000)


def test_no_shift_never_requests_retraining(tmp_path):
    resources = _prepare(tmp_path, hotter=0.0)
    with dg.instance_for_test() as instance:
        for _ in range(4):
            md, passed = _evaluate(instance, resources)
            assert passed and md["dataset_drift"].value is False
            assert md["retrain_recommended"].value is False
            assert _sensor_requests(instance) == []


def test_no_champion_is_a_clear_failure(tmp_path):
    resources = {
        "storage": StorageResource(root=str(tmp_path / "s")),
        "model_registry": ModelRegistryResource(
            tracking_uri=f"sqlite:///{tmp_path / 'm.db'}", artifact_root=str(tmp_path)
        ),
    }
    with dg.instance_for_test() as instance:
        result = dg.materialize([drift_report], instance=instance, resources=resources, raise_on_error=False)
    assert not result.success
    [failure] = [e for e in result.all_events if e.is_step_failure]
    assert "no champion model yet" in str(failure.step_failure_data.error.cause)
