"""raw_* assets: one collection per host x hour, every source in one connection, stored verbatim."""

import hashlib

import dagster as dg

from mlops_assets.defs.partitions import host_hour_partitions, split_key, window_of
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
    op_tags=stage_tags("collect"),
)
def raw_logs(context: dg.AssetExecutionContext, log_source: LogSourceResource, storage: StorageResource):
    """Collect one host-hour from every selected source and store each source's bytes atomically.

    The source's cursors advance (commit) only after all selected sources are written.
    """
    host, hour = split_key(context)
    start, end = window_of(hour)
    wanted = [s for s in SOURCES if RAW_KEYS[s] in context.selected_asset_keys]
    source = log_source.source()
    bundle = source.fetch(host, start, end, wanted)
    store = storage.store()
    results = []
    for src in wanted:
        members = bundle.get(src, {})
        path = write_raw_members(store, src, host, hour, members)
        size = sum(len(b) for b in members.values())
        lines = sum(b.count(b"\n") for b in members.values())
        digest = hashlib.sha256(b"".join(members[m] for m in sorted(members))).hexdigest()[:16]
        results.append(
            dg.MaterializeResult(
                asset_key=RAW_KEYS[src],
                metadata={
                    "bytes": size,
                    "lines": lines,
                    "members": dg.MetadataValue.json(sorted(members)),
                    "sha256_16": digest,
                    "path": dg.MetadataValue.path(path),
                    "window": f"[{start.isoformat()}, {end.isoformat()})",
                },
                data_version=dg.DataVersion(digest),
            )
        )
    source.commit(host, start, end, bundle)
    yield from results
