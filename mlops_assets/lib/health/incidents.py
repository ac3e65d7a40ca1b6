"""Health incidents: every fatal/critical health event becomes part of an incident, no model needed.

One incident per host x GPU (index, else PCI bus) x code burst: events of the same key closer than
:data:`HEALTH_GAP` join. Incidents start at the minute of their first event, so a burst is an incident
within its first minute; the evidence names the GPU, the code, its meaning and the action.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pandas as pd

from mlops_assets.lib.contracts.tables import HEALTH_EVENTS, INCIDENTS, conform, empty_frame
from mlops_assets.lib.health.catalog import ACTION_RANK, ACTION_TEXT
from mlops_assets.lib.monitor.incident_ids import incident_id, window_start

HEALTH_GAP = pd.Timedelta("10min")
INCIDENT_SEVERITIES = ("fatal", "critical")
MAX_SAMPLE_LINES = 10


def _gpu_key(row: dict[str, Any]) -> str:
    if not pd.isna(row["gpu_index"]):
        return f"gpu{int(row['gpu_index'])}"
    return str(row["pci_bus"]) if not pd.isna(row["pci_bus"]) else ""


def _first(values: pd.Series) -> Any:
    v = values.dropna()
    return v.iloc[0] if len(v) else None


def health_incidents(events: pd.DataFrame) -> pd.DataFrame:
    """INCIDENTS rows (layer "health", severity "critical") from the fatal/critical health events."""
    ev = conform(events, HEALTH_EVENTS) if len(events) else empty_frame(HEALTH_EVENTS)
    ev = ev[ev["severity"].isin(INCIDENT_SEVERITIES)].copy()
    if ev.empty:
        return empty_frame(INCIDENTS)
    ev["key"] = [_gpu_key(r) for r in ev[["gpu_index", "pci_bus"]].to_dict("records")]
    ev = ev.sort_values(["host", "key", "code", "ts"], kind="stable", ignore_index=True)
    t = pd.to_datetime(ev["ts"], utc=True)
    same = (
        (ev["host"] == ev["host"].shift())
        & (ev["key"] == ev["key"].shift())
        & (ev["code"] == ev["code"].shift())
    )
    new = ~same.fillna(False) | ((t - t.shift()) > HEALTH_GAP).fillna(True)
    ev["burst"] = np.cumsum(new.to_numpy())
    rows = [_incident(g) for _, g in ev.groupby("burst", sort=True)]
    return conform(pd.DataFrame(rows), INCIDENTS)


def _incident(g: pd.DataFrame) -> dict[str, Any]:
    t = pd.to_datetime(g["ts"], utc=True)
    start, end = t.min().floor("1min"), t.max().floor("1min") + pd.Timedelta(minutes=1)
    host, code = str(g["host"].iloc[0]), str(g["code"].iloc[0])
    action = max(g["action"].astype(str), key=lambda a: ACTION_RANK.get(a, 0))
    index, uuid, pci = _first(g["gpu_index"]), _first(g["gpu_uuid"]), _first(g["pci_bus"])
    details = [json.loads(e) for e in g["evidence"] if isinstance(e, str)]
    lines = list(dict.fromkeys(d["line"] for d in details if d.get("line")))[:MAX_SAMPLE_LINES]
    sources = sorted(
        {str(d.get("source")) for d in details if d.get("source")} or {str(g["component"].iloc[0])}
    )
    gpu = {"index": None if index is None else int(index), "uuid": uuid, "pci_bus": pci}
    evidence = {
        "layer": "health",
        "code": code,
        "component": str(g["component"].iloc[0]),
        "meaning": str(g["message"].iloc[0]),
        "action": action,
        "action_text": ACTION_TEXT.get(action, action),
        "gpu": gpu,
        "events": len(g),
        "event_severities": {str(k): int(v) for k, v in g["severity"].value_counts().items()},
        "escalated": bool(g["message"].astype(str).str.contains("escalated to hardware inspection").any()),
        "boot_ids": sorted({str(b) for b in g["boot_id"].dropna()}),
        "sample_lines": lines,
        "sources": sources,
    }
    return {
        # the id the minute-level fast path gives the same burst, so it is notified once
        "incident_id": incident_id(
            host, window_start(start), code, str(int(index)) if index is not None else pci or ""
        ),
        "host": host,
        "gpu_index": gpu["index"],
        "gpu_uuid": uuid,
        "pci_bus": pci,
        "layer": "health",
        "kind": code,
        "action": action,
        "model_version": None,
        "start": start,
        "end": end,
        "severity": "critical",
        "max_score": np.nan,
        "windows": int(t.dt.floor("1min").nunique()),
        "sources": ";".join(sources),
        "evidence": json.dumps(evidence, sort_keys=True, default=str),
    }
