"""The gate part of `mlops-assets backtest … --gate [--degrade]` over a raw landing folder.

The backtest trains on a range; its gates hold out the newest ``holdout_days`` of that range (the
model is trained on the rest), overlay faults on copies of the held-out raw, and judge the model
exactly as the anomaly_model asset does (lib/evaluate/evaluate.py). The summary gains
``"gates": {name: {"passed", "value", "threshold"}}`` and ``"gate_data": "own-history"``.
``degrade`` trains a deliberately bad candidate ("shuffle" or "threshold:<value>") to show a gate fail.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pandas as pd

from mlops_assets.defs.model.candidate import degrade as degrade_model
from mlops_assets.lib.detect.model import ModelParams, train
from mlops_assets.lib.detect.scoring import score
from mlops_assets.lib.evaluate.evaluate import build_heldout_data, evaluate_gates
from mlops_assets.lib.evaluate.heldout import HOUR_FMT, hour_start, replay, time_split
from mlops_assets.lib.evaluate.labels import read_labels
from mlops_assets.lib.features.template_counts import concat_template_counts
from mlops_assets.sources.directory import DirectorySource

DEFAULT_DEGRADE = "threshold:0.0"  # alarms on every window: recall is not attributable, minutes explode


def backtest_gates(
    raw: str,
    hosts: list[str],
    start: datetime,
    end: datetime,
    miner: Any,
    *,
    holdout_days: float = 1.0,
    seed: int = 1234,
    degrade: str = "",
    params: ModelParams | None = None,
    labels_root: str | None = None,
    expected_gpus: int | None = None,
) -> dict[str, Any]:
    """``{"gates", "gate_data", "gates_passed", "evaluation", "train_range", "holdout_range"}``."""
    source = DirectorySource(raw)
    hours = int((pd.Timestamp(end) - pd.Timestamp(start)) / pd.Timedelta(hours=1))
    keys = {
        h: [(pd.Timestamp(start) + pd.Timedelta(hours=i)).strftime(HOUR_FMT) for i in range(hours)]
        for h in hosts
    }
    split = time_split(keys, holdout_days=holdout_days, train_days=hours / 24.0)
    cache: dict[tuple[str, str], Any] = {}

    def bundle_of(host: str, key: str):
        s = hour_start(key).to_pydatetime()
        return source.fetch(host, s, s + timedelta(hours=1))

    def clean_of(host: str, key: str):
        if (host, key) not in cache:
            cache[(host, key)] = replay(bundle_of(host, key), host, key, miner, expected_gpus=expected_gpus)
        return cache[(host, key)]

    train_f, train_c = [], []
    for host, ks in split.train.items():
        for key in ks:
            _, f, c = clean_of(host, key)
            train_f.append(f)
            train_c.append(c)
    if not train_f:
        raise ValueError(
            f"no training hours before the held-out {holdout_days:g} day(s): backtest a longer range"
        )
    features = pd.concat(train_f, ignore_index=True)
    counts = concat_template_counts(train_c)
    params = params or ModelParams()
    model = train(features, counts, params)
    if degrade:
        model = degrade_model(model, features, counts, params, degrade)
    data = build_heldout_data(
        split.holdout,
        clean_of,
        bundle_of,
        miner,
        seed=seed,
        operator_labels=read_labels(labels_root),
    )
    out = evaluate_gates(model, data, score)
    train_keys = split.train_keys()
    return {
        **out,
        "degraded": degrade or None,
        "train_range": f"{train_keys[0]}..{train_keys[-1]}",
        "holdout_range": data.params["holdout_range"],
    }
