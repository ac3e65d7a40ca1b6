"""Partitions: host (dynamic, added by the discovery sensor) x hour."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import dagster as dg

from mlops_assets.environment import settings
from mlops_assets.lib.storage.keys import validate_host, validate_partition_key

HOURLY_FMT = "%Y-%m-%d-%H:%M"

hosts_partitions = dg.DynamicPartitionsDefinition(name="hosts")
hourly_partitions = dg.HourlyPartitionsDefinition(start_date=settings().partitions_start, timezone="UTC")
host_hour_partitions = dg.MultiPartitionsDefinition({"host": hosts_partitions, "hour": hourly_partitions})


def host_hour_key(host: str, hour_start: datetime) -> dg.MultiPartitionKey:
    return dg.MultiPartitionKey({"host": host, "hour": hour_start.astimezone(UTC).strftime(HOURLY_FMT)})


def window_of(hour_key: str) -> tuple[datetime, datetime]:
    """[start, end) of an hourly partition key, UTC."""
    start = datetime.strptime(hour_key, HOURLY_FMT).replace(tzinfo=UTC)
    return start, start + timedelta(hours=1)


def split_key(context: dg.AssetExecutionContext | dg.AssetCheckExecutionContext) -> tuple[str, str]:
    """(host, hour key) of the partition being materialized.

    A host partition can be added by hand (UI, GraphQL, ``add_dynamic_partitions``), so the names are
    validated here, before any source is contacted or any file is written.
    """
    key = context.partition_key
    if not isinstance(key, dg.MultiPartitionKey):
        raise TypeError(f"expected a host x hour partition key, got {key!r}")
    dims = key.keys_by_dimension
    return validate_host(dims["host"]), validate_partition_key(dims["hour"])
