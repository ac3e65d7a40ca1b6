"""health_events: the deterministic health rules (lib/health) over one host-hour's parsed tables.

No model and no training: a host is covered from its first hour. Escalation across boots needs the
host's earlier events, read through the storage layer (bounded look-back) rather than the IO manager,
which fails on any missing partition.
"""

import json
import os
from collections.abc import Iterator
from datetime import datetime, timedelta

import dagster as dg
import pandas as pd

from mlops_assets.defs.fan_out import fan_out
from mlops_assets.defs.features.assets import expected_gpus, read_parsed
from mlops_assets.defs.partitions import (
    FLEET_BACKFILL,
    HOURLY_FMT,
    fail_range_step,
    host_hour_partitions,
    host_hours,
    light_range_results,
    window_of,
)
from mlops_assets.defs.schema import table_schema
from mlops_assets.defs.tags import stage_tags
from mlops_assets.lib.health.escalation import escalate
from mlops_assets.lib.health.rules import health_events as run_health_rules
from mlops_assets.lib.storage.partition_store import exists
from mlops_assets.resources import StorageResource

HEALTH_TABLE = "health_events"
LOOKBACK = timedelta(days=int(os.getenv("MLOPS_HEALTH_LOOKBACK_DAYS", "14")))
# GPU samples of the previous hour's end given to the rules as context, so a sustained clock event, an
# ECC increment or a missing GPU that spans the hour boundary is judged on both sides of it
SAMPLE_CONTEXT = timedelta(minutes=10)


def with_context(store, host: str, hour: str, tables: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """``tables`` with the last SAMPLE_CONTEXT of the previous hour's gpu_samples prepended."""
    start, _ = window_of(hour)
    prev = (start - timedelta(hours=1)).strftime(HOURLY_FMT)
    if not exists(store.path("gpu_samples", host, prev)):
        return tables
    before = store.read("gpu_samples", host, prev)
    before = before[pd.to_datetime(before["ts"], utc=True) >= start - SAMPLE_CONTEXT]
    if before.empty:
        return tables
    samples = (
        pd.concat([before, tables["gpu_samples"]], ignore_index=True)
        if len(tables["gpu_samples"])
        else before
    )
    return {**tables, "gpu_samples": samples}


def history(store, host: str, start: datetime) -> pd.DataFrame:
    """The host's health events of the look-back window before ``start`` (for escalation)."""
    keys = []
    for key in store.keys(HEALTH_TABLE, host):
        try:
            t = datetime.strptime(key, HOURLY_FMT).replace(tzinfo=start.tzinfo)
        except ValueError:
            continue  # not an hourly partition file of this table
        if start - LOOKBACK <= t < start:
            keys.append(key)
    return store.read_many(HEALTH_TABLE, hosts=[host], keys=keys)


@dg.asset(
    key=HEALTH_TABLE,
    deps=["parsed_gpu", "parsed_journal", "parsed_kernel", "parsed_docker_logs", "parsed_docker_events"],
    partitions_def=host_hour_partitions,
    group_name="health",
    kinds={"pandas", "parquet"},
    owners=["team:sre"],
    description="Deterministic GPU/host health events (Xid/SXid catalog, ECC, row remap, clock events, GPU "
    "count, OOM, lockups, disk, units, containers) per host-hour, with the catalog's repair action; "
    "repeated Xids after 2 reboots escalate to hardware inspection.",
    op_tags=stage_tags("features"),
    backfill_policy=FLEET_BACKFILL,
)
def health_events(
    context: dg.AssetExecutionContext, storage: StorageResource
) -> Iterator[dg.MaterializeResult | dg.AssetMaterialization]:
    """One host-hour, or every host-hour of a fleet-hour / catch-up range (each host's hours in order,
    so escalation sees the earlier hours' events)."""
    store = storage.store()
    done = fan_out(
        context, host_hours(context), lambda host, hour: health_host_hour(store, host, hour), processes=True
    )
    if context.has_partition_key:
        ((metadata),) = done.results.values()
        yield dg.MaterializeResult(metadata=metadata)
        return
    # Range step: each host-hour's counts on its own event; the schema once (partitions.range_results).
    light = ("dagster/row_count", "incident_worthy", "escalated", "by_severity")
    yield from light_range_results(
        context,
        dg.AssetKey(HEALTH_TABLE),
        done,
        light,
    )
    fail_range_step(done)


def health_host_hour(store, host: str, hour: str) -> dict[str, object]:
    """Run the rules over one host-hour, escalate against its history, write the events; metadata."""
    start, _ = window_of(hour)
    tables = read_parsed(store, host, hour)
    found = run_health_rules(
        tables, host, expected_gpus=expected_gpus(store, host, hour, tables["gpu_samples"])
    )
    past = history(store, host, start)
    events = escalate(found, past)
    store.write(HEALTH_TABLE, host, hour, events)
    escalated = int(events["evidence"].str.contains("escalated_after_reboots", regex=False).sum())
    by_code = (
        events.groupby(["code", "severity"]).size().sort_values(ascending=False) if len(events) else None
    )
    return {
        "dagster/row_count": len(events),
        "dagster/column_schema": table_schema(events, "health_events"),
        "by_severity": dg.MetadataValue.json(
            {str(k): int(v) for k, v in events["severity"].value_counts().items()}
        ),
        "escalated": escalated,
        "history_events": len(past),
        "incident_worthy": int(events["severity"].isin(["fatal", "critical"]).sum()),
        "by_code": dg.MetadataValue.md(
            by_code.to_frame("events").to_markdown() if by_code is not None else "(no health events)"
        ),
        "gpus_named": dg.MetadataValue.json(sorted({int(i) for i in events["gpu_index"].dropna()})),
        "first_events": dg.MetadataValue.json(
            json.loads(
                events.head(5)[["ts", "code", "gpu_index", "action"]].to_json(
                    orient="records", date_format="iso"
                )
            )
        ),
    }
