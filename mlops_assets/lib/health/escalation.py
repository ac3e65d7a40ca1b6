"""Escalation across boots, as gpud does: a reset/reboot-recoverable Xid or SXid that comes back
after the host has been rebooted at least twice since its first occurrence is not fixed by
rebooting; the action becomes ``hardware_inspection``.

Reboots are counted from the boot ids the events carry (journal boot ids): the host's boots are
ordered by the first event seen in each, so a boot without any health event is not counted and the
escalation is conservative (it may come one reboot late, never early).
"""

from __future__ import annotations

import json

import pandas as pd

from mlops_assets.lib.contracts.tables import HEALTH_EVENTS, conform

REBOOT_THRESHOLD = 2  # gpud's default
ESCALATES = ("reboot", "reset_gpu")


def escalate(events: pd.DataFrame, history_events: pd.DataFrame | None) -> pd.DataFrame:
    """``events`` with the action of repeated Xid/SXid codes escalated (history = earlier partitions)."""
    out = conform(events, HEALTH_EVENTS)
    if out.empty:
        return out
    hist = (
        conform(history_events, HEALTH_EVENTS) if history_events is not None and len(history_events) else None
    )
    both = pd.concat([hist, out], ignore_index=True) if hist is not None else out
    both = both[both["boot_id"].notna()]
    if both.empty:
        return out
    messages, actions, evidence = out["message"].tolist(), out["action"].tolist(), out["evidence"].tolist()
    for host, h in both.groupby("host", sort=False):
        first_seen = h.groupby("boot_id")["ts"].min().sort_values(kind="stable")
        rank = {b: i for i, b in enumerate(first_seen.index)}
        coded = h[h["code"].str.match(r"^S?XID_\d+$", na=False)]
        first_boot_rank = {code: min(rank[b] for b in s) for code, s in coded.groupby("code")["boot_id"]}
        for i in range(len(out)):
            row = out.iloc[i]
            if row["host"] != host or pd.isna(row["boot_id"]) or row["code"] not in first_boot_rank:
                continue
            if row["action"] not in ESCALATES or row["severity"] not in ("fatal", "critical"):
                continue
            reboots = rank[row["boot_id"]] - first_boot_rank[row["code"]]
            if reboots >= REBOOT_THRESHOLD:
                actions[i] = "hardware_inspection"
                messages[i] = (
                    f"{row['message']} (seen again after {reboots} reboots: rebooting did not fix it, "
                    "escalated to hardware inspection)"
                )
                ev = json.loads(row["evidence"]) if isinstance(row["evidence"], str) else {}
                evidence[i] = json.dumps({**ev, "escalated_after_reboots": int(reboots)}, sort_keys=True)
    out["action"] = pd.array(actions, dtype="string")
    out["message"] = pd.array(messages, dtype="string")
    out["evidence"] = pd.array(evidence, dtype="string")
    return out
