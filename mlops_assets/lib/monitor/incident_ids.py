"""One stable id per incident, shared by every producer (hourly anomaly incidents, health incidents,
the minute-level fast path), so the same incident is notified once whichever path saw it first.

id = sha1("host|start[|part...]")[:16], ``start`` the incident's first window start (UTC, floored
to the feature window). Anomaly incidents pass no parts; health incidents pass (code, gpu) so two
faults in the same minute stay two incidents.
"""

from __future__ import annotations

import hashlib

import pandas as pd


def window_start(ts: pd.Timestamp | str, window: str = "1min") -> pd.Timestamp:
    """The start of the feature window containing ``ts`` (UTC)."""
    t = pd.Timestamp(ts)
    t = t.tz_localize("UTC") if t.tzinfo is None else t.tz_convert("UTC")
    return t.floor(window)


def incident_id(host: str, start: pd.Timestamp | str, *parts: object) -> str:
    key = "|".join([host, pd.Timestamp(start).isoformat(), *(str(p) for p in parts)])
    return hashlib.sha1(key.encode()).hexdigest()[:16]
