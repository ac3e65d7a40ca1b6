"""Health events as model features: counts per window by component x severity.

The rule decision stands on its own (health incidents); these counts only let the learned layers see
the same facts. The combinations are the ones the rules can produce (lib/health/rules_*.py).
"""

from __future__ import annotations

from datetime import datetime

import numpy as np
import pandas as pd

from mlops_assets.lib.features.grid import window_grid, window_index

HEALTH_COUNT_KEYS: tuple[tuple[str, str], ...] = (
    ("gpu", "fatal"),
    ("gpu", "critical"),
    ("gpu", "warning"),
    ("gpu", "info"),
    ("gpu", "unknown"),
    ("network", "fatal"),
    ("network", "warning"),
    ("network", "unknown"),
    ("kernel", "fatal"),
    ("kernel", "critical"),
    ("kernel", "warning"),
    ("disk", "critical"),
    ("service", "critical"),
    ("service", "warning"),
    ("container", "critical"),
    ("container", "warning"),
)


def health_feature_name(component: str, severity: str) -> str:
    return f"health_{component}_{severity}"


HEALTH_FEATURE_NAMES: tuple[str, ...] = tuple(health_feature_name(c, s) for c, s in HEALTH_COUNT_KEYS)


def health_window_counts(
    events: pd.DataFrame, start_ns: int, window_ns: int, n: int, out: dict[str, np.ndarray]
) -> None:
    """Fill ``out`` with one count array (length ``n``) per HEALTH_FEATURE_NAMES entry."""
    for name in HEALTH_FEATURE_NAMES:
        out[name] = np.zeros(n, dtype="float64")
    if events is None or events.empty or n == 0:
        return
    idx, ok = window_index(events["ts"], start_ns, window_ns, n)
    comp = events["component"].astype(str).to_numpy()
    sev = events["severity"].astype(str).to_numpy()
    for c, s in HEALTH_COUNT_KEYS:
        sel = ok & (comp == c) & (sev == s)
        if sel.any():
            out[health_feature_name(c, s)] += np.bincount(idx[sel], minlength=n)[:n]


def health_window_features(
    events: pd.DataFrame,
    host: str,
    start: datetime | pd.Timestamp,
    end: datetime | pd.Timestamp,
    window: str = "1min",
) -> pd.DataFrame:
    """host, window_start, window_end + one count column per component x severity."""
    grid = window_grid(host, start, end, window)
    n = len(grid)
    start_ns = int(pd.Timestamp(grid["window_start"].iloc[0]).value) if n else 0
    out: dict[str, np.ndarray] = {}
    health_window_counts(events, start_ns, int(pd.Timedelta(window).value), n, out)
    return pd.concat([grid, pd.DataFrame(out)], axis=1)
