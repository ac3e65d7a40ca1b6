"""Template counts per window (a LONG table, so the model chooses its own vocabulary) and template matching."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pandas as pd

from mlops_assets.lib.features.grid import TS, window_grid, window_index


def empty_template_counts() -> pd.DataFrame:
    """The template-count table with no rows (its columns and dtypes)."""
    return pd.DataFrame(
        {
            "host": pd.Series(dtype="string"),
            "window_start": pd.Series(dtype=TS),
            "template_id": pd.Series(dtype="string"),
            "count": pd.Series(dtype="int64"),
        }
    )


def concat_template_counts(frames: list[pd.DataFrame]) -> pd.DataFrame:
    """Template counts of several windows ranges as one table; empty parts are skipped (concat of an
    empty frame would widen dtypes), all empty gives the empty table."""
    parts = [f for f in frames if len(f)]
    return pd.concat(parts, ignore_index=True) if parts else empty_template_counts()


def build_template_counts(
    tables: dict[str, pd.DataFrame],
    host: str,
    start: datetime | pd.Timestamp,
    end: datetime | pd.Timestamp,
    *,
    window: str = "1min",
) -> pd.DataFrame:
    """LONG counts of log templates per window: host, window_start, template_id (NA = unmatched), count.

    Reads the ``template_id`` column of journal_entries and docker_lines (filled by the template miner).
    """
    grid = window_grid(host, start, end, window)
    n = len(grid)
    window_ns = int(pd.Timedelta(window).value)
    start_ns = int(pd.Timestamp(grid["window_start"].iloc[0]).value) if n else 0
    parts = []
    for name in ("journal_entries", "docker_lines"):
        df = tables.get(name)
        if df is None or df.empty or "template_id" not in df.columns:
            continue
        idx, keep = window_index(df["ts"], start_ns, window_ns, n)
        parts.append(
            pd.DataFrame({"w": idx[keep], "template_id": df["template_id"].astype("string").to_numpy()[keep]})
        )
    if not parts or not any(len(p) for p in parts):
        return empty_template_counts()
    long = pd.concat(parts, ignore_index=True)
    counts = long.groupby(["w", "template_id"], dropna=False, sort=True).size().rename("count").reset_index()
    return pd.DataFrame(
        {
            "host": pd.array([host] * len(counts), dtype="string"),
            "window_start": grid["window_start"].to_numpy()[counts["w"].to_numpy(dtype="int64")],
            "template_id": counts["template_id"].astype("string"),
            "count": counts["count"].astype("int64"),
        }
    ).astype({"window_start": TS})


def assign_templates(tables: dict[str, pd.DataFrame], miner: Any) -> dict[str, pd.DataFrame]:
    """Copy of ``tables`` with ``template_id`` of journal/docker messages matched by ``miner`` (read-only).

    Unmatched messages get NA (a "new template" signal); the miner is never changed here, so scoring
    can not shift the template vocabulary a model was trained on.
    """
    out = dict(tables)
    for name in ("journal_entries", "docker_lines"):
        df = tables.get(name)
        if df is None or df.empty:
            continue
        df = df.copy()
        ids = miner.match(df["message"].astype("string").fillna("").tolist())
        df["template_id"] = pd.array(ids, dtype="string")
        out[name] = df
    return out
