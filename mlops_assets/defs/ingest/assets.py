"""raw_* assets: one collection per host x hour, every source in one connection, stored verbatim."""

import hashlib

import dagster as dg

from mlops_assets.defs.fan_out import FanOut, fan_out
from mlops_assets.defs.ingest.freshness import freshness_result, freshness_spec, registered_hosts
from mlops_assets.defs.partitions import (
    FLEET_BACKFILL,
    fail_range_step,
    host_hour_partitions,
    host_hours,
    range_results,
    window_of,
)
from mlops_assets.defs.tags import stage_tags
from mlops_assets.lib.contracts.raw import SOURCES
from mlops_assets.lib.storage.partition_store import write_raw_members
from mlops_assets.resources import LogSourceResource, StorageResource

OWNERS = ["team:sre"]
RAW_DESCRIPTIONS = {
    "gpu": "nvidia-smi --query-gpu ... --format=csv,nounits samples of the hour, verbatim.",
    "journal": "journalctl -o json entries of the hour (resumed from the stored __CURSOR over SSH).",
    "kernel": "journalctl -k -o json kernel entries of the hour (NVRM Xid lines are GPU faults).",
    "docker_logs": "docker logs --timestamps of every container, stdout and stderr kept apart.",
    "docker_events": "docker events (die/oom/restart/kill/health_status) and docker ps -a of the hour.",
}
RAW_KEYS = {source: dg.AssetKey(f"raw_{source}") for source in SOURCES}


@dg.multi_asset(
    name="raw_logs",
    specs=[
        dg.AssetSpec(
            RAW_KEYS[source],
            description=RAW_DESCRIPTIONS[source],
            group_name="ingest",
            kinds={"ssh", "file"},
            owners=OWNERS,
            skippable=True,
        )
        for source in SOURCES
    ],
    partitions_def=host_hour_partitions,
    can_subset=True,
    check_specs=[freshness_spec(RAW_KEYS[source]) for source in SOURCES],
    backfill_policy=FLEET_BACKFILL,
    op_tags=stage_tags("collect"),
)
def raw_logs(context: dg.AssetExecutionContext, log_source: LogSourceResource, storage: StorageResource):
    """Collect every selected source of each host-hour of the run and store each source's bytes atomically.

    A host's cursors advance (commit) only after all its selected sources are written. In a fleet-hour
    run the hosts are fetched concurrently (bounded); a host that fails is named and the others land.
    """
    wanted = [s for s in SOURCES if RAW_KEYS[s] in context.selected_asset_keys]
    source = log_source.source()
    store = storage.store()

    def collect(host: str, hour: str) -> dict[str, dict]:
        start, end = window_of(hour)
        bundle = source.fetch(host, start, end, wanted)
        stats = {}
        for src in wanted:
            members = bundle.get(src, {})
            path = write_raw_members(store, src, host, hour, members)
            stats[src] = {
                "bytes": sum(len(b) for b in members.values()),
                "lines": sum(b.count(b"\n") for b in members.values()),
                "members": sorted(members),
                "sha256_16": hashlib.sha256(b"".join(members[m] for m in sorted(members))).hexdigest()[:16],
                "path": path,
                "window": f"[{start.isoformat()}, {end.isoformat()})",
            }
        source.commit(host, start, end, bundle)
        return stats

    done = fan_out(context, host_hours(context), collect)
    single = context.has_partition_key
    for src in wanted:
        per = {k: v[src] for k, v in done.results.items()}
        if single:
            (stats,) = per.values()
            metadata = {
                **stats,
                "members": dg.MetadataValue.json(stats["members"]),
                "path": dg.MetadataValue.path(stats["path"]),
            }
            yield dg.MaterializeResult(
                asset_key=RAW_KEYS[src], metadata=metadata, data_version=dg.DataVersion(stats["sha256_16"])
            )
            continue
        # Range step: each host-hour's counts and path on its own event; a failed one has none.
        yield from range_results(
            context,
            RAW_KEYS[src],
            FanOut(results=per, failures=done.failures),
            lambda st: {
                "bytes": st["bytes"],
                "lines": st["lines"],
                "sha256_16": st["sha256_16"],
                "path": dg.MetadataValue.path(st["path"]),
            },
        )
    hosts = registered_hosts(context.instance)
    for src in wanted:
        if dg.AssetCheckKey(RAW_KEYS[src], "raw_freshness") in context.selected_asset_check_keys:
            yield freshness_result(store, src, RAW_KEYS[src], hosts)
    fail_range_step(done)
