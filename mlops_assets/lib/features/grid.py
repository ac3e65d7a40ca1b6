"""The window grid of a feature partition and the vectorised helpers every feature family uses.

Records are mapped to an integer window index once, then counted with ``np.bincount`` (or reduced
with one ``groupby`` per statistic: pandas 2.3's multi-stat ``resample().agg([...])`` is wrong,
DESIGN.md section 5).
"""

from __future__ import annotations

from datetime import datetime

import numpy as np
import pandas as pd

TS = "datetime64[ns, UTC]"


def window_index(ts: pd.Series, start_ns: int, window_ns: int, n: int) -> tuple[np.ndarray, np.ndarray]:
    """(window index, in-range mask) of each record; records outside [start, end) are out of scope."""
    t = pd.to_datetime(ts, utc=True).to_numpy(dtype="datetime64[ns]").astype("int64")
    valid = ~pd.isna(ts).to_numpy()
    idx = np.where(valid, (t - start_ns) // window_ns, -1)
    keep = (idx >= 0) & (idx < n)
    return idx, keep


def count_in(idx: np.ndarray, mask: np.ndarray, n: int) -> np.ndarray:
    return np.bincount(idx[mask], minlength=n)[:n].astype("float64")


def contains(s: pd.Series, pattern: str) -> np.ndarray:
    return s.astype("string").fillna("").str.contains(pattern, regex=True).to_numpy(dtype=bool)


def numeric(df: pd.DataFrame, col: str) -> np.ndarray:
    return pd.to_numeric(df[col], errors="coerce").astype("float64").to_numpy(na_value=np.nan)


def window_grid(
    host: str, start: datetime | pd.Timestamp, end: datetime | pd.Timestamp, window: str
) -> pd.DataFrame:
    """host, window_start, window_end for every window in [start, end)."""
    starts = pd.date_range(
        pd.Timestamp(start).tz_convert("UTC")
        if pd.Timestamp(start).tzinfo
        else pd.Timestamp(start, tz="UTC"),
        pd.Timestamp(end).tz_convert("UTC") if pd.Timestamp(end).tzinfo else pd.Timestamp(end, tz="UTC"),
        freq=window,
        inclusive="left",
    ).astype(TS)
    return pd.DataFrame(
        {
            "host": pd.array([host] * len(starts), dtype="string"),
            "window_start": starts,
            "window_end": (starts + pd.Timedelta(window)).astype(TS),
        }
    )
