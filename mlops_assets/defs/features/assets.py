"""window_features: parsed tables of one host-hour -> fixed-schema window features + template counts.

Template ids come from matching (read-only) against the current `log_templates` miner, so features
never change the vocabulary; the miner's state_version is recorded in the metadata.
"""

import os
from collections.abc import Iterator
from datetime import timedelta

import dagster as dg
import pandas as pd

from mlops_assets.defs.fan_out import fan_out
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
from mlops_assets.lib.contracts.tables import TABLES
from mlops_assets.lib.features.registry import FEATURE_NAMES
from mlops_assets.lib.features.template_counts import assign_templates, build_template_counts
from mlops_assets.lib.features.windows import build_window_features
from mlops_assets.lib.storage.partition_store import exists
from mlops_assets.lib.templates.state import load_template_miner
from mlops_assets.resources import StorageResource

FEATURE_TABLE = "features"
TEMPLATE_COUNT_TABLE = "template_counts"
WINDOW = os.getenv("MLOPS_FEATURE_WINDOW", "1min")
PARSED_TABLES = (
    "gpu_samples",
    "gpu_errors",
    "journal_entries",
    "kernel_events",
    "docker_lines",
    "docker_events",
)


def read_parsed(store, host: str, hour: str) -> dict[str, pd.DataFrame]:
    """Every parsed table of a host-hour; a missing one is an error (the parse step did not run)."""
    tables = {}
    for name in PARSED_TABLES:
        path = store.path(name, host, hour)
        if not exists(path):
            raise FileNotFoundError(
                f"{name} for {host} {hour} not found at {path}: materialize the parsed_* assets first"
            )
        tables[name] = store.read(name, host, hour)
    return tables


def expected_gpus(store, host: str, hour: str, current: pd.DataFrame) -> int:
    """GPUs the host should report: the most seen in this or the previous hour (a GPU that fell off
    the bus for a whole hour is still counted as missing the hour after it was last seen)."""
    start, _ = window_of(hour)
    counts = [current["gpu_index"].nunique()]
    prev = (start - timedelta(hours=1)).strftime(HOURLY_FMT)
    if exists(store.path("gpu_samples", host, prev)):
        counts.append(store.read("gpu_samples", host, prev)["gpu_index"].nunique())
    env = os.getenv("MLOPS_EXPECTED_GPUS")
    return int(env) if env else int(max(counts))


def features_host_hour(store, miner, host: str, hour: str) -> dict[str, object]:
    """Window features + template counts of one host-hour, written to storage; returns its metadata."""
    start, end = window_of(hour)
    tables = assign_templates(read_parsed(store, host, hour), miner)
    feats = build_window_features(
        tables,
        host,
        start,
        end,
        window=WINDOW,
        expected_gpus=expected_gpus(store, host, hour, tables["gpu_samples"]),
    )
    counts = build_template_counts(tables, host, start, end, window=WINDOW)
    store.write(FEATURE_TABLE, host, hour, feats)
    store.write(TEMPLATE_COUNT_TABLE, host, hour, counts)
    unmatched = int(counts.loc[counts["template_id"].isna(), "count"].sum()) if len(counts) else 0
    busiest = feats[list(FEATURE_NAMES)].sum().sort_values(ascending=False).head(8)
    return {
        "dagster/row_count": len(feats),
        "dagster/column_schema": table_schema(feats, "features"),
        "template_rows": len(counts),
        "unmatched_messages": unmatched,
        "template_state_version": miner.state_version,
        "input_rows": dg.MetadataValue.json({t: len(tables[t]) for t in PARSED_TABLES if t in TABLES}),
        "largest_totals": dg.MetadataValue.md(busiest.to_frame("sum over windows").to_markdown()),
    }


@dg.asset(
    key="window_features",
    deps=[
        "parsed_gpu",
        "parsed_journal",
        "parsed_kernel",
        "parsed_docker_logs",
        "parsed_docker_events",
        "log_templates",
    ],
    partitions_def=host_hour_partitions,
    group_name="features",
    kinds={"pandas", "parquet"},
    owners=["team:ml-platform"],
    description=f"Per-host {WINDOW} window features (registry in lib/features/windows.py, units documented) and "
    "long template counts per window, one row per window even when it had no data.",
    op_tags=stage_tags("features"),
    backfill_policy=FLEET_BACKFILL,
)
def window_features(
    context: dg.AssetExecutionContext, storage: StorageResource
) -> Iterator[dg.MaterializeResult | dg.AssetMaterialization]:
    store = storage.store()
    miner = load_template_miner(storage.root)
    done = fan_out(
        context,
        host_hours(context),
        lambda host, hour: features_host_hour(store, miner, host, hour),
        processes=True,
    )
    if context.has_partition_key:
        ((metadata),) = done.results.values()
        yield dg.MaterializeResult(metadata=metadata)
        return
    # Range step: each host-hour's counts on its own event; the schema once (partitions.range_results).
    light = ("dagster/row_count", "template_rows", "unmatched_messages")
    yield from light_range_results(
        context,
        dg.AssetKey("window_features"),
        done,
        light,
        extra={"template_state_version": miner.state_version},
    )
    fail_range_step(done)
