"""Score windows with a trained detector: the scores contract, with the top features behind alarms.

Rows are scored in (host, window_start) order, whatever order they arrive in, because the sustained
term looks at each window's predecessors; the output keeps the input order. A frame without
``window_start`` gets single-window scores only (nothing says which windows are consecutive), one
without ``host`` uses the pooled fleet baselines.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from mlops_assets.lib.detect.design_matrix import design_matrix, is_count_column, matrix
from mlops_assets.lib.detect.model import (
    TrainedModel,
    raw_scores,
    robust_z,
    sustained_max_z,
    to_unit_score,
    window_starts_ns,
)


def explain(
    z: np.ndarray, x: np.ndarray, columns: list[str], top: int = 3, over_windows: int | None = None
) -> list[str]:
    """Per row, JSON list of the ``top`` columns with the largest |robust z| (value in original units).

    ``over_windows`` marks the items as trailing means of that many windows (the sustained term).
    """
    if not len(z):
        return []
    k = min(top, z.shape[1])
    order = np.argsort(-np.abs(z), axis=1, kind="stable")[:, :k]  # ties: column order
    out = []
    counts = np.array([is_count_column(c) for c in columns])
    extra = {} if over_windows is None else {"over_windows": over_windows}
    for r, idx in enumerate(order):
        items = []
        for j in idx:
            if z[r, j] == 0:
                continue
            value = float(np.expm1(x[r, j])) if counts[j] else float(x[r, j])
            items.append(
                {
                    "feature": columns[j],
                    "value": round(value, 4),
                    "contribution": round(float(z[r, j]), 3),
                    **extra,
                }
            )
        out.append(json.dumps(items))
    return out


def score(
    model: TrainedModel,
    features: pd.DataFrame,
    template_counts: pd.DataFrame,
    model_version: str = "",
    explain_all: bool = False,
) -> pd.DataFrame:
    """The scores contract for ``features`` rows; top features explained for anomalous rows (or all)."""
    frame = features.reset_index(drop=True)
    x = design_matrix(frame, template_counts, model.columns, model.vocabulary)
    return score_matrix(model, x, frame, model_version, explain_all)


def _host_time_order(hosts: np.ndarray | None, starts_ns: np.ndarray | None, n: int) -> np.ndarray | None:
    """Permutation to (host, window_start) order; None when the rows are already in it (the usual case)."""
    if hosts is None or starts_ns is None or n < 2:
        return None
    same = hosts[1:] == hosts[:-1]
    new_host = np.flatnonzero(~same)
    firsts = hosts[np.r_[0, new_host + 1]]
    if len(set(firsts.tolist())) == len(firsts) and (starts_ns[1:][same] > starts_ns[:-1][same]).all():
        return None  # grouped by host (any host order) and increasing in time within each host
    codes = pd.factorize(pd.Series(hosts, dtype="string").fillna(""), sort=True)[0]
    return np.lexsort((starts_ns, codes))


def score_wide(
    model: TrainedModel, wide: pd.DataFrame, model_version: str = "", explain_all: bool = False
) -> pd.DataFrame:
    """Score a frame that already has the template columns (``tpl__<id>``, other, new): the pyfunc input."""
    return score_matrix(model, matrix(wide, model.columns), wide, model_version, explain_all)


def score_matrix(
    model: TrainedModel, x: np.ndarray, wide: pd.DataFrame, model_version: str = "", explain_all: bool = False
) -> pd.DataFrame:
    """Scores of the rows of design matrix ``x``; ``wide`` gives their host and window_start."""
    hosts = (
        wide["host"].astype("string").to_numpy(dtype=object, na_value="") if "host" in wide.columns else None
    )
    starts = window_starts_ns(wide)
    order = _host_time_order(hosts, starts, len(x))
    x_sorted = x if order is None else x[order]
    hosts_sorted = hosts if hosts is None or order is None else hosts[order]
    z_sus, means_sorted = sustained_max_z(
        model, x_sorted, hosts_sorted, starts if starts is None or order is None else starts[order]
    )
    s_single = raw_scores(model, x_sorted, hosts_sorted)
    s_sus = to_unit_score(z_sus, model.params.z_scale)
    s_sorted = np.maximum(s_single, s_sus)
    s = s_sorted if order is None else np.empty_like(s_sorted)
    if order is not None:
        s[order] = s_sorted
    flag = s >= model.threshold

    top_sorted = np.array(["[]"] * len(s), dtype=object)
    explained = np.ones(len(s), bool) if explain_all else s_sorted >= model.threshold
    by_sustained = explained & (s_sus > s_single)
    single = np.flatnonzero(explained & ~by_sustained)
    if len(single):  # full z only for the rows explained
        top_sorted[single] = explain(
            robust_z(x_sorted[single], model, None if hosts_sorted is None else hosts_sorted[single]),
            x_sorted[single],
            model.columns,
        )
    sustained = np.flatnonzero(by_sustained)
    if len(sustained):
        base = model.sustained
        top_sorted[sustained] = explain(
            base.z_of(means_sorted[sustained], None if hosts_sorted is None else hosts_sorted[sustained]),
            means_sorted[sustained],
            [model.columns[j] for j in base.columns],
            over_windows=base.k,
        )
    top = top_sorted if order is None else np.empty_like(top_sorted)
    if order is not None:
        top[order] = top_sorted
    n = len(s)
    host = (
        wide["host"].astype("string").reset_index(drop=True)
        if "host" in wide.columns
        else pd.Series([pd.NA] * n, dtype="string")
    )
    window = (
        pd.to_datetime(wide["window_start"], utc=True).reset_index(drop=True)
        if "window_start" in wide.columns
        else pd.Series([pd.NaT] * n, dtype="datetime64[ns, UTC]")
    )
    return pd.DataFrame(
        {
            "host": host,
            "window_start": window.astype("datetime64[ns, UTC]"),
            "score": s.astype("float64"),
            "is_anomaly": flag,
            "model_version": pd.array([model_version] * n, dtype="string"),
            "top_features": pd.array(top, dtype="string"),
        }
    )
