"""The model asset's view of storage: time split, held-out data, serving check against MLflow.

Everything is read through the storage layer (PartitionStore ranges, never the IO manager): the
stored features/template counts and parsed tables of the held-out hours (what scoring sees) and
their stored raw members (the overlay works on copies of those bytes).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import mlflow
import numpy as np
import pandas as pd
from mlflow.exceptions import MlflowException

from mlops_assets.defs.features.assets import read_parsed
from mlops_assets.lib.evaluate.evaluate import build_heldout_data
from mlops_assets.lib.evaluate.heldout import TimeSplit, hour_start, read_bundle, time_split
from mlops_assets.lib.evaluate.labels import read_labels
from mlops_assets.lib.evaluate.own_history import HeldOutData
from mlops_assets.lib.evaluate.serving_check import independent_frame, serving_differences
from mlops_assets.lib.features.template_counts import concat_template_counts
from mlops_assets.lib.storage.partition_store import PartitionStore


def split_of(store: PartitionStore, *, holdout_days: float, train_days: float) -> TimeSplit:
    keys = {h: store.keys("features", h) for h in store.hosts("features")}
    return time_split(keys, holdout_days=holdout_days, train_days=train_days)


def read_training(store: PartitionStore, split: TimeSplit) -> tuple[pd.DataFrame, pd.DataFrame]:
    frames, counts = [], []
    for host, keys in split.train.items():
        wanted = set(keys)
        for key in store.keys("features", host):
            if key in wanted:
                frames.append(store.read("features", host, key))
                counts.append(store.read("template_counts", host, key))
    return pd.concat(frames, ignore_index=True), concat_template_counts(counts)


def heldout_from_storage(
    store: PartitionStore, root: str, split: TimeSplit, miner: Any, *, seed: int, per_kind: int | None
) -> tuple[HeldOutData, list[str]]:
    """(held-out data, notes on raw sources that were never collected for a held-out hour)."""
    notes: list[str] = []

    def clean_of(host: str, key: str):
        return (
            read_parsed(store, host, key),
            store.read("features", host, key),
            store.read("template_counts", host, key),
        )

    def bundle_of(host: str, key: str):
        bundle, missing = read_bundle(store, host, key)
        if missing:
            notes.append(f"{host} {key}: no stored raw for {missing}")
        if not bundle:
            raise FileNotFoundError(
                f"no stored raw partitions for {host} {key}: the overlay needs raw_* materialized for the "
                "held-out hours"
            )
        return bundle

    data = build_heldout_data(
        split.holdout,
        clean_of,
        bundle_of,
        miner,
        seed=seed,
        operator_labels=read_labels(root),
        per_kind=per_kind,
    )
    return data, notes


def serving_check(
    model_uri: str, store: PartitionStore, split: TimeSplit, miner: Any
) -> tuple[list[str], int]:
    """(differences, non-finite served scores) of the registered model on a frame from parsed tables."""
    host = sorted(h for h, ks in split.holdout.items() if ks)[0]
    key = split.holdout[host][0]
    start = hour_start(key)
    tables = read_parsed(store, host, key)
    gpus = int(tables["gpu_samples"]["gpu_index"].nunique()) if len(tables["gpu_samples"]) else None
    frame, produced = independent_frame(tables, host, start, start + timedelta(hours=1), miner, gpus)
    sig = mlflow.models.get_model_info(model_uri).signature
    inputs = [(c.name, bool(getattr(c, "required", True))) for c in sig.inputs.inputs]
    diff = serving_differences(inputs, list(frame.columns), produced)
    try:
        out = mlflow.pyfunc.load_model(model_uri).predict(frame)
    except (MlflowException, ValueError, TypeError, KeyError) as exc:  # refused the production frame
        return [*diff, f"serving predict failed: {type(exc).__name__}: {str(exc)[:300]}"], 0
    if len(out) != len(frame):
        diff.append(f"serving returned {len(out)} rows for {len(frame)}")
    return diff, int((~np.isfinite(out["score"].to_numpy(dtype="float64"))).sum())
