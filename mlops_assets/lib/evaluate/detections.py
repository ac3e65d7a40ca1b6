"""Detection quality against labelled fault windows (the gates built on it: lib/evaluate/gates.py).

Definitions (windows are half-open [window_start, window_start + window)):
- a window is POSITIVE when it overlaps a label [start, end) of its host;
- an event is DETECTED when an anomalous window of its host overlaps [start, end + grace]; its time to
  detect is the first such window's start minus the fault start (0 when flagged from the first window);
- a FALSE ALARM is a group of consecutive anomalous windows (gaps <= merge_gap merged) of a host that
  overlaps no label window extended by ``grace`` on both sides; false alarms are per host-day of scored
  windows.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd


def _labels_for(labels: pd.DataFrame, host: str) -> pd.DataFrame:
    return labels[labels["host"].astype(str) == host]


def evaluate_detections(
    scores: pd.DataFrame,
    labels: pd.DataFrame,
    *,
    window: str = "1min",
    grace: str = "5min",
    merge_gap: str = "2min",
) -> dict[str, Any]:
    """Window precision/recall/F1, event recall per fault kind, time to detect and false alarms."""
    w, g, gap = pd.Timedelta(window), pd.Timedelta(grace), pd.Timedelta(merge_gap)
    scores = scores.sort_values(["host", "window_start"], kind="stable", ignore_index=True)
    ws = pd.to_datetime(scores["window_start"], utc=True)
    flag = scores["is_anomaly"].to_numpy(dtype=bool)
    hosts = scores["host"].astype(str).to_numpy()
    positive = np.zeros(len(scores), bool)
    near_fault = np.zeros(len(scores), bool)
    events: list[dict[str, Any]] = []
    t = ws.to_numpy(dtype="datetime64[ns]")
    for lab in labels.itertuples(index=False):
        on_host = hosts == str(lab.host)
        s = np.datetime64(pd.Timestamp(lab.start).tz_convert("UTC").tz_localize(None), "ns")
        e = np.datetime64(pd.Timestamp(lab.end).tz_convert("UTC").tz_localize(None), "ns")
        wn, gn = np.timedelta64(w.value, "ns"), np.timedelta64(g.value, "ns")
        overlaps = on_host & (t < e) & (t + wn > s)
        positive |= overlaps
        near_fault |= on_host & (t < e + gn) & (t + wn > s - gn)
        hit = on_host & flag & (t <= e + gn) & (t + wn > s)
        first = t[hit].min() if hit.any() else None
        events.append(
            {
                "host": str(lab.host),
                "fault": str(lab.fault),
                "start": str(lab.start),
                "detected": bool(hit.any()),
                "minutes_to_detect": None
                if first is None
                else max(0.0, float((first - s) / np.timedelta64(1, "m"))),
            }
        )
    tp = int((flag & positive).sum())
    fp_windows = int((flag & ~positive).sum())
    fn = int((~flag & positive).sum())
    precision = tp / (tp + fp_windows) if tp + fp_windows else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    false_alarms = _false_alarm_groups(hosts, t, flag & ~near_fault, w, gap)
    host_days = len(scores) * w / pd.Timedelta("1D") if len(scores) else 0.0
    ev = pd.DataFrame(events, columns=["host", "fault", "start", "detected", "minutes_to_detect"])
    per_kind = ev.groupby("fault")["detected"].mean().to_dict() if len(ev) else {}
    ttd = (
        [float(m) for m in ev["minutes_to_detect"].tolist() if m is not None and pd.notna(m)]
        if len(ev)
        else []
    )
    return {
        "windows": len(scores),
        "host_days": host_days,
        "window_precision": precision,
        "window_recall": recall,
        "window_f1": f1,
        "events_total": len(ev),
        "events_detected": int(ev["detected"].sum()) if len(ev) else 0,
        "event_recall": float(ev["detected"].mean()) if len(ev) else 1.0,
        "event_recall_by_fault": {str(k): float(v) for k, v in per_kind.items()},
        "min_event_recall_by_fault": float(min(per_kind.values())) if per_kind else 1.0,
        "median_minutes_to_detect": float(np.median(ttd)) if ttd else None,
        "false_alarms": false_alarms,
        "false_alarms_per_host_day": false_alarms / host_days if host_days else 0.0,
        "events": events,
    }


def _false_alarm_groups(
    hosts: np.ndarray, t: np.ndarray, alarm: np.ndarray, w: pd.Timedelta, gap: pd.Timedelta
) -> int:
    idx = np.flatnonzero(alarm)
    if not len(idx):
        return 0
    h, tt = hosts[idx], t[idx]
    limit = np.timedelta64((w + gap).value, "ns")
    new = np.r_[True, (h[1:] != h[:-1]) | (tt[1:] - tt[:-1] > limit)]
    return int(new.sum())
