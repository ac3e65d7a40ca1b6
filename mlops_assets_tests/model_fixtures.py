"""Synthetic feature windows with the real column set, and registering a model as champion in a
tmp MLflow store without leaking the process-global MLflow URIs into later tests."""

import mlflow
import numpy as np
import pandas as pd
import pytest

from mlops_assets.lib.detect.model import TrainedModel
from mlops_assets.lib.features.registry import FEATURES
from mlops_assets.lib.registry import aliases as registry
from mlops_assets.lib.registry.serving import log_pyfunc, serving_example

START = pd.Timestamp("2026-11-01", tz="UTC")


def synthetic(
    n: int = 720, seed: int = 0, hosts: tuple[str, ...] = ("h1", "h2"), start: pd.Timestamp = START
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Quiet normal operation: noisy telemetry, rare small counts, fans at 30-40 %, power limit per host type."""
    rng = np.random.default_rng(seed)
    frames, counts = [], []
    for i, host in enumerate(hosts):
        ws = pd.date_range(start, periods=n, freq="1min")
        cols = {}
        for f in FEATURES:
            cols[f.name] = rng.poisson(0.05, n).astype(float) if f.unit == "count" else rng.normal(50, 5, n)
        cols["xid_fatal"] = np.zeros(n)  # never seen in training: constant column
        cols["fan_min_pct"] = np.clip(rng.normal(33, 2, n), 30, None)
        cols["power_limit_min_w"] = np.full(n, 300.0 if i % 2 == 0 else 700.0)
        frames.append(
            pd.DataFrame({"host": host, "window_start": ws, "window_end": ws + pd.Timedelta("1min"), **cols})
        )
        counts.append(
            pd.DataFrame({"host": host, "window_start": ws, "template_id": "T1", "count": rng.poisson(3, n)})
        )
    return pd.concat(frames, ignore_index=True), pd.concat(counts, ignore_index=True)


def register_champion(
    model: TrainedModel,
    features: pd.DataFrame,
    counts: pd.DataFrame,
    uri: str,
    artifacts: str,
    monkeypatch: pytest.MonkeyPatch,
) -> str:
    """Log + register ``model`` in ``uri`` and point ``champion`` at it; returns the version.

    mlflow keeps both URIs in module globals AND exports them to os.environ: all four are patched
    so monkeypatch restores them and later tests never register into this tmp store.
    """
    for var in ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI"):
        monkeypatch.setenv(var, uri)
    monkeypatch.setattr("mlflow.tracking._tracking_service.utils._tracking_uri", uri)
    monkeypatch.setattr("mlflow.tracking._model_registry.utils._registry_uri", uri)
    exp = registry.ensure_experiment(uri, "test", artifacts)
    with mlflow.start_run(experiment_id=exp):
        info = log_pyfunc(
            model, serving_example(model, features, counts), registered_model_name=registry.MODEL_NAME
        )
    version = str(info.registered_model_version)
    registry.promote(uri, version)
    return version
