"""How the layers decide, given a trained model: evaluation matrix, per-layer evidence, margins.

Shared by training (to calibrate the thresholds on the training range) and scoring, so both see the
same numbers. See lib/detect/model.py for what each layer is and how thresholds are chosen.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from mlops_assets.lib.detect.alarm_budget import calibrate_threshold
from mlops_assets.lib.detect.baselines import EXCESS_COLUMNS, boot_phase
from mlops_assets.lib.detect.design_matrix import is_log_column, is_rate_column, sustained_sign, worse_sign
from mlops_assets.lib.detect.layers import deviation, forest_input, forest_scores, to_unit_score
from mlops_assets.lib.detect.sustained import host_runs
from mlops_assets.lib.features.registry import FEATURE_BY_NAME

if TYPE_CHECKING:
    from mlops_assets.lib.detect.model import ModelParams, TrainedModel


def column_masks(columns: list[str]) -> dict[str, np.ndarray]:
    sign = np.array([worse_sign(c) for c in columns])
    both = np.array([FEATURE_BY_NAME[c].worse == "both" if c in FEATURE_BY_NAME else False for c in columns])
    return {
        "sign": sign,
        "both": both,
        "volume": np.array([is_rate_column(c) for c in columns]),
        # judged against earlier boots in a boot phase: log columns, and the temperature excess (a card
        # coming back from a reboot has no power history, so its lag terms say nothing)
        "log": np.array([is_log_column(c) or c in EXCESS_COLUMNS for c in columns]),
        "excess": np.array([c in EXCESS_COLUMNS for c in columns]),
        "sustained": np.array([sustained_sign(c) if c not in EXCESS_COLUMNS else 1.0 for c in columns]),
    }


def evaluation_matrix(
    model: TrainedModel, x: np.ndarray, hosts: np.ndarray | None, starts_ns: np.ndarray | None
) -> np.ndarray:
    """Input design matrix + the GPUs' temperature excess (rows sorted by host, time).

    ``x`` may already carry the excess columns' room (``design_matrix(..., pad=len(EXCESS_COLUMNS))``):
    then they are filled in place, with no copy of the matrix.
    """
    n_in = len(model.columns)
    xe = (
        x
        if x.shape[1] == n_in + len(EXCESS_COLUMNS)
        else np.hstack([x, np.full((len(x), len(EXCESS_COLUMNS)), np.nan)])
    )
    if model.thermal is not None:
        xe[:, n_in:] = model.thermal.excess(xe, model.columns, hosts, starts_ns)
    return xe


def layer_scores(
    model: TrainedModel, xe: np.ndarray, hosts: np.ndarray | None, starts_ns: np.ndarray | None
) -> dict[str, np.ndarray]:
    """Per row: single-window and sustained baseline z (+ lead column), forest score, boot phase."""
    masks = column_masks(model.eval_columns)
    boot = (
        boot_phase(xe, model.eval_columns, hosts, starts_ns) if model.boot_phases else np.zeros(len(xe), bool)
    )
    z1, arg1 = deviation(
        xe,
        hosts,
        model.baseline_of,
        masks["sign"],
        masks["both"],
        boot,
        model.boot,
        masks["log"],
        masks["excess"],
    )
    z_sus, means = np.zeros(len(xe)), None
    if model.sustained is not None and starts_ns is not None:
        z_sus, means = model.sustained.max_z(xe, hosts, starts_ns, neutral=(boot, masks["log"]))
    s_if = np.full(len(xe), 0.5)
    if model.pipeline is not None:
        cols = np.array([model.eval_columns.index(c) for c in model.forest_columns])
        s_if = forest_scores(
            model.pipeline, forest_input(xe, hosts, model.baseline_of, cols, boot, masks["log"])
        )
    return {"z1": z1, "arg1": arg1, "z_sus": z_sus, "means": means, "s_if": s_if, "boot": boot}


def combine(
    model: TrainedModel, parts: dict[str, np.ndarray], hosts: np.ndarray | None
) -> dict[str, np.ndarray]:
    """score, is_anomaly and deciding layer ("baseline" | "forest" | "") per row."""
    n = len(parts["z1"])
    s_base = to_unit_score(np.maximum(parts["z1"], parts["z_sus"]), model.params.z_scale)
    t_base, t_if = np.empty(n), np.empty(n)
    known = np.ones(n, bool)
    cuts, run_hosts = host_runs(hosts, n)
    for a, b, h in zip(cuts[:-1], cuts[1:], run_hosts, strict=True):
        host = None if hosts is None else h
        t_base[a:b], t_if[a:b] = model.threshold_of(host)
        known[a:b] = model.knows(host)
    m_base, m_if = s_base - t_base, parts["s_if"] - t_if
    score = model.threshold + np.maximum(m_base, m_if)
    flag = (score >= model.threshold) & known
    layer = np.where(flag, np.where(m_base >= m_if, "baseline", "forest"), "")
    return {"score": score, "flag": flag, "layer": layer, "s_base": s_base}


def calibrate_layers(model: TrainedModel, parts: dict, hosts: np.ndarray, params: ModelParams) -> None:
    s_base = to_unit_score(np.maximum(parts["z1"], parts["z_sus"]), params.z_scale)
    s_if = parts["s_if"]
    gap, day = params.alarm_merge_gap_windows, 1440.0 / params.window_minutes
    floor_base = float(to_unit_score(np.array([params.alarm_z]), params.z_scale)[0])

    def pick(rows: np.ndarray) -> tuple[float, float]:
        days = max(rows.sum() / day, 1e-9)
        tb = calibrate_threshold(
            s_base[rows],
            hosts[rows],
            params.train_alarm_budget_per_host_day * days,
            gap,
            params.train_alarm_share,
        )
        t_base = max(floor_base, tb)
        if model.pipeline is None:
            return t_base, np.inf
        tf = calibrate_threshold(
            s_if[rows], hosts[rows], params.forest_budget_per_host_day * days, gap, params.forest_alarm_share
        )
        return t_base, max(float(np.quantile(s_if[rows], params.forest_floor_quantile)), tf)

    known = np.isin(hosts, list(model.hosts))
    model.pooled_thresholds = pick(known if known.any() else np.ones(len(hosts), bool))
    model.threshold = model.pooled_thresholds[0]
    for h in model.hosts:
        rows = hosts == h
        if rows.sum() >= params.per_host_threshold_windows:
            model.thresholds[h] = pick(rows)
