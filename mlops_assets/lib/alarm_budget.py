"""Threshold calibration to an alarm budget: what an operator pays for is alarm GROUPS (runs of
consecutive anomalous windows of a host), not anomalous windows, so the budget counts groups."""

from __future__ import annotations

import numpy as np


def alarm_groups(hosts: np.ndarray, anomalous: np.ndarray) -> int:
    """Number of runs of consecutive anomalous windows per host (rows sorted by host, time)."""
    if not len(anomalous):
        return 0
    new_host = np.r_[True, hosts[1:] != hosts[:-1]]
    starts = anomalous & (new_host | ~np.r_[False, anomalous[:-1]])
    return int(starts.sum())


def calibrate_threshold(scores: np.ndarray, hosts: np.ndarray, budget_groups: float) -> float:
    """Lowest threshold whose alarm groups stay within ``budget_groups`` (scan from the top down)."""
    candidates = np.unique(np.quantile(scores, np.linspace(0.80, 1.0, 401)))[::-1]
    chosen = float(candidates[0]) + 1e-9
    for t in candidates:
        if alarm_groups(hosts, scores >= t) > budget_groups:
            break
        chosen = float(t)
    return chosen
