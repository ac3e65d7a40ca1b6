"""The production raw -> parsed -> features path, run offline over a landing folder.

Held-out evaluation and backtests go hour by hour through exactly what the partitions do
(DirectorySource.fetch -> parse_bundle -> template match -> features), so they see what scoring sees.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd

from mlops_assets.lib.contracts.tables import HEALTH_EVENTS, empty_frame
from mlops_assets.lib.features.template_counts import (
    assign_templates,
    build_template_counts,
    concat_template_counts,
)
from mlops_assets.lib.features.windows import build_window_features
from mlops_assets.lib.health.rules import health_events
from mlops_assets.lib.parsing.bundle import parse_bundle
from mlops_assets.sources.directory import DirectorySource


@dataclass(frozen=True)
class OfflineRange:
    """What the partitions would hold for one host over a range: features, template counts, health."""

    features: pd.DataFrame
    template_counts: pd.DataFrame
    health_events: pd.DataFrame  # empty unless asked for (the rules cost ~0.4 s per busy host-hour)


def replay_raw_dir(
    root: str | Path,
    host: str,
    start: datetime,
    end: datetime,
    miner: Any,
    *,
    window: str = "1min",
    expected_gpus: int | None = None,
    health: bool = False,
) -> OfflineRange:
    """``host`` over [start, end) from a raw landing folder, hour by hour through exactly the production
    path (DirectorySource.fetch -> parse_bundle -> template match -> features, and the health rules on
    the same parsed tables when ``health``), so an offline evaluation sees what scoring will see."""
    source = DirectorySource(str(root))
    feats, counts, events = [], [], []
    hour = _utc(start)
    stop = _utc(end)
    while hour < stop:
        nxt = min(hour + timedelta(hours=1), stop)
        parsed = parse_bundle(source.fetch(host, hour.to_pydatetime(), nxt.to_pydatetime()), host).tables
        if health:
            events.append(health_events(parsed, host, expected_gpus=expected_gpus))
        tables = assign_templates(parsed, miner)
        feats.append(
            build_window_features(tables, host, hour, nxt, window=window, expected_gpus=expected_gpus)
        )
        counts.append(build_template_counts(tables, host, hour, nxt, window=window))
        hour = nxt
    events = [e for e in events if len(e)]
    return OfflineRange(
        pd.concat(feats, ignore_index=True),
        concat_template_counts(counts),
        pd.concat(events, ignore_index=True) if events else empty_frame(HEALTH_EVENTS),
    )


def _utc(t: datetime) -> pd.Timestamp:
    ts = pd.Timestamp(t)
    return ts.tz_convert("UTC") if ts.tzinfo else ts.tz_localize("UTC")


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
    """(window features, template counts) of ``host`` over [start, end): :func:`replay_raw_dir`."""
    r = replay_raw_dir(root, host, start, end, miner, window=window, expected_gpus=expected_gpus)
    return r.features, r.template_counts
