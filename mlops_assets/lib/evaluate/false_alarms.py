"""False alarms on the unmodified held-out days, and the windows that explain an alarm.

An alarm window is EXPLAINED when it overlaps an interval (host, start, end) of a health-rule
incident or of an operator-confirmed incident: the host really had a problem then, so alarming is
right. Every other alarm window is a false alarm; they are reported as alarm-minutes (windows x
window length), as their share of all scored minutes, and as GROUPS (consecutive alarm windows of a
host, gaps <= merge_gap merged) per host-day, which is what an on-call person is paged for.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

EXPLAINED_COLUMNS = ("host", "start", "end", "reason")


def empty_explained() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "host": pd.Series(dtype="string"),
            "start": pd.Series(dtype="datetime64[ns, UTC]"),
            "end": pd.Series(dtype="datetime64[ns, UTC]"),
            "reason": pd.Series(dtype="string"),
        }
    )


def _utc_ns(values: Any) -> np.ndarray:
    return pd.to_datetime(pd.Series(values), utc=True).to_numpy(dtype="datetime64[ns]").astype("int64")


def explained_mask(
    scores: pd.DataFrame, explained: pd.DataFrame, *, window: str = "1min", pad: str = "0min"
) -> np.ndarray:
    """Per score row: does the window [start, start + window) overlap an explained interval (+pad)?"""
    out = np.zeros(len(scores), bool)
    if not len(scores) or not len(explained):
        return out
    w, p = pd.Timedelta(window).value, pd.Timedelta(pad).value
    t = _utc_ns(scores["window_start"])
    hosts = scores["host"].astype(str).to_numpy()
    for host, iv in explained.groupby(explained["host"].astype(str)):
        rows = hosts == host
        if not rows.any():
            continue
        s, e = _utc_ns(iv["start"]) - p, _utc_ns(iv["end"]) + p
        order = np.argsort(s)
        s, e = s[order], np.maximum.accumulate(e[order])
        tr = t[rows]
        # the last interval starting before the window's end; overlap iff it ends after the window's start
        i = np.searchsorted(s, tr + w, side="left") - 1
        hit = (i >= 0) & (e[np.clip(i, 0, None)] > tr)
        out[np.flatnonzero(rows)] = hit
    return out


def alarm_groups(hosts: np.ndarray, t_ns: np.ndarray, alarm: np.ndarray, window_ns: int, gap_ns: int) -> int:
    """Consecutive alarm windows of a host (time gaps <= window + gap merged) counted once."""
    idx = np.flatnonzero(alarm)
    if not len(idx):
        return 0
    order = np.lexsort((t_ns[idx], hosts[idx]))
    h, tt = hosts[idx][order], t_ns[idx][order]
    new = np.r_[True, (h[1:] != h[:-1]) | (tt[1:] - tt[:-1] > window_ns + gap_ns)]
    return int(new.sum())


def false_alarms(
    scores: pd.DataFrame,
    explained: pd.DataFrame,
    *,
    window: str = "1min",
    merge_gap: str = "5min",
    pad: str = "5min",
) -> dict[str, Any]:
    """Alarm-minutes, their share, and alarm groups per host-day that no explained interval covers."""
    n = len(scores)
    w = pd.Timedelta(window)
    flag = scores["is_anomaly"].to_numpy(dtype=bool) if n else np.zeros(0, bool)
    covered = explained_mask(scores, explained, window=window, pad=pad)
    false = flag & ~covered
    host_days = n * w / pd.Timedelta("1D")
    groups = alarm_groups(
        scores["host"].astype(str).to_numpy() if n else np.zeros(0, str),
        _utc_ns(scores["window_start"]) if n else np.zeros(0, "int64"),
        false,
        w.value,
        pd.Timedelta(merge_gap).value,
    )
    minutes = float(false.sum() * w / pd.Timedelta("1min"))
    return {
        "windows": n,
        "host_days": host_days,
        "alarm_windows": int(flag.sum()),
        "explained_alarm_windows": int((flag & covered).sum()),
        "false_alarm_minutes": minutes,
        "alarm_minute_share": float(false.sum() / n) if n else 0.0,
        "false_alarm_groups": groups,
        "false_alarms_per_host_day": groups / host_days if host_days else 0.0,
    }


def incident_hits(scores: pd.DataFrame, incidents: pd.DataFrame, *, window: str = "1min") -> np.ndarray:
    """Per incident (host, start, end): does any alarm window of ``scores`` overlap it?"""
    out = np.zeros(len(incidents), bool)
    if not len(incidents) or not len(scores):
        return out
    alarms = scores[scores["is_anomaly"].to_numpy(dtype=bool)]
    for i, inc in enumerate(incidents.itertuples(index=False)):
        one = pd.DataFrame({"host": [inc.host], "start": [inc.start], "end": [inc.end]})
        out[i] = bool(explained_mask(alarms, one, window=window).any())
    return out
