"""Critical events of the parsed tables: what explains an alarm, and the rules-only baseline detector.

With lib.health.rules on the path (issue 13) the fatal/critical health events are used. Without
it, the deterministic kernel facts this project already parses stand in: NVRM Xid lines of the
fatal and memory classes (the registry's xid_fatal / xid_memory codes), OOM kills and hung tasks,
and nvidia-smi failing to reach a GPU. The baseline detector flags every window holding such an
event: it is what a host has on day one, with no model at all, and what a first challenger must
beat.
"""

from __future__ import annotations

import importlib.util

import numpy as np
import pandas as pd

from mlops_assets.lib.features.registry import XID_GROUPS

CRITICAL_XIDS = set(XID_GROUPS["xid_fatal"]) | set(XID_GROUPS["xid_memory"])
CRITICAL_KINDS = ("oom", "hung_task")
HAS_HEALTH_RULES = (
    importlib.util.find_spec("mlops_assets.lib.health") is not None
    and importlib.util.find_spec("mlops_assets.lib.health.rules") is not None
)
COLUMNS = ("host", "ts", "code")


def _empty() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "host": pd.Series(dtype="string"),
            "ts": pd.Series(dtype="datetime64[ns, UTC]"),
            "code": pd.Series(dtype="string"),
        }
    )


def critical_events(tables: dict[str, pd.DataFrame], host: str) -> pd.DataFrame:
    """(host, ts, code) of the fatal/critical events in one host's parsed tables."""
    if HAS_HEALTH_RULES:
        from mlops_assets.lib.health.rules import health_events

        ev = health_events(tables, host)
        ev = ev[ev["severity"].isin(["fatal", "critical"])]
        return pd.DataFrame(
            {"host": host, "ts": pd.to_datetime(ev["ts"], utc=True), "code": ev["code"]}
        ).astype({"host": "string", "code": "string"})
    frames = []
    k = tables.get("kernel_events")
    if k is not None and len(k):
        xid = pd.to_numeric(k["xid"], errors="coerce")
        crit = xid.isin(list(CRITICAL_XIDS)) | k["kind"].astype("string").isin(list(CRITICAL_KINDS)).fillna(
            False
        )
        code = np.where(
            xid.notna(), "XID_" + xid.fillna(0).astype("int64").astype(str), k["kind"].astype(str).str.upper()
        )
        frames.append(
            pd.DataFrame({"host": host, "ts": pd.to_datetime(k["ts"], utc=True), "code": code})[
                crit.to_numpy()
            ]
        )
    e = tables.get("gpu_errors")
    if e is not None and len(e):
        frames.append(
            pd.DataFrame({"host": host, "ts": pd.to_datetime(e["ts"], utc=True), "code": "GPU_UNREACHABLE"})
        )
    frames = [f for f in frames if len(f)]
    if not frames:
        return _empty()
    return pd.concat(frames, ignore_index=True).astype({"host": "string", "code": "string"})


def event_intervals(events: pd.DataFrame, before: str = "2min", after: str = "10min") -> pd.DataFrame:
    """Explained intervals (host, start, end, reason) around critical events."""
    ts = pd.to_datetime(events["ts"], utc=True)
    return pd.DataFrame(
        {
            "host": events["host"].astype("string"),
            "start": ts - pd.Timedelta(before),
            "end": ts + pd.Timedelta(after),
            "reason": ("health:" + events["code"].astype(str)).astype("string"),
        }
    )


def baseline_scores(features: pd.DataFrame, events: pd.DataFrame, window: str = "1min") -> pd.DataFrame:
    """Scores contract of the rules-only detector: a window is anomalous when it holds a critical event."""
    ws = pd.to_datetime(features["window_start"], utc=True)
    w = pd.Timedelta(window)
    flag = np.zeros(len(features), bool)
    if len(events):
        keys = set(
            zip(
                events["host"].astype(str),
                pd.to_datetime(events["ts"], utc=True).dt.floor(window),
                strict=True,
            )
        )
        flag = np.array(
            [(h, t) in keys for h, t in zip(features["host"].astype(str), ws.dt.floor(w), strict=True)]
        )
    return pd.DataFrame(
        {
            "host": features["host"].astype("string").to_numpy(),
            "window_start": ws.to_numpy(),
            "score": flag.astype("float64"),
            "is_anomaly": flag,
        }
    )
