"""Host health rules: kernel OOM kills, hung tasks, soft lockups, RCU stalls, oops/panic, filesystem
errors and read-only remounts, I/O errors, disk full; systemd units failing or restart-looping;
containers dying non-zero, OOM-killed or restart-looping.

Patterns are the kernel's, systemd's and docker's own messages (see the tests for the real lines they
were checked on). A message that matches nothing is simply not an event: nothing here raises on text.
"""

from __future__ import annotations

import re
from typing import Any

import pandas as pd

from mlops_assets.lib.health.events import collapse_runs, event, having, line_evidence

# (code, component, severity, action, pattern, words)
KERNEL_RULES: tuple[tuple[str, str, str, str, re.Pattern[str], str], ...] = tuple(
    (code, comp, sev, act, re.compile(pat), words)
    for code, comp, sev, act, pat, words in (
        ("KERNEL_PANIC", "kernel", "fatal", "reboot", r"Kernel panic - not syncing", "kernel panic"),
        (
            "KERNEL_OOPS",
            "kernel",
            "critical",
            "reboot",
            r"\bOops: |BUG: unable to handle|general protection fault|BUG: kernel NULL pointer",
            "kernel oops (a driver or kernel bug; the kernel may be unstable)",
        ),
        (
            "SOFT_LOCKUP",
            "kernel",
            "critical",
            "reboot",
            r"watchdog: BUG: soft lockup|BUG: soft lockup - CPU#",
            "CPU soft lockup (a CPU stuck in kernel code)",
        ),
        (
            "RCU_STALL",
            "kernel",
            "critical",
            "reboot",
            r"rcu_(?:sched|preempt|bh) self-detected stall|rcu: INFO: rcu_\w+ detected stalls|"
            r"INFO: rcu_\w+ (?:self-)?detected stall",
            "RCU stall (CPUs not making progress)",
        ),
        (
            "HUNG_TASK",
            "kernel",
            "warning",
            "check_service",
            r"blocked for more than \d+ seconds",
            "task blocked in the kernel (I/O, NFS or driver stall)",
        ),
        (
            "FS_READ_ONLY",
            "disk",
            "critical",
            "hardware_inspection",
            r"Remounting filesystem read-only|remounted filesystem read-only",
            "filesystem remounted read-only after errors",
        ),
        (
            "FS_ERROR",
            "disk",
            "critical",
            "hardware_inspection",
            r"EXT[234]-fs error|XFS \([^)]*\): (?:Corruption|metadata I/O error)|BTRFS error",
            "filesystem error",
        ),
        (
            "IO_ERROR",
            "disk",
            "critical",
            "hardware_inspection",
            r"blk_update_request: (?:critical )?(?:I/O|medium) error|Buffer I/O error on dev|"
            r"I/O error, dev \S+, sector|failing I/O",
            "block device I/O error",
        ),
    )
)
OOM_KILLED_RE = re.compile(r"(?:Out of memory|Memory cgroup out of memory): Killed process (\d+) \(([^)]*)\)")
OOM_KILL_LINE_RE = re.compile(r"oom-kill:.*?task=([^,]*),pid=(\d+)")
# substrings every KERNEL_RULES match contains: lines without any of them skip the regexes
KERNEL_KEYS = (
    "panic",
    "Oops",
    "BUG",
    "protection fault",
    "lockup",
    "rcu",
    "blocked for more",
    "read-only",
    "fs error",
    "XFS",
    "BTRFS",
    "I/O",
    "medium error",
)
UNIT_FAILED_RE = re.compile(r"^(\S+?): Failed with result '([^']+)'|^Failed to start (.+?)\.?$")
UNIT_RESTART_RE = re.compile(r"^(\S+?): Scheduled restart job, restart counter is at (\d+)")
UNIT_GIVE_UP_RE = re.compile(r"^(\S+?): Start request repeated too quickly")
RESTART_LOOP_MIN = 3  # restarts of one unit/container within RESTART_LOOP_WINDOW
RESTART_LOOP_WINDOW = "10min"


def kernel_line_events(lines: pd.DataFrame) -> list[dict[str, Any]]:
    """Panic, oops, lockups, stalls, hung tasks, filesystem and I/O errors; one event per run."""
    msgs = lines["message"].astype("string").fillna("")
    cand = having(msgs, KERNEL_KEYS)
    c_ts, c_msg, c_src = lines["ts"][cand], msgs[cand], lines["source"][cand]
    hits: list[dict[str, Any]] = []
    for code, comp, sev, act, pattern, words in KERNEL_RULES:
        sel = c_msg.str.contains(pattern, regex=True).to_numpy(dtype=bool)
        for ts, msg, source in zip(c_ts[sel], c_msg[sel], c_src[sel], strict=True):
            hits.append(
                {
                    "ts": ts,
                    "code": code,
                    "comp": comp,
                    "sev": sev,
                    "act": act,
                    "words": words,
                    "msg": msg,
                    "src": source,
                }
            )
    out: list[dict[str, Any]] = []
    if hits:
        for h in collapse_runs(pd.DataFrame(hits), ["code"], gap="2min").to_dict("records"):
            ev = line_evidence(h["src"], h["msg"], repeats=int(h["run_count"]))
            out.append(
                event(
                    h["ts"], h["comp"], h["code"], h["sev"], h["act"], f"{h['words']}: {h['msg'][:200]}", ev
                )
            )
    return out + oom_kill_events(lines, msgs)


def oom_kill_events(lines: pd.DataFrame, msgs: pd.Series) -> list[dict[str, Any]]:
    """One event per process the kernel OOM killer killed ("Killed process N" or the "oom-kill:"
    summary line; both lines of one kill count once)."""
    kills: dict[str, dict[str, Any]] = {}
    sel = having(msgs, ("Killed process", "oom-kill:"))
    for ts, msg, source in zip(lines["ts"][sel], msgs[sel], lines["source"][sel], strict=True):
        m = OOM_KILLED_RE.search(msg)
        pid, name = (m.group(1), m.group(2)) if m else (None, None)
        if m is None and (k := OOM_KILL_LINE_RE.search(msg)):
            pid, name = k.group(2), k.group(1)
        if pid is None:
            continue
        kills.setdefault(pid, {"ts": ts, "name": name, "msg": msg, "src": source})
    return [
        event(
            k["ts"],
            "kernel",
            "OOM_KILL",
            "critical",
            "restart_app",
            f"kernel OOM killer killed process {pid} ({k['name']}): the host or its cgroup ran out of memory",
            line_evidence(k["src"], k["msg"], pid=int(pid)),
        )
        for pid, k in kills.items()
    ]


def disk_full_events(sources: list[tuple[str, pd.DataFrame]]) -> list[dict[str, Any]]:
    """'No space left on device' in any log: one event per source and run."""
    rows = []
    for name, df in sources:
        if df.empty:
            continue
        msgs = df["message"].astype("string").fillna("")
        sel = having(msgs, ("No space left", "ENOSPC"))
        rows += [{"ts": ts, "src": name, "msg": m} for ts, m in zip(df["ts"][sel], msgs[sel], strict=True)]
    if not rows:
        return []
    return [
        event(
            r["ts"],
            "disk",
            "DISK_FULL",
            "critical",
            "free_disk",
            f"a filesystem is full (No space left on device, seen in {r['src']})",
            line_evidence(r["src"], r["msg"], repeats=int(r["run_count"])),
        )
        for r in collapse_runs(pd.DataFrame(rows), ["src"], gap="10min").to_dict("records")
    ]


def unit_events(journal: pd.DataFrame) -> list[dict[str, Any]]:
    """systemd units entering ``failed`` and units in a restart loop."""
    if journal.empty:
        return []
    msgs = journal["message"].astype("string").fillna("")
    sel = having(
        msgs, ("Failed with result", "Failed to start", "Scheduled restart job", "repeated too quickly")
    )
    failed, restarts = [], []
    for ts, msg in zip(journal["ts"][sel], msgs[sel], strict=True):
        if m := UNIT_FAILED_RE.search(msg):
            failed.append({"ts": ts, "unit": m.group(1) or m.group(3), "msg": msg, "result": m.group(2)})
        elif m := UNIT_RESTART_RE.search(msg):
            restarts.append({"ts": ts, "unit": m.group(1), "msg": msg, "counter": int(m.group(2))})
        elif m := UNIT_GIVE_UP_RE.search(msg):
            restarts.append({"ts": ts, "unit": m.group(1), "msg": msg, "counter": RESTART_LOOP_MIN})
    out = [
        event(
            r["ts"],
            "service",
            "UNIT_FAILED",
            "warning",
            "check_service",
            f"systemd unit {r['unit']} failed" + (f" (result {r['result']})" if r["result"] else ""),
            line_evidence("journal", r["msg"], unit=r["unit"], repeats=int(r["run_count"])),
        )
        for r in (
            collapse_runs(pd.DataFrame(failed), ["unit"], gap="10min").to_dict("records") if failed else []
        )
    ]
    looping = [r for r in restarts if r["counter"] >= RESTART_LOOP_MIN]
    if looping:
        for r in collapse_runs(pd.DataFrame(looping), ["unit"], gap=RESTART_LOOP_WINDOW).to_dict("records"):
            text = f"systemd unit {r['unit']} is in a restart loop (restart counter {r['counter']})"
            ev = line_evidence("journal", r["msg"], unit=r["unit"], counter=int(r["counter"]))
            out.append(event(r["ts"], "service", "RESTART_LOOP", "critical", "check_service", text, ev))
    return out


def container_events(docker_events: pd.DataFrame) -> list[dict[str, Any]]:
    """Containers OOM-killed, dying with a non-zero exit code, or restart-looping."""
    if docker_events.empty:
        return []
    d = docker_events.assign(action=docker_events["action"].astype("string").fillna("").str.lower())
    out = []
    ooms = d[d["action"] == "oom"]
    for r in collapse_runs(ooms, ["container"], gap="1min").to_dict("records") if len(ooms) else []:
        text = f"container {r['container']} was OOM-killed (its memory limit was reached)"
        ev = {"source": "docker_events", "container": r["container"], "image": r.get("image")}
        out.append(event(r["ts"], "container", "CONTAINER_OOM", "critical", "restart_app", text, ev))
    code = pd.to_numeric(d["exit_code"], errors="coerce")
    dies = d[(d["action"] == "die") & code.notna() & (code != 0)]
    for r in (
        collapse_runs(dies, ["container"], gap=RESTART_LOOP_WINDOW).to_dict("records") if len(dies) else []
    ):
        text = f"container {r['container']} exited with code {int(r['exit_code'])}"
        ev = {
            "source": "docker_events",
            "container": r["container"],
            "exit_code": int(r["exit_code"]),
            "repeats": int(r["run_count"]),
        }
        out.append(event(r["ts"], "container", "CONTAINER_DIED", "warning", "check_service", text, ev))
        if int(r["run_count"]) >= RESTART_LOOP_MIN:
            text = f"container {r['container']} is in a restart loop ({int(r['run_count'])} non-zero exits)"
            out.append(
                event(r["run_last"], "container", "RESTART_LOOP", "critical", "check_service", text, ev)
            )
    return out
