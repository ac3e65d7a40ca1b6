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

from mlops_assets.lib.detect.decide import column_masks, combine, evaluation_matrix, layer_scores
from mlops_assets.lib.detect.design_matrix import design_matrix, is_count_column, matrix
from mlops_assets.lib.detect.layers import full_z
from mlops_assets.lib.detect.model import TrainedModel, window_starts_ns
from mlops_assets.lib.features.registry import gpu_index_of


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
    x = design_matrix(
        frame,
        template_counts,
        model.columns,
        model.vocabulary,
        pad=len(model.eval_columns) - len(model.columns),
    )
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
    x = matrix(wide, model.columns, pad=len(model.eval_columns) - len(model.columns))
    return score_matrix(model, x, wide, model_version, explain_all)


def score_matrix(
    model: TrainedModel, x: np.ndarray, wide: pd.DataFrame, model_version: str = "", explain_all: bool = False
) -> pd.DataFrame:
    """Scores of the rows of design matrix ``x``; ``wide`` gives their host and window_start."""
    hosts = (
        wide["host"].astype("string").to_numpy(dtype=object, na_value="") if "host" in wide.columns else None
    )
    starts = window_starts_ns(wide)
    order = _host_time_order(hosts, starts, len(x))
    xs = x if order is None else x[order]
    hs = hosts if hosts is None or order is None else hosts[order]
    st = starts if starts is None or order is None else starts[order]
    xe = evaluation_matrix(model, xs, hs, st)
    parts = layer_scores(model, xe, hs, st)
    out = combine(model, parts, hs)
    n = len(x)
    top_sorted = np.array(["[]"] * n, dtype=object)
    gpu_sorted = np.full(n, -1, dtype="int64")
    explained = np.ones(n, bool) if explain_all else out["flag"]
    by_sustained = explained & (parts["z_sus"] > parts["z1"])
    single = np.flatnonzero(explained & ~by_sustained)
    cols = model.eval_columns
    if len(single):
        m = column_masks(cols)
        z = full_z(xe[single], None if hs is None else hs[single], model.baseline_of, m["sign"], m["both"])
        top_sorted[single] = explain(z, xe[single], cols)
        lead = parts["arg1"][single]
        gpu_sorted[single] = [
            -1 if j < 0 else (gpu_index_of(cols[j]) if gpu_index_of(cols[j]) is not None else -1)
            for j in lead
        ]
    sustained = np.flatnonzero(by_sustained)
    if len(sustained):
        base = model.sustained
        names = [cols[j] for j in base.columns]
        zs = base.z_of(parts["means"][sustained], None if hs is None else hs[sustained])
        top_sorted[sustained] = explain(zs, parts["means"][sustained], names, over_windows=base.k)
        lead = np.argmax(zs, axis=1)
        gpu_sorted[sustained] = [
            gpu_index_of(names[j]) if gpu_index_of(names[j]) is not None else -1 for j in lead
        ]

    def unsort(v: np.ndarray) -> np.ndarray:
        if order is None:
            return v
        r = np.empty_like(v)
        r[order] = v
        return r

    s, flag, layer = unsort(out["score"]), unsort(out["flag"]), unsort(out["layer"].astype(object))
    top, gpu = unsort(top_sorted), unsort(gpu_sorted)
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
            "is_anomaly": flag.astype(bool),
            "model_version": pd.array([model_version] * n, dtype="string"),
            "top_features": pd.array(top, dtype="string"),
            "layer": pd.array(layer, dtype="string"),
            "gpu_index": pd.arrays.IntegerArray(
                np.where(flag & (gpu >= 0), gpu, 0).astype("int16"), ~(flag & (gpu >= 0))
            ),
        }
    )
