"""Partitions: host (dynamic, added by the discovery sensor) x hour, and the fleet-hour fan-out.

Every host x hour asset has ``BackfillPolicy.single_run()`` and accepts a partition *range*: a run
tagged with the range ``first_host|H .. last_host|H`` covers the rectangle of hosts x hours between
them (MultiPartitionsDefinition ranges are per-dimension products), so one run processes a whole
fleet-hour. Inside a step, :func:`fan_out` runs the per-host-hour work with bounded parallelism and
reports a host that fails by name without failing the others.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import dagster as dg
from dagster._core.definitions.asset_checks.asset_check_evaluation import (  # not re-exported
    AssetCheckEvaluationTargetMaterializationData,
)

from mlops_assets.environment import settings
from mlops_assets.lib.storage.keys import validate_host, validate_partition_key

HOURLY_FMT = "%Y-%m-%d-%H:%M"
RANGE_START_TAG = "dagster/asset_partition_range_start"
RANGE_END_TAG = "dagster/asset_partition_range_end"
PARALLELISM_ENV = "MLOPS_FLEET_PARALLELISM"

hosts_partitions = dg.DynamicPartitionsDefinition(name="hosts")
hourly_partitions = dg.HourlyPartitionsDefinition(start_date=settings().partitions_start, timezone="UTC")
host_hour_partitions = dg.MultiPartitionsDefinition({"host": hosts_partitions, "hour": hourly_partitions})
# One run may cover many host-hours (a fleet-hour, or a catch-up rectangle): the step loops over them.
FLEET_BACKFILL = dg.BackfillPolicy.single_run()

T = TypeVar("T")


def host_hour_key(host: str, hour_start: datetime) -> dg.MultiPartitionKey:
    return dg.MultiPartitionKey({"host": host, "hour": hour_start.astimezone(UTC).strftime(HOURLY_FMT)})


def window_of(hour_key: str) -> tuple[datetime, datetime]:
    """[start, end) of an hourly partition key, UTC."""
    start = datetime.strptime(hour_key, HOURLY_FMT).replace(tzinfo=UTC)
    return start, start + timedelta(hours=1)


def split_key(context: dg.AssetExecutionContext | dg.AssetCheckExecutionContext) -> tuple[str, str]:
    """(host, hour key) of the partition being materialized (single-partition runs only).

    A host partition can be added by hand (UI, GraphQL, ``add_dynamic_partitions``), so the names are
    validated here, before any source is contacted or any file is written.
    """
    key = context.partition_key
    if not isinstance(key, dg.MultiPartitionKey):
        raise TypeError(f"expected a host x hour partition key, got {key!r}")
    dims = key.keys_by_dimension
    return validate_host(dims["host"]), validate_partition_key(dims["hour"])


def host_hours(context: dg.AssetExecutionContext) -> list[tuple[str, str]]:
    """(host, hour key) of every partition this step materializes, hour-major: one for a host-hour
    run, every host x hour of the rectangle for a fleet-hour (range) run."""
    out = []
    for key in context.partition_keys:
        mk = (
            key
            if isinstance(key, dg.MultiPartitionKey)
            else host_hour_partitions.get_partition_key_from_str(key)
        )
        dims = mk.keys_by_dimension
        out.append((validate_host(dims["host"]), validate_partition_key(dims["hour"])))
    return sorted(out, key=lambda hk: (hk[1], hk[0]))


def partition_str(host: str, hour: str) -> str:
    return str(dg.MultiPartitionKey({"host": host, "hour": hour}))


def fleet_range_tags(first_host: str, last_host: str, first_hour: str, last_hour: str) -> dict[str, str]:
    """Run tags selecting hosts first..last (registration order) x hours first..last."""
    return {
        RANGE_START_TAG: partition_str(first_host, first_hour),
        RANGE_END_TAG: partition_str(last_host, last_hour),
    }


def fleet_parallelism() -> int:
    raw = os.getenv(PARALLELISM_ENV, "4")
    if not raw.strip().isdigit() or int(raw) < 1:
        raise ValueError(f"{PARALLELISM_ENV} must be a positive integer, got {raw!r}")
    return int(raw)


@dataclass
class FanOut:
    """Per host-hour results of one step, and the host-hours that failed with their error."""

    results: dict[tuple[str, str], Any] = field(default_factory=dict)
    failures: dict[tuple[str, str], str] = field(default_factory=dict)

    def failure_metadata(self) -> dict[str, str]:
        return {partition_str(h, k): err for (h, k), err in sorted(self.failures.items())}


def fan_out(
    context: dg.AssetExecutionContext,
    keys: Sequence[tuple[str, str]],
    work: Callable[[str, str], T],
    parallelism: int | None = None,
) -> FanOut:
    """Run ``work(host, hour)`` for every key: hosts concurrently (at most ``parallelism``), each
    host's hours in order (a source's cursor resumes from the previous hour).

    A host-hour that raises is logged and reported by name; the others finish. When every key
    failed there is nothing to materialize, so the step fails with all the errors.
    """
    out = FanOut()
    by_host: dict[str, list[tuple[str, str]]] = {}
    for key in keys:
        by_host.setdefault(key[0], []).append(key)
    workers = max(1, min(parallelism or fleet_parallelism(), len(by_host)))

    errors: dict[tuple[str, str], Exception] = {}

    def guarded(key: tuple[str, str]) -> tuple[tuple[str, str], Any, str | None]:
        try:
            return key, work(*key), None
        except Exception as exc:  # noqa: BLE001 - one host's failure is reported by name, never hidden
            errors[key] = exc
            return key, None, f"{type(exc).__name__}: {exc}"

    def host_run(host_keys: list[tuple[str, str]]) -> list[tuple[tuple[str, str], Any, str | None]]:
        return [guarded(k) for k in sorted(host_keys, key=lambda hk: hk[1])]

    if workers == 1:
        done = [r for ks in by_host.values() for r in host_run(ks)]
    else:
        with ThreadPoolExecutor(workers) as pool:
            done = [r for rs in pool.map(host_run, by_host.values()) for r in rs]
    for key, value, error in done:
        if error is None:
            out.results[key] = value
        else:
            out.failures[key] = error
            context.log.error(f"{key[0]} {key[1]} failed: {error}")
    if len(keys) == 1 and out.failures:
        raise errors[keys[0]]  # a single host-hour run fails exactly as its work did
    if not out.results and out.failures:
        listed = "; ".join(f"{h} {k}: {e}" for (h, k), e in sorted(out.failures.items()))
        raise RuntimeError(f"every host-hour of this step failed: {listed}")
    return out


def _target_materialization(
    instance: dg.DagsterInstance, asset_key: dg.AssetKey, partition: str
) -> AssetCheckEvaluationTargetMaterializationData | None:
    """The materialization a verdict judges; without it the automation's `check_passed` treats the
    verdict as not about the current data (and all_deps_blocking_checks_passed stays false).
    Called after the step yielded its MaterializeResult, so the record exists (as AssetCheckResult
    itself looks it up)."""
    records = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=asset_key, asset_partitions=[partition]), limit=1
    ).records
    if not records:
        return None
    mat = records[0]
    return AssetCheckEvaluationTargetMaterializationData(
        run_id=mat.event_log_entry.run_id, storage_id=mat.storage_id, timestamp=mat.timestamp
    )


def check_events(
    context: dg.AssetExecutionContext,
    asset_key: dg.AssetKey,
    per_key: dict[tuple[str, str], list[dg.AssetCheckResult]],
    specs: dict[str, dg.AssetCheckSpec],
) -> list[dg.AssetCheckResult | dg.AssetCheckEvaluation]:
    """Check verdicts, recorded per host-hour partition.

    A single-partition run yields the results as they are. A range step has no single partition to
    attach a result to, so each verdict becomes an AssetCheckEvaluation naming its partition (a failed
    blocking one still fails the step after every host-hour was processed, as Dagster does).
    """
    if context.has_partition_key:
        return [r for results in per_key.values() for r in results]
    events: list[dg.AssetCheckResult | dg.AssetCheckEvaluation] = []
    for (host, hour), results in sorted(per_key.items(), key=lambda kv: (kv[0][1], kv[0][0])):
        target = _target_materialization(context.instance, asset_key, partition_str(host, hour))
        for r in results:
            name = str(r.check_name)
            events.append(
                dg.AssetCheckEvaluation(
                    asset_key=asset_key,
                    check_name=name,
                    passed=r.passed,
                    metadata=r.metadata,
                    severity=r.severity,
                    description=r.description,
                    blocking=specs[name].blocking,
                    partition=partition_str(host, hour),
                    target_materialization_data=target,
                )
            )
    return events
