"""Held-out data of the hosts' own history: the time split, and the raw -> features replay.

Training and evaluation never share an hour: the newest ``holdout_days`` of the stored features
are held out, training takes the ``train_days`` before them. Overlaid copies of the held-out raw
go through exactly the production path (parse_bundle -> template match -> window features), so
what the gates see is what scoring would see.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pandas as pd

from mlops_assets.lib.contracts.raw import SOURCES, RawBundle
from mlops_assets.lib.features.template_counts import assign_templates, build_template_counts
from mlops_assets.lib.features.windows import build_window_features
from mlops_assets.lib.parsing.bundle import parse_bundle
from mlops_assets.lib.storage.partition_store import PartitionStore, exists, raw_table, read_raw_members

HOUR_FMT = "%Y-%m-%d-%H:%M"


def hour_start(key: str) -> pd.Timestamp:
    return pd.Timestamp(datetime.strptime(key, HOUR_FMT).replace(tzinfo=UTC))


@dataclass(frozen=True)
class TimeSplit:
    train: dict[str, list[str]]  # host -> hour keys used for training
    holdout: dict[str, list[str]]  # host -> newest hour keys, never trained on
    holdout_start: pd.Timestamp
    history_days: dict[str, float] = field(default_factory=dict)  # host -> days of stored features

    def train_keys(self) -> list[str]:
        return sorted({k for ks in self.train.values() for k in ks})

    def holdout_keys(self) -> list[str]:
        return sorted({k for ks in self.holdout.values() for k in ks})


def time_split(keys_by_host: dict[str, list[str]], *, holdout_days: float, train_days: float) -> TimeSplit:
    """Newest ``holdout_days`` (ending at the fleet's newest hour) held out; ``train_days`` before."""
    keys = sorted({k for ks in keys_by_host.values() for k in ks})
    if not keys:
        raise FileNotFoundError("no window_features partitions in storage: materialize window_features first")
    end = hour_start(keys[-1]) + timedelta(hours=1)
    cut = end - timedelta(days=holdout_days)
    oldest = cut - timedelta(days=train_days)
    train, hold, days = {}, {}, {}
    for host, ks in sorted(keys_by_host.items()):
        starts = {k: hour_start(k) for k in ks}
        train[host] = sorted(k for k, t in starts.items() if oldest <= t < cut)
        hold[host] = sorted(k for k, t in starts.items() if t >= cut)
        days[host] = len(ks) / 24.0
    return TimeSplit(train, hold, cut, days)


def young_hosts(split: TimeSplit, *, min_train_days: float, holdout_days: float) -> dict[str, str]:
    """Hosts without ``min_train_days`` of training history before the held-out days, with why.

    They are left out of training and of the gates (health rules cover them) instead of holding the
    whole fleet in cold start: a box added last night must not keep the others without a model.
    """
    young = {}
    for h in sorted(split.history_days):
        days = round(len(split.train.get(h, [])) / 24.0, 2)
        if days < min_train_days or not split.holdout.get(h):
            held = "no held-out hours" if not split.holdout.get(h) else f"{days:g} training days"
            young[h] = (
                f"{held} < {min_train_days:g} training + {holdout_days:g} held-out day(s): "
                "no learned baseline yet, health rules only"
            )
    return young


def without_hosts(split: TimeSplit, hosts: set[str]) -> TimeSplit:
    """The split restricted to the other hosts (their history days kept for the record)."""
    return TimeSplit(
        {h: ks for h, ks in split.train.items() if h not in hosts},
        {h: ks for h, ks in split.holdout.items() if h not in hosts},
        split.holdout_start,
        split.history_days,
    )


def cold_start_reason(split: TimeSplit, *, min_train_days: float, holdout_days: float) -> str | None:
    """Why no model may be trained yet: NO host has enough history (None when one has)."""
    young = young_hosts(split, min_train_days=min_train_days, holdout_days=holdout_days)
    if len(young) < len(split.history_days):
        return None
    short = {h: round(len(split.train.get(h, [])) / 24.0, 2) for h in young}
    need = min_train_days + holdout_days
    return (
        f"cold start: hosts {sorted(short)} have {short} days of training history before the held-out "
        f"{holdout_days:g} day(s); a candidate needs {min_train_days:g} training days + {holdout_days:g} "
        f"held-out ({need:g} days in all) on at least one host. Health rules alert meanwhile; no model is "
        "promoted until then."
    )


def read_bundle(store: PartitionStore, host: str, key: str) -> tuple[RawBundle, list[str]]:
    """Stored raw members of every source of a host-hour, and the sources that were never collected."""
    bundle, missing = {}, []
    for source in SOURCES:
        if exists(store.path(raw_table(source), host, key)):
            bundle[source] = read_raw_members(store, source, host, key)
        else:
            missing.append(source)
    return bundle, missing


def replay(
    bundle: RawBundle, host: str, key: str, miner: Any, *, expected_gpus: int | None
) -> tuple[dict[str, pd.DataFrame], pd.DataFrame, pd.DataFrame]:
    """(parsed tables, window features, template counts) of a raw host-hour via the production path."""
    start = hour_start(key)
    end = start + timedelta(hours=1)
    tables = assign_templates(parse_bundle(bundle, host).tables, miner)
    feats = build_window_features(tables, host, start, end, expected_gpus=expected_gpus)
    return tables, feats, build_template_counts(tables, host, start, end)


def expected_gpus_of(tables: dict[str, pd.DataFrame]) -> int | None:
    gpu = tables.get("gpu_samples")
    return int(gpu["gpu_index"].nunique()) if gpu is not None and len(gpu) else None
