"""Serving-schema check against a frame built independently of the model, from parsed tables.

Comparing a signature made from ``model.columns`` with ``model.columns`` proves nothing. Here the
frame is what the production features path makes of a held-out hour's parsed tables (every
registry feature, every template seen), and the registered signature must accept it: no required
input the path does not produce, and no feature the path produces that the signature would drop.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pandas as pd

from mlops_assets.lib.detect.design_matrix import wide_frame
from mlops_assets.lib.features.registry import KEY_COLUMNS
from mlops_assets.lib.features.template_counts import assign_templates, build_template_counts
from mlops_assets.lib.features.windows import build_window_features


def independent_frame(
    tables: dict[str, pd.DataFrame],
    host: str,
    start: datetime | pd.Timestamp,
    end: datetime | pd.Timestamp,
    miner: Any,
    expected_gpus: int | None = None,
) -> tuple[pd.DataFrame, list[str]]:
    """(serving input frame, feature columns the path produced) of one host-hour's parsed tables."""
    t = assign_templates(tables, miner)
    feats = build_window_features(t, host, start, end, expected_gpus=expected_gpus)
    counts = build_template_counts(t, host, start, end)
    vocab = sorted(counts["template_id"].dropna().astype(str).unique().tolist()) if len(counts) else []
    wide = wide_frame(feats, counts, vocab)
    wide["host"] = wide["host"].astype(str)
    wide["window_start"] = pd.to_datetime(wide["window_start"], utc=True).dt.tz_localize(None)
    produced = [c for c in feats.columns if c not in KEY_COLUMNS]
    return wide.drop(columns=[c for c in ("window_end",) if c in wide.columns]), produced


def serving_differences(
    inputs: list[tuple[str, bool]], frame_columns: list[str], produced: list[str]
) -> list[str]:
    """``inputs`` = (name, required) of the signature; differences that would break or blind serving."""
    names = {n for n, _ in inputs}
    have = set(frame_columns)
    return [f"frame lacks required input {n}" for n, req in inputs if req and n not in have] + [
        f"signature ignores produced feature {c}" for c in produced if c not in names
    ]
