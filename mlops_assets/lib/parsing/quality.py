"""Data-quality measures of parsed tables, used by the Dagster asset checks (kept pure here)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from mlops_assets.lib.contracts.tables import ParseResult


def quarantine_rate(result: ParseResult) -> float:
    """Share of real records that were quarantined (structural skipped lines do not count)."""
    denominator = len(result.table) + len(result.quarantine)
    return len(result.quarantine) / denominator if denominator else 0.0


def timestamp_order_violations(ts: pd.Series, tolerance: pd.Timedelta) -> int:
    """Records whose ts is more than ``tolerance`` earlier than the newest ts seen before them.

    Logs are appended in time order; a record far behind its predecessors points at a clock jump,
    a mis-parsed timestamp or interleaved files. Small reorderings (multi-threaded writers, several
    GPUs printed per sample) stay within the tolerance. Null timestamps are ignored.
    """
    values = pd.to_datetime(ts, utc=True, errors="coerce").dropna()
    if len(values) < 2:
        return 0
    ns = values.to_numpy(dtype="datetime64[ns]").astype(np.int64)
    running_max = np.maximum.accumulate(ns)
    behind = running_max[:-1] - ns[1:]
    return int((behind > tolerance.value).sum())
