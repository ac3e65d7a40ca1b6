"""Log-derived window features: journal priorities and unit failures, kernel Xid/OOM/hung tasks, docker."""

from __future__ import annotations

import numpy as np
import pandas as pd

from mlops_assets.lib.features.grid import contains, count_in, window_index
from mlops_assets.lib.features.registry import XID_GROUPS

_AUTH = r"Failed password|Invalid user|authentication failure"
_TRACEBACK = (
    r"Traceback \(most recent call last\)|^\w*(?:Error|Exception):|CUDA error|panic:|Segmentation fault"
)
_DISK_FULL = r"No space left on device"
_SOFT_LOCKUP = r"soft lockup - CPU#|hard LOCKUP|rcu_(?:sched|preempt)? ?(?:self-)?detected stall|rcu: INFO: rcu_\w+ (?:self-)?detected stall"
_NIC_WATCHDOG = r"NETDEV WATCHDOG|transmit queue \d+ timed out"
# boots and shutdowns (kernel banner / reboot line; systemd's start-up and shutdown targets; logind)
_KERNEL_BOOT = r"^Linux version \d|^Command line: |^reboot: (?:Restarting system|Power down)"
_SYSTEMD_BOOT = (
    r"running in system mode|^Startup finished in |Reached target .*(?:[Ss]hutdown|Reboot)|"
    r"^The system will (?:reboot|power off)|^Syncing filesystems and block devices"
)
_CURSOR_MONO = r";m=([0-9a-f]+)(?:;|$)"


def _unmatched(df: pd.DataFrame) -> np.ndarray:
    """Lines no known template matched (template_id null after lib/features/template_counts.assign_templates)."""
    if "template_id" not in df.columns or not len(df):
        return np.zeros(len(df), bool)
    return df["template_id"].isna().to_numpy(dtype=bool)


def _uptime_min(j: pd.DataFrame, idx: np.ndarray, keep: np.ndarray, n: int) -> np.ndarray:
    """Lowest seconds since boot per window, from the journald cursor's monotonic ``m=`` field."""
    out = np.full(n, np.nan)
    if not len(j) or "cursor" not in j.columns or not keep.any():
        return out
    hexes = j["cursor"].astype("string").str.extract(_CURSOR_MONO, expand=False)
    ok = keep & hexes.notna().to_numpy()
    if ok.any():
        secs = np.array([int(h, 16) / 1e6 for h in hexes[ok].tolist()])
        frame = pd.DataFrame({"w": idx[ok], "s": secs}).groupby("w")["s"].min()
        out[frame.index.to_numpy(dtype="int64")] = frame.to_numpy()
    return out


def journal_window_features(
    j: pd.DataFrame, start_ns: int, window_ns: int, n: int, out: dict[str, np.ndarray]
) -> None:
    idx, keep = (
        window_index(j["ts"], start_ns, window_ns, n) if len(j) else (np.zeros(0, "int64"), np.zeros(0, bool))
    )
    prio = pd.to_numeric(j["priority"], errors="coerce").fillna(6).to_numpy() if len(j) else np.zeros(0)
    msg = j["message"] if len(j) else pd.Series([], dtype="string")
    out["journal_lines"] = count_in(idx, keep, n)
    out["journal_crit"] = count_in(idx, keep & (prio <= 2), n)
    out["journal_err"] = count_in(idx, keep & (prio == 3), n)
    out["journal_warning"] = count_in(idx, keep & (prio == 4), n)
    out["journal_notice"] = count_in(idx, keep & (prio == 5), n)
    out["journal_unit_restarts"] = count_in(idx, keep & contains(msg, r"Scheduled restart job"), n)
    out["journal_unit_failures"] = count_in(
        idx, keep & contains(msg, r"Failed with result|Failed to start"), n
    )
    out["journal_auth_failures"] = count_in(idx, keep & contains(msg, _AUTH), n)
    out["journal_disk_full"] = count_in(idx, keep & contains(msg, _DISK_FULL), n)
    ident = j["identifier"].astype("string").fillna("") if len(j) else pd.Series([], dtype="string")
    systemd = ident.str.startswith("systemd").to_numpy(dtype=bool)
    out["journal_boot_markers"] = count_in(idx, keep & systemd & contains(msg, _SYSTEMD_BOOT), n)
    new = _unmatched(j)
    out["journal_new_severe"] = count_in(idx, keep & new & (prio <= 4), n)
    out["journal_new_other"] = count_in(idx, keep & new & (prio > 4), n)
    out["uptime_min_s"] = _uptime_min(j, idx, keep, n)
    units = np.zeros(n)
    err = keep & (prio <= 3)
    if err.any():
        who = j["unit"].astype("string").fillna(j["identifier"].astype("string")).fillna("?")[err]
        distinct = pd.DataFrame({"w": idx[err], "u": who.to_numpy()}).drop_duplicates()
        units = count_in(distinct["w"].to_numpy(), np.ones(len(distinct), bool), n)
    out["journal_units_in_error"] = units


def kernel_window_features(
    k: pd.DataFrame, start_ns: int, window_ns: int, n: int, out: dict[str, np.ndarray]
) -> None:
    idx, keep = (
        window_index(k["ts"], start_ns, window_ns, n) if len(k) else (np.zeros(0, "int64"), np.zeros(0, bool))
    )
    kind = k["kind"].astype("string").fillna("").to_numpy() if len(k) else np.zeros(0, dtype=object)
    xid = (
        pd.to_numeric(k["xid"], errors="coerce").fillna(-1).astype("int64").to_numpy()
        if len(k)
        else np.zeros(0, "int64")
    )
    msg = k["message"] if len(k) else pd.Series([], dtype="string")
    is_xid = xid >= 0
    out["kernel_lines"] = count_in(idx, keep, n)
    grouped = np.zeros(len(xid), bool)
    for name, codes in XID_GROUPS.items():
        member = is_xid & np.isin(xid, codes)
        grouped |= member
        out[name] = count_in(idx, keep & member, n)
    out["xid_other"] = count_in(idx, keep & is_xid & ~grouped, n)
    out["nvrm_lines"] = count_in(idx, keep & ~is_xid & contains(msg, r"NVRM"), n)
    out["oom_kills"] = count_in(
        idx, keep & ((kind == "oom") | contains(msg, r"Out of memory: Killed process|oom-kill:")), n
    )
    out["hung_tasks"] = count_in(
        idx, keep & ((kind == "hung_task") | contains(msg, r"blocked for more than")), n
    )
    out["soft_lockups"] = count_in(idx, keep & contains(msg, _SOFT_LOCKUP), n)
    out["nic_watchdog"] = count_in(idx, keep & contains(msg, _NIC_WATCHDOG), n)
    out["boot_markers"] = count_in(idx, keep & contains(msg, _KERNEL_BOOT), n) + out.pop(
        "journal_boot_markers", np.zeros(n)
    )


def docker_window_features(
    lines: pd.DataFrame,
    events: pd.DataFrame,
    start_ns: int,
    window_ns: int,
    n: int,
    out: dict[str, np.ndarray],
) -> None:
    idx, keep = (
        window_index(lines["ts"], start_ns, window_ns, n)
        if len(lines)
        else (np.zeros(0, "int64"), np.zeros(0, bool))
    )
    stream = (
        lines["stream"].astype("string").fillna("").to_numpy() if len(lines) else np.zeros(0, dtype=object)
    )
    level = lines["level"].astype("string").fillna("").to_numpy() if len(lines) else np.zeros(0, dtype=object)
    msg = lines["message"] if len(lines) else pd.Series([], dtype="string")
    out["docker_lines"] = count_in(idx, keep, n)
    out["docker_stderr_lines"] = count_in(idx, keep & (stream == "stderr"), n)
    out["docker_error_lines"] = count_in(idx, keep & np.isin(level, ["error", "critical"]), n)
    out["docker_warning_lines"] = count_in(idx, keep & (level == "warning"), n)
    out["docker_tracebacks"] = count_in(idx, keep & contains(msg, _TRACEBACK), n)
    out["docker_disk_full"] = count_in(idx, keep & contains(msg, _DISK_FULL), n)
    new = _unmatched(lines)
    severe = np.isin(level, ["error", "critical", "warning"])
    out["log_new_severe"] = out.pop("journal_new_severe", np.zeros(n)) + count_in(idx, keep & new & severe, n)
    out["log_new_other"] = out.pop("journal_new_other", np.zeros(n)) + count_in(idx, keep & new & ~severe, n)
    eidx, ekeep = (
        window_index(events["ts"], start_ns, window_ns, n)
        if len(events)
        else (np.zeros(0, "int64"), np.zeros(0, bool))
    )
    action = (
        events["action"].astype("string").fillna("").to_numpy() if len(events) else np.zeros(0, dtype=object)
    )
    code = (
        pd.to_numeric(events["exit_code"], errors="coerce").fillna(0).to_numpy()
        if len(events)
        else np.zeros(0)
    )
    out["docker_dies"] = count_in(eidx, ekeep & (action == "die"), n)
    out["docker_nonzero_exits"] = count_in(eidx, ekeep & (action == "die") & (code != 0), n)
    out["docker_ooms"] = count_in(eidx, ekeep & (action == "oom"), n)
    out["docker_starts"] = count_in(eidx, ekeep & np.isin(action, ["start", "restart"]), n)
    out["docker_kills"] = count_in(eidx, ekeep & (action == "kill"), n)
    out["docker_unhealthy"] = count_in(eidx, ekeep & (np.char.find(action.astype(str), "unhealthy") >= 0), n)
