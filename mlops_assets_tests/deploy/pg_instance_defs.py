"""A tiny code location for the PostgreSQL instance test: a partitioned asset, its check, a cursor sensor."""

# No `from __future__ import annotations`: Dagster inspects the real `context` annotation.
import dagster as dg

PARTITIONS = dg.DailyPartitionsDefinition(start_date="2026-01-01")


@dg.asset(partitions_def=PARTITIONS)
def gpu_hours(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
    return dg.MaterializeResult(metadata={"dagster/row_count": 8 * 24, "partition": context.partition_key})


@dg.asset_check(asset=gpu_hours)
def gpu_hours_complete(context: dg.AssetCheckExecutionContext) -> dg.AssetCheckResult:
    record = context.instance.fetch_materializations(gpu_hours.key, limit=1).records[0]
    rows = record.asset_materialization.metadata["dagster/row_count"].value
    return dg.AssetCheckResult(passed=rows == 192, metadata={"rows": rows})


@dg.sensor(minimum_interval_seconds=30, default_status=dg.DefaultSensorStatus.RUNNING)
def materialization_cursor_sensor(context: dg.SensorEvaluationContext) -> dg.SkipReason:
    """Remembers the newest materialization it has seen: the cursor must survive an instance restart."""
    seen = int(context.cursor or 0)
    records = context.instance.fetch_materializations(gpu_hours.key, limit=1).records
    newest = records[0].storage_id if records else seen
    context.update_cursor(str(max(seen, newest)))
    return dg.SkipReason(f"newest materialization storage id {newest}")


defs = dg.Definitions(
    assets=[gpu_hours], asset_checks=[gpu_hours_complete], sensors=[materialization_cursor_sensor]
)
