"""Per-host time-window features from the parsed tables: one documented registry, a fixed schema.

Every partition gets exactly the columns of :data:`FEATURES` (plus host, window_start, window_end),
one row per window in [start, end) even when a window has no data: counts are 0 there and GPU
statistics NaN (the model imputes them). Template counts are a separate LONG table
(lib/features/template_counts.py) so the model can choose its own vocabulary.
"""

from __future__ import annotations

from datetime import datetime

import numpy as np
import pandas as pd

from mlops_assets.lib.contracts.tables import TABLES, empty_frame
from mlops_assets.lib.features.gpu import gpu_window_features
from mlops_assets.lib.features.grid import window_grid
from mlops_assets.lib.features.logs import (
    docker_window_features,
    journal_window_features,
    kernel_window_features,
)
from mlops_assets.lib.features.registry import FEATURE_NAMES
from mlops_assets.lib.health.features import health_window_counts
from mlops_assets.lib.health.rules import health_events


def _table(tables: dict[str, pd.DataFrame], name: str) -> pd.DataFrame:
    """The named table, or an empty one with its contract columns when the source had nothing."""
    df = tables.get(name)
    return df if df is not None and len(df) else empty_frame(TABLES[name])


def build_window_features(
    tables: dict[str, pd.DataFrame],
    host: str,
    start: datetime | pd.Timestamp,
    end: datetime | pd.Timestamp,
    *,
    window: str = "1min",
    expected_gpus: int | None = None,
) -> pd.DataFrame:
    """Feature frame of one host over [start, end): KEY_COLUMNS + FEATURE_NAMES, one row per window.

    ``expected_gpus`` is the host's GPU count; when None, the number of distinct GPUs seen in the
    input is used (so a GPU missing for the whole input cannot be noticed - pass it when known).
    """
    grid = window_grid(host, start, end, window)
    n = len(grid)
    start_ns = int(pd.Timestamp(grid["window_start"].iloc[0]).value) if n else 0
    window_ns = int(pd.Timedelta(window).value)
    out: dict[str, np.ndarray] = {}
    gpu_window_features(
        _table(tables, "gpu_samples"),
        _table(tables, "gpu_errors"),
        start_ns,
        window_ns,
        n,
        expected_gpus,
        out,
    )
    journal_window_features(_table(tables, "journal_entries"), start_ns, window_ns, n, out)
    kernel_window_features(_table(tables, "kernel_events"), start_ns, window_ns, n, out)
    docker_window_features(
        _table(tables, "docker_lines"), _table(tables, "docker_events"), start_ns, window_ns, n, out
    )
    # health event counts: the asset passes its health_events; offline callers get them computed here
    events = tables.get("health_events")
    if events is None:
        events = health_events(tables, host, expected_gpus=expected_gpus)
    health_window_counts(events, start_ns, window_ns, n, out)
    feats = pd.DataFrame({name: out[name].astype("float64") for name in FEATURE_NAMES})
    return pd.concat([grid, feats], axis=1)
