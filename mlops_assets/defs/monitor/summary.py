"""Headline outputs for `mlops-assets demo`: champion, scores, incidents, drift report."""

import pandas as pd

from mlops_assets.defs.monitor.incident_reports import newest_report
from mlops_assets.environment import Settings
from mlops_assets.lib.registry import aliases as registry
from mlops_assets.lib.storage.partition_store import PartitionStore, exists, join, read_parquet


def demo_outputs(cfg: Settings, hosts: list[str], hour_keys: list[str]) -> dict[str, object]:
    store = PartitionStore(cfg.storage_root)
    scores = store.read_many("scores", hosts=hosts, keys=hour_keys)
    incidents_path = join(cfg.storage_root, "incidents", "incidents.parquet")
    drift = join(cfg.storage_root, "reports", "drift", "latest.html")
    return {
        "scores": scores
        if not scores.empty
        else pd.DataFrame(columns=["host", "window_start", "score", "is_anomaly"]),
        "champion_version": registry.alias_version(cfg.mlflow_tracking_uri, registry.CHAMPION),
        "incidents": len(read_parquet(incidents_path)) if exists(incidents_path) else 0,
        "drift_report": drift if exists(drift) else None,
        "incident_report": newest_report(cfg.storage_root),
    }
