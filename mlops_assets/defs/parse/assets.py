"""parsed_* assets: raw bytes of a host-hour -> contract tables + quarantine, with quality checks.

The checks are emitted by the asset's own step (check_specs) because they judge exactly the
partition just parsed; the quarantine-rate check is blocking, so a flood of bad lines stops the
downstream features/scoring of that run.
"""

import os
import warnings

import dagster as dg
import pandas as pd

from mlops_assets.defs.fan_out import FanOut, fan_out
from mlops_assets.defs.ingest.assets import RAW_KEYS
from mlops_assets.defs.partitions import (
    FLEET_BACKFILL,
    check_events,
    fail_range_step,
    host_hour_partitions,
    host_hours,
    range_results,
)
from mlops_assets.defs.schema import table_schema
from mlops_assets.defs.tags import stage_tags
from mlops_assets.lib.contracts.raw import SOURCES
from mlops_assets.lib.contracts.tables import schema_mismatches
from mlops_assets.lib.parsing.bundle import SOURCE_TABLES, TABLE_SCHEMAS, parse_source
from mlops_assets.lib.parsing.quality import timestamp_order_violations
from mlops_assets.lib.storage.partition_store import read_raw_members
from mlops_assets.resources import StorageResource

OWNERS = ["team:sre"]
MAX_QUARANTINE_RATE = float(os.getenv("MLOPS_MAX_QUARANTINE_RATE", "0.01"))
# Sources interleave writers (several GPUs, containers): allow this much backwards jitter.
ORDER_TOLERANCE = {"gpu": "2s", "journal": "5s", "kernel": "5s", "docker_logs": "5s", "docker_events": "5s"}
PARSED_KEYS = {source: dg.AssetKey(f"parsed_{source}") for source in SOURCES}


def _check_specs(key: dg.AssetKey) -> list[dg.AssetCheckSpec]:
    """Partitioned like the asset, so each host-hour's verdict is recorded (and shown) on its own."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", dg.PreviewWarning)  # partitioned checks are "preview" in 1.13
        return [_spec(key, **kw) for kw in _CHECKS]


def _spec(key: dg.AssetKey, **kw) -> dg.AssetCheckSpec:
    return dg.AssetCheckSpec(asset=key, partitions_def=host_hour_partitions, **kw)


_CHECKS: list[dict] = [
    {
        "name": "quarantine_rate",
        "blocking": True,
        "description": f"Share of records quarantined stays <= {MAX_QUARANTINE_RATE:.1%} (blocking).",
    },
    {"name": "column_schema", "description": "Every table matches its data contract exactly."},
    {
        "name": "timestamps_in_order",
        "description": "Records do not go back in time beyond the source's tolerance.",
    },
]


def parse_host_hour(
    store, source: str, host: str, hour: str
) -> tuple[dict[str, object], list[dict[str, object]]]:
    """Parse one host-hour of ``source``: write its tables + quarantine; return metadata and check
    verdicts (AssetCheckResult keyword arguments: plain data, so it runs in a forked worker)."""
    main_table = SOURCE_TABLES[source][0]
    parsed = parse_source(source, read_raw_members(store, source, host, hour), host)
    for table, df in parsed.tables.items():
        store.write(table, host, hour, df)
    store.write(f"quarantine_{source}", host, hour, parsed.quarantine)
    main = parsed.tables[main_table]
    reasons = parsed.quarantine["reason"].value_counts().to_dict() if len(parsed.quarantine) else {}

    rate = parsed.quarantine_rate
    checks: list[dict[str, object]] = []
    checks.append(
        dict(
            check_name="quarantine_rate",
            passed=rate <= MAX_QUARANTINE_RATE,
            severity=dg.AssetCheckSeverity.ERROR,
            metadata={
                "rate": rate,
                "max_rate": MAX_QUARANTINE_RATE,
                "quarantined": len(parsed.quarantine),
                "rows": parsed.rows,
                "reasons": dg.MetadataValue.json({str(k): int(v) for k, v in reasons.items()}),
            },
        )
    )
    problems = [
        f"{t}: {p}" for t, df in parsed.tables.items() for p in schema_mismatches(df, TABLE_SCHEMAS[t])
    ]
    checks.append(
        dict(
            check_name="column_schema",
            passed=not problems,
            severity=dg.AssetCheckSeverity.ERROR,
            metadata={"problems": dg.MetadataValue.json(problems)},
        )
    )
    tolerance = pd.Timedelta(ORDER_TOLERANCE[source])
    group = "gpu_index" if source == "gpu" else ("container" if source == "docker_logs" else None)
    series = [g["ts"] for _, g in main.groupby(group, dropna=False)] if group and len(main) else [main["ts"]]
    violations = sum(timestamp_order_violations(s, tolerance) for s in series)
    checks.append(
        dict(
            check_name="timestamps_in_order",
            passed=violations == 0,
            severity=dg.AssetCheckSeverity.WARN,
            metadata={"violations": violations, "tolerance": str(tolerance)},
        )
    )
    ts = main["ts"].dropna()
    metadata: dict[str, object] = {
        "dagster/row_count": len(main),
        "dagster/column_schema": table_schema(main, main_table),
        "quarantined": len(parsed.quarantine),
        "quarantine_rate": rate,
        "records_in": parsed.records_in,
        "first_ts": ts.min().isoformat() if len(ts) else "none",
        "last_ts": ts.max().isoformat() if len(ts) else "none",
        **{f"rows/{t}": len(df) for t, df in parsed.tables.items()},
    }
    return metadata, checks


SCHEMA_KEY = "dagster/column_schema"


def without_schema(metadata: dict[str, object]) -> dict[str, object]:
    """A host-hour's metadata minus the table schema (identical for every host-hour: a range step
    records it once, see partitions.range_metadata)."""
    return {k: v for k, v in metadata.items() if k != SCHEMA_KEY}


def build_parse_asset(source: str) -> dg.AssetsDefinition:
    key = PARSED_KEYS[source]
    specs = _check_specs(key)
    by_name = {spec.name: spec for spec in specs}

    @dg.multi_asset(
        name=f"parsed_{source}",
        specs=[
            dg.AssetSpec(
                key,
                deps=[RAW_KEYS[source]],
                group_name="parse",
                kinds={"pandas", "parquet"},
                owners=OWNERS,
                description=f"Typed `{'`, `'.join(SOURCE_TABLES[source])}` table(s) parsed from raw_{source}; "
                "lines that cannot be parsed go to the quarantine table with a reason.",
            )
        ],
        partitions_def=host_hour_partitions,
        backfill_policy=FLEET_BACKFILL,
        can_subset=True,  # lets a range step record its check verdicts per partition (check_events)
        check_specs=specs,
        op_tags=stage_tags("parse"),
    )
    def _parse(context: dg.AssetExecutionContext, storage: StorageResource):
        store = storage.store()
        done = fan_out(
            context,
            host_hours(context),
            lambda host, hour: parse_host_hour(store, source, host, hour),
            processes=True,
        )
        if context.has_partition_key:
            ((metadata, _),) = done.results.values()
            yield dg.MaterializeResult(asset_key=key, metadata=metadata)
        else:
            yield from range_results(
                context,
                key,
                FanOut(results={k: md for k, (md, _) in done.results.items()}, failures=done.failures),
                without_schema,
                schema=next(iter(done.results.values()))[0][SCHEMA_KEY],
            )
        verdicts = {
            k: [dg.AssetCheckResult(**kw) for kw in checks] for k, (_, checks) in done.results.items()
        }
        events = check_events(context, key, verdicts, by_name)
        yield from events
        fail_range_step(done, events)

    return _parse


parse_assets = [build_parse_asset(source) for source in SOURCES]
