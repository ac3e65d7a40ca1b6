"""Incidents of the learned layers: consecutive alarm windows of a host (and GPU) merged, named and actioned.

Each incident says what it is about (``kind``, from the family of its leading evidence), what to do
(``action``, in the health catalog's vocabulary) and which layer raised it. The kind is read from the
features that carried the alarm, never from anything the simulator knows.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter

import numpy as np
import pandas as pd

from mlops_assets.lib.contracts.tables import INCIDENTS, conform, empty_frame
from mlops_assets.lib.features.registry import DERIVED_BY_NAME, FEATURE_BY_NAME, per_gpu_base

REGISTRY = {**FEATURE_BY_NAME, **DERIVED_BY_NAME}  # the model's temperature excess is a GPU source

# (feature names or per-GPU bases, kind, action): first match of the incident's strongest feature wins
FAMILIES: tuple[tuple[tuple[str, ...], str, str], ...] = (
    (("xid_fatal",), "gpu_fatal_xid", "reset_gpu"),
    (("xid_memory", "ecc_new_errors"), "gpu_memory_errors", "hardware_inspection"),
    (("gpus_missing", "gpu_error_lines"), "gpu_missing", "reboot"),
    (("fan_min_pct", "gpu_fan_pct"), "gpu_fan", "hardware_inspection"),
    (
        ("gpu_temp_excess_c", "temp_max_c", "temp_gpu_spread_c", "throttle_thermal_samples"),
        "gpu_cooling",
        "hardware_inspection",
    ),
    (
        ("power_limit_min_w", "throttle_power_samples", "throttle_hw_slowdown_samples"),
        "gpu_power_limit",
        "none",
    ),
    (("oom_kills", "docker_ooms"), "out_of_memory", "restart_app"),
    (("hung_tasks", "soft_lockups", "nic_watchdog"), "kernel_hang", "reboot"),
    (("journal_disk_full", "docker_disk_full"), "disk_full", "free_disk"),
    (
        ("journal_unit_failures", "journal_unit_restarts", "journal_units_in_error"),
        "service_failing",
        "check_service",
    ),
    (
        (
            "docker_dies",
            "docker_nonzero_exits",
            "docker_starts",
            "docker_tracebacks",
            "docker_kills",
            "docker_unhealthy",
        ),
        "container_failing",
        "restart_app",
    ),
    (("journal_auth_failures",), "auth_failures", "none"),
    (("xid_app", "xid_other", "nvrm_lines"), "gpu_driver_messages", "none"),
)


def kind_of(feature: str) -> tuple[str, str]:
    """(kind, action) of an alarm led by ``feature``."""
    base = per_gpu_base(feature) or feature
    for names, kind, action in FAMILIES:
        if base in names:
            return kind, action
    if feature.startswith("tpl") or feature.startswith("journal_") or feature.startswith("log_"):
        return "log_novelty", "none"
    f = FEATURE_BY_NAME.get(feature)
    return ("telemetry" if f is not None and f.source == "gpu" else "unusual_combination"), "none"


def severity(max_score: float, windows: int, sources: int) -> str:
    points = (max_score >= 0.8) + (max_score >= 0.9) + (windows >= 5) + (windows >= 20) + (sources >= 2)
    return ("low", "medium", "high", "critical")[min(3, max(0, points - 1))]


def model_incidents(
    scores: pd.DataFrame, model_version: str = "", *, window: str = "1min", merge_gap: str = "3min"
) -> pd.DataFrame:
    """INCIDENTS rows from the alarm windows of ``scores`` (layers baseline/forest; health has its own)."""
    flagged = scores[scores["is_anomaly"].astype(bool)].sort_values(
        ["host", "window_start"], ignore_index=True
    )
    if flagged.empty:
        return empty_frame(INCIDENTS)
    w, gap = pd.Timedelta(window), pd.Timedelta(merge_gap)
    t = pd.to_datetime(flagged["window_start"], utc=True)
    host = flagged["host"].astype(str)
    new = (host != host.shift()) | ((t - t.shift()) > w + gap)
    groups = np.cumsum(new.to_numpy())
    rows = []
    for _, g in flagged.groupby(groups, sort=True):
        top: dict[str, dict] = {}
        for tf in g["top_features"]:
            for item in json.loads(tf or "[]"):
                cur = top.get(item["feature"])
                if cur is None or abs(item["contribution"]) > abs(cur["contribution"]):
                    top[item["feature"]] = item
        lead = sorted(top.values(), key=lambda i: -abs(i["contribution"]))[:5]
        kind, action = kind_of(lead[0]["feature"]) if lead else ("unusual_combination", "none")
        gpus = [int(x) for x in g["gpu_index"].dropna()] if "gpu_index" in g.columns else []
        gpu = Counter(gpus).most_common(1)[0][0] if gpus else None
        layers = Counter(str(x) for x in g["layer"].fillna("")) if "layer" in g.columns else Counter()
        layer = layers.most_common(1)[0][0] if layers else "baseline"
        start, end = pd.Timestamp(g["window_start"].iloc[0]), pd.Timestamp(g["window_start"].iloc[-1]) + w
        name = str(g["host"].iloc[0])
        sources = sorted(
            {(REGISTRY[f["feature"]].source if f["feature"] in REGISTRY else "logs") for f in lead}
        )
        where = f"{name} GPU {gpu}" if gpu is not None else name
        text = f"{where}: {kind.replace('_', ' ')} for {len(g)} min ({layer} layer); " + ", ".join(
            f"{i['feature']}={i['value']:g} (z {i['contribution']:+.1f})" for i in lead[:3]
        )
        rows.append(
            {
                "incident_id": hashlib.sha1(f"{name}|{start.isoformat()}".encode()).hexdigest()[:16],
                "host": name,
                "gpu_index": gpu,
                "layer": layer,
                "kind": kind,
                "action": action,
                "model_version": model_version,
                "start": start,
                "end": end,
                "severity": severity(float(g["score"].max()), len(g), len(sources)),
                "max_score": float(g["score"].max()),
                "windows": len(g),
                "sources": ";".join(sources),
                "evidence": json.dumps({"text": text, "top_features": lead, "sources": sources}),
            }
        )
    return conform(pd.DataFrame(rows), INCIDENTS)
