"""Candidate helpers: the metrics table shown in the UI, and deliberately degraded candidates.

Degraded candidates exist to prove the gates can refuse a model (tests, `backtest --degrade`).
"""

import numpy as np
import pandas as pd

from mlops_assets.lib.detect.model import ModelParams, TrainedModel, train
from mlops_assets.lib.features.registry import FEATURE_NAMES


def metrics_markdown(challenger: dict, reference: dict | None, reference_kind: str = "champion") -> str:
    rows = [f"| metric | challenger | {reference_kind} |", "|---|---|---|"]
    for k in (
        "event_recall",
        "min_event_recall_by_fault",
        "false_alarms_per_host_day",
        "alarm_minute_share",
        "false_alarm_minutes",
        "median_minutes_to_detect",
    ):
        c = reference.get(k) if reference else None
        fmt = lambda v: "-" if v is None else f"{v:.3f}"  # noqa: E731
        rows.append(f"| {k} | {fmt(challenger.get(k))} | {fmt(c)} |")
    return "\n".join(rows)


def degrade(
    model: TrainedModel, features: pd.DataFrame, counts: pd.DataFrame, params: ModelParams, how: str
) -> TrainedModel:
    """A deliberately degraded candidate: shuffled training columns, or a forced threshold."""
    if how == "shuffle":
        rng = np.random.default_rng(0)
        shuffled = features.copy()
        for c in FEATURE_NAMES:
            if c in shuffled.columns:
                shuffled[c] = rng.permutation(shuffled[c].to_numpy())
        return train(shuffled, counts, params)
    if how.startswith("threshold:"):
        # every threshold the decision uses: pooled, per host and per layer (lib/detect/model.py)
        value = float(how.split(":", 1)[1])
        model.threshold = value
        model.pooled_thresholds = (value, value)
        model.thresholds = {host: (value, value) for host in model.thresholds}
        return model
    raise ValueError(f"degrade must be '', 'shuffle' or 'threshold:<value>', got {how!r}")
