"""What `mlops-assets backtest` writes: scores.csv, incidents.csv (atomically) and the JSON summary."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pandas as pd


def summarize(
    scores: pd.DataFrame, incidents: pd.DataFrame, model: Any, labels: pd.DataFrame | None
) -> dict[str, Any]:
    """The JSON summary (one dict, so gate options can add their keys to it)."""
    from mlops_assets.lib.detect.alarm_budget import alarm_groups
    from mlops_assets.lib.evaluate.detections import evaluate_detections

    s = scores.sort_values(["host", "window_start"], ignore_index=True)
    flag = s["is_anomaly"].to_numpy(dtype=bool)
    host_days = len(s) / 1440.0
    layer = s.loc[flag, "layer"].fillna("").astype(str).value_counts().to_dict() if "layer" in s else {}
    out: dict[str, Any] = {
        "windows": len(s),
        "hosts": sorted(s["host"].astype(str).unique().tolist()),
        "host_days": round(host_days, 3),
        "alarm_minutes_share": round(float(flag.mean()) if len(s) else 0.0, 5),
        "alarm_groups_per_host_day": round(
            alarm_groups(s["host"].astype(str).to_numpy(), flag, model.params.alarm_merge_gap_windows)
            / host_days,
            3,
        )
        if host_days
        else 0.0,
        "alarm_windows_by_layer": {str(k): int(v) for k, v in layer.items()},
        "incidents": len(incidents),
        "incidents_by_kind": {str(k): int(v) for k, v in incidents["kind"].value_counts().items()},
        "health_only_hosts": list(model.training.get("health_only_hosts", [])),
        "health_only_reasons": dict(model.training.get("health_only_reasons", {})),
        "incidents_by_layer": {str(k): int(v) for k, v in incidents["layer"].value_counts().items()},
    }
    if labels is not None:
        ev = evaluate_detections(scores, labels)
        ttd: dict[str, list[float]] = {}
        for e in ev["events"]:
            if e["minutes_to_detect"] is not None:
                ttd.setdefault(e["fault"], []).append(e["minutes_to_detect"])
        out.update(
            {
                "labels": ev["events_total"],
                "recall_by_fault": {k: round(v, 3) for k, v in ev["event_recall_by_fault"].items()},
                "minutes_to_detect_by_fault": {
                    k: round(float(pd.Series(v).median()), 1) for k, v in ttd.items()
                },
                "median_minutes_to_detect": ev["median_minutes_to_detect"],
                "false_alarms": ev["false_alarms"],
                "false_alarms_per_host_day": round(ev["false_alarms_per_host_day"], 3),
                "events": ev["events"],
            }
        )
    return out


def write_csv(df: pd.DataFrame, path: Path) -> None:
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    df.to_csv(tmp, index=False)
    os.replace(tmp, path)


def scores_csv(scores: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "host": scores["host"],
            "window_start": pd.to_datetime(scores["window_start"], utc=True).dt.strftime(
                "%Y-%m-%dT%H:%M:%SZ"
            ),
            "score": scores["score"].round(5),
            "is_anomaly": scores["is_anomaly"].astype(int),
            "top_features": scores["top_features"],
            "layer": scores["layer"] if "layer" in scores else "",
            "gpu_index": scores["gpu_index"] if "gpu_index" in scores else pd.NA,
        }
    )


def _summary_text(evidence: str | None) -> str:
    """One line: a health incident's GPU, code, meaning and action; a model incident's own text."""
    from mlops_assets.lib.health.explain import health_hypothesis

    ev = json.loads(evidence or "{}")
    hyp = health_hypothesis(ev)
    return f"{hyp['cause']}: {hyp['impact']} {hyp['immediate_actions'][0]}" if hyp else ev.get("text", "")


def incidents_csv(incidents: pd.DataFrame) -> pd.DataFrame:
    iso = lambda s: pd.to_datetime(s, utc=True).dt.strftime("%Y-%m-%dT%H:%M:%SZ")  # noqa: E731
    return pd.DataFrame(
        {
            "incident_id": incidents["incident_id"],
            "host": incidents["host"],
            "gpu": incidents["gpu_index"],
            "start": iso(incidents["start"]),
            "end": iso(incidents["end"]),
            "severity": incidents["severity"],
            "kind": incidents["kind"],
            "action": incidents["action"],
            "layer": incidents["layer"],
            "windows": incidents["windows"],
            "max_score": incidents["max_score"].round(4),
            "summary": [_summary_text(e) for e in incidents["evidence"]],
        }
    )
