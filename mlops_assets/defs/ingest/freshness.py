"""raw_freshness: is every registered host still sending each source?

One verdict per raw source per collect step (not per host-hour): it lists every registered host
whose newest collected hour of that source is too old, or that has none. A host that stopped sending
is named by the next collection of ANY host; a per-host-hour verdict was judged only when that host's
own data arrived, so a silent host kept its last (passing) verdict forever. It judges what is in
storage, so a collect step that fails for some hosts still reports them (WARN: it blocks nothing).
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

import dagster as dg

from mlops_assets.defs.partitions import hosts_partitions, window_of

CHECK_NAME = "raw_freshness"
MAX_RAW_LAG_HOURS = float(os.getenv("MLOPS_MAX_RAW_LAG_HOURS", "3"))


def freshness_spec(asset_key: dg.AssetKey) -> dg.AssetCheckSpec:
    return dg.AssetCheckSpec(
        CHECK_NAME,
        asset=asset_key,
        description=f"Every registered host's newest collected hour of this source ends at most "
        f"{MAX_RAW_LAG_HOURS:g} h ago (names the hosts that fell behind or never sent it).",
    )


def lag_hours(store, table: str, host: str, now: datetime) -> float | None:
    """Hours since the end of the host's newest stored hour of ``table``; None: nothing stored."""
    newest = max((window_of(k)[0] for k in store.keys(table, host)), default=None)
    return None if newest is None else (now - (newest + timedelta(hours=1))).total_seconds() / 3600


def freshness_result(
    store, source: str, asset_key: dg.AssetKey, hosts: Iterable[str], now: datetime | None = None
) -> dg.AssetCheckResult:
    now = now or datetime.now(UTC)
    lags = {host: lag_hours(store, f"raw_{source}", host, now) for host in sorted(hosts)}
    behind = {h: ("never collected" if lag is None else round(lag, 2)) for h, lag in lags.items()}
    behind = {h: v for h, v in behind.items() if isinstance(v, str) or v > MAX_RAW_LAG_HOURS}
    known = [lag for lag in lags.values() if lag is not None]
    return dg.AssetCheckResult(
        asset_key=asset_key,
        check_name=CHECK_NAME,
        passed=bool(lags) and not behind,
        severity=dg.AssetCheckSeverity.WARN,
        description=(
            f"{len(behind)} of {len(lags)} hosts behind: {', '.join(sorted(behind)[:10])}"
            if behind
            else f"all {len(lags)} hosts within {MAX_RAW_LAG_HOURS:g} h"
            if lags
            else "no host is registered"
        ),
        metadata={
            "hosts": len(lags),
            "hosts_behind": dg.MetadataValue.json(behind),
            "worst_lag_hours": round(max(known), 2) if known else -1.0,
            "max_lag_hours": MAX_RAW_LAG_HOURS,
        },
    )


def registered_hosts(instance: dg.DagsterInstance) -> list[str]:
    return list(instance.get_dynamic_partitions(hosts_partitions.name))
