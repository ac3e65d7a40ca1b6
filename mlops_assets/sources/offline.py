"""The production raw -> parsed -> features path, run offline over a landing folder.

Held-out evaluation and backtests go hour by hour through exactly what the partitions do
(DirectorySource.fetch -> parse_bundle -> template match -> features), so they see what scoring sees.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd

from mlops_assets.lib.features.template_counts import assign_templates, build_template_counts
from mlops_assets.lib.features.windows import build_window_features
from mlops_assets.lib.parsing.bundle import parse_bundle
from mlops_assets.sources.directory import DirectorySource


def features_from_raw_dir(
    root: str | Path,
    host: str,
    start: datetime,
    end: datetime,
    miner: Any,
    *,
    window: str = "1min",
    expected_gpus: int | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(window features, template counts) of ``host`` over [start, end) from a raw landing folder.

    Goes hour by hour through exactly the production path (DirectorySource.fetch -> parse_bundle ->
    template match -> features), so the held-out evaluation sees what scoring will see.
    """
    source = DirectorySource(str(root))
    feats, counts = [], []
    hour = (
        pd.Timestamp(start).tz_convert("UTC") if pd.Timestamp(start).tzinfo else pd.Timestamp(start, tz="UTC")
    )
    stop = pd.Timestamp(end).tz_convert("UTC") if pd.Timestamp(end).tzinfo else pd.Timestamp(end, tz="UTC")
    while hour < stop:
        nxt = min(hour + timedelta(hours=1), stop)
        tables = assign_templates(
            parse_bundle(source.fetch(host, hour.to_pydatetime(), nxt.to_pydatetime()), host).tables, miner
        )
        feats.append(
            build_window_features(tables, host, hour, nxt, window=window, expected_gpus=expected_gpus)
        )
        counts.append(build_template_counts(tables, host, hour, nxt, window=window))
        hour = nxt
    counts = [c for c in counts if len(c)]
    return (
        pd.concat(feats, ignore_index=True),
        pd.concat(counts, ignore_index=True)
        if counts
        else build_template_counts({}, host, start, end, window=window),
    )
