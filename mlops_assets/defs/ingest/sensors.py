"""Ingest sensors: register hosts as dynamic partitions, and request host x hour collections when a
host has new data.

- ``host_discovery_sensor`` adds the hosts the configured LogSource knows (hosts.yaml for ssh, the
  landing folder for directory). Hosts that disappear (or are marked ``retired``) are removed only
  when MLOPS_PRUNE_RETIRED_HOSTS=1: deleting a partition hides its history, so it is never implicit.
- ``new_data_sensor`` probes every registered host cheaply and, for each COMPLETE hour (end <= the
  probe's newest record) not requested yet, requests ONE run per fleet-hour: raw_* and every host x
  hour asset downstream (parse -> features / health events -> scores) for all hosts with that hour,
  as a partition range hosts first..last x hour (hosts split only where the registration order has a
  gap). Catch-up hours (the first-time MLOPS_SENSOR_BACKFILL_HOURS backfill, an outage) are requested
  the same way, oldest first, so every collected host-hour is processed whatever its age. run_keys
  carry (hour, hosts, probe fingerprints), so a reset cursor re-collects an hour only if a host's data
  changed (run_keys dedupe forever). A host that is down is reported by name with its error and never
  blocks the others.
"""

from __future__ import annotations

import hashlib
import json
import os
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import dagster as dg

from mlops_assets.defs.partitions import (
    HOURLY_FMT,
    fleet_range_tags,
    host_hour_key,
    host_hour_partitions,
    hosts_partitions,
    hourly_partitions,
)
from mlops_assets.lib.contracts.raw import SOURCES
from mlops_assets.lib.storage.keys import HOST_NAME_RULE, is_valid_host
from mlops_assets.resources import LogSourceResource
from mlops_assets.sources.base import HostProbe, LogSource

RAW_ASSET_KEYS = [dg.AssetKey(f"raw_{source}") for source in SOURCES]
HOUR = timedelta(hours=1)
PROBE_PARALLELISM = 8


def _env_int(name: str, default: int) -> int:
    value = os.getenv(name, str(default))
    try:
        parsed = int(value)
    except ValueError:
        raise ValueError(f"{name} must be an integer, got {value!r}") from None
    if parsed < 1:
        raise ValueError(f"{name} must be >= 1, got {parsed}")
    return parsed


def backfill_hours() -> int:
    return _env_int("MLOPS_SENSOR_BACKFILL_HOURS", 24)


def max_runs_per_host() -> int:
    return _env_int("MLOPS_SENSOR_MAX_RUNS_PER_HOST", 24)


def prune_enabled() -> bool:
    return os.getenv("MLOPS_PRUNE_RETIRED_HOSTS", "0").strip().lower() in ("1", "true", "yes")


@dg.sensor(
    name="host_discovery_sensor",
    minimum_interval_seconds=300,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Registers the log source's hosts as `hosts` partitions (removal only with MLOPS_PRUNE_RETIRED_HOSTS=1).",
)
def host_discovery_sensor(
    context: dg.SensorEvaluationContext, log_source: LogSourceResource
) -> dg.SensorResult | dg.SkipReason:
    configured = log_source.source().hosts()
    invalid = [h for h in configured if not is_valid_host(h)]
    if invalid:
        context.log.warning(f"not registering hosts with unusable names {invalid} (must be {HOST_NAME_RULE})")
    wanted = {h for h in configured if is_valid_host(h)}
    known = set(context.instance.get_dynamic_partitions(hosts_partitions.name))
    requests: list[dg.AddDynamicPartitionsRequest | dg.DeleteDynamicPartitionsRequest] = []
    new = sorted(wanted - known)
    if new:
        requests.append(hosts_partitions.build_add_request(new))
    gone = sorted(known - wanted)
    if gone and prune_enabled():
        requests.append(hosts_partitions.build_delete_request(gone))
    if not requests:
        kept = (
            f"; {len(gone)} no longer configured, kept (set MLOPS_PRUNE_RETIRED_HOSTS=1 to remove): {gone}"
            if gone
            else ""
        )
        return dg.SkipReason(f"no new hosts ({len(known)} registered){kept}")
    return dg.SensorResult(dynamic_partitions_requests=requests)


def _probe(source: LogSource, host: str) -> HostProbe:
    try:
        return source.probe(host)
    except Exception as exc:  # noqa: BLE001 - probe() must not raise; if it does, report it by host
        return HostProbe(host, False, None, "", error=f"probe raised {type(exc).__name__}: {exc}")


def hours_to_request(
    probe: HostProbe, next_start: datetime | None, first_allowed: datetime, backfill: int, limit: int
) -> list[datetime]:
    """Starts of the complete hours not yet requested, oldest first, at most ``limit``."""
    if probe.latest_ts is None:
        return []
    latest = probe.latest_ts.astimezone(UTC)
    last_start = latest.replace(minute=0, second=0, microsecond=0) - HOUR  # its end <= latest
    if next_start is None:
        next_start = last_start - (backfill - 1) * HOUR
    start = max(next_start, first_allowed)
    hours = []
    while start <= last_start and len(hours) < limit:
        hours.append(start)
        start += HOUR
    return hours


def newest_collected_hours(instance: dg.DagsterInstance) -> dict[str, datetime]:
    """host -> start of the newest hour whose raw data is already materialized (by any run)."""
    newest: dict[str, datetime] = {}
    for key in instance.get_materialized_partitions(RAW_ASSET_KEYS[0]):
        host, _, hour = str(key).partition("|")
        start = datetime.strptime(hour, HOURLY_FMT).replace(tzinfo=UTC)
        if host not in newest or start > newest[host]:
            newest[host] = start
    return newest


def pipeline_keys(context: dg.SensorEvaluationContext) -> list[dg.AssetKey]:
    """raw_* plus every host x hour asset downstream of them in this code location, so one fleet-hour
    run goes collect -> parse -> features / health events -> scores.

    An asset joins only when its other (unpartitioned) parents exist: features need a mined
    log_templates, scores a deployed champion. Until then CATCH_UP (defs/automation.py) processes the
    backlog as soon as that parent first materializes.
    """
    repo = context.repository_def
    if repo is None:
        return list(RAW_ASSET_KEYS)
    graph = repo.asset_graph
    present: dict[dg.AssetKey, bool] = {}

    def ready(parent: dg.AssetKey) -> bool:
        if parent not in present:
            present[parent] = context.instance.get_latest_materialization_event(parent) is not None
        return present[parent]

    keys = set(RAW_ASSET_KEYS)
    frontier = list(RAW_ASSET_KEYS)
    while frontier:
        for child in sorted(graph.get(frontier.pop()).child_keys):
            node = graph.get(child)
            if child in keys or node.partitions_def != host_hour_partitions or not node.is_materializable:
                continue
            others = [p for p in node.parent_keys if graph.get(p).partitions_def is None]
            siblings = [p for p in node.parent_keys if graph.get(p).partitions_def == host_hour_partitions]
            if all(p in keys for p in siblings) and all(ready(p) for p in others):
                keys.add(child)
                frontier.append(child)
    return sorted(keys, key=lambda k: k.to_user_string())


def contiguous(hosts: set[str], order: list[str]) -> list[list[str]]:
    """``hosts`` split into runs of consecutive hosts in registration order (a range is a rectangle)."""
    segments: list[list[str]] = []
    current: list[str] = []
    for host in order:
        if host in hosts:
            current.append(host)
        elif current:
            segments.append(current)
            current = []
    if current:
        segments.append(current)
    return segments


def fleet_hour_requests(
    wanted: dict[str, list[datetime]],
    order: list[str],
    fingerprints: dict[str, str],
    selection: list[dg.AssetKey],
) -> list[dg.RunRequest]:
    """One run per fleet-hour (oldest hour first) covering every host with that hour complete."""
    by_hour: dict[datetime, set[str]] = {}
    for host, hours in wanted.items():
        for hour in hours:
            by_hour.setdefault(hour, set()).add(host)
    requests = []
    for hour in sorted(by_hour):
        hour_key = hour.strftime(HOURLY_FMT)
        for seg in contiguous(by_hour[hour], order):
            identity = ",".join(f"{h}={fingerprints[h]}" for h in seg)
            digest = hashlib.sha1(identity.encode()).hexdigest()[:12]
            tags = {"mlops/fleet_hour": hour_key, "mlops/hosts": str(len(seg)), "mlops/probe_digest": digest}
            if len(seg) == 1:
                request = dg.RunRequest(
                    run_key=f"fleet:{hour_key}:{seg[0]}:{digest}",
                    partition_key=host_hour_key(seg[0], hour),
                    asset_selection=selection,
                    tags={**tags, "mlops/host": seg[0]},
                )
            else:
                request = dg.RunRequest(
                    run_key=f"fleet:{hour_key}:{seg[0]}..{seg[-1]}:{digest}",
                    asset_selection=selection,
                    tags={**tags, **fleet_range_tags(seg[0], seg[-1], hour_key, hour_key)},
                )
            requests.append(request)
    return requests


def plan_runs(context: dg.SensorEvaluationContext, source: LogSource) -> dg.SensorResult:
    state: dict[str, str] = json.loads(context.cursor) if context.cursor else {}
    registered = list(context.instance.get_dynamic_partitions(hosts_partitions.name))  # range order
    first_allowed = hourly_partitions.start.astimezone(UTC)
    backfill, limit = backfill_hours(), max_runs_per_host()
    problems: list[str] = []
    # Probe concurrently: one host that hangs until its connect timeout must not eat the tick.
    with ThreadPoolExecutor(max(1, min(PROBE_PARALLELISM, len(registered)))) as pool:
        probes = dict(zip(registered, pool.map(lambda h: _probe(source, h), registered), strict=True))
    collected = newest_collected_hours(context.instance) if any(h not in state for h in registered) else {}
    wanted: dict[str, list[datetime]] = {}
    for host in registered:
        probe = probes[host]
        if not probe.reachable:
            problems.append(f"host {host} unreachable: {probe.error}")
            continue
        if probe.latest_ts is None:
            problems.append(f"host {host} has no data yet")
            continue
        # A host without a cursor starts after what is already collected (e.g. by `make demo`).
        if host in state:
            nxt = datetime.fromisoformat(state[host])
        else:
            nxt = collected[host] + HOUR if host in collected else None
        hours = hours_to_request(probe, nxt, first_allowed, backfill, limit)
        if hours:
            wanted[host] = hours
            state[host] = (hours[-1] + HOUR).isoformat()
    fingerprints = {h: probes[h].fingerprint for h in wanted}
    requests = fleet_hour_requests(wanted, registered, fingerprints, pipeline_keys(context)) if wanted else []
    cursor = json.dumps(state, sort_keys=True)
    if not requests:
        reason = (
            "; ".join(problems)
            if problems
            else f"no new complete hours on {len(registered)} registered hosts"
        )
        return dg.SensorResult(skip_reason=reason, cursor=cursor)
    for problem in problems:  # a SensorResult cannot carry both runs and a skip reason
        context.log.warning(problem)
    return dg.SensorResult(run_requests=requests, cursor=cursor)


@dg.sensor(
    name="new_data_sensor",
    minimum_interval_seconds=120,
    default_status=dg.DefaultSensorStatus.RUNNING,
    # The fleet-hour run also targets the parse -> features -> scores assets downstream of raw_*.
    asset_selection=dg.AssetSelection.assets(*RAW_ASSET_KEYS).downstream(),
    description="One run per complete new fleet-hour: collect -> parse -> features -> scores for every host "
    "with that hour (probe-based, bounded backfill).",
)
def new_data_sensor(context: dg.SensorEvaluationContext, log_source: LogSourceResource) -> dg.SensorResult:
    return plan_runs(context, log_source.source())


ingest_sensors: list[dg.SensorDefinition] = [host_discovery_sensor, new_data_sensor]
