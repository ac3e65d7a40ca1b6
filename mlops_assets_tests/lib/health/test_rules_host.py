"""Host rules on real failure messages (kernel formats as printed by Linux, systemd and docker;
most lines are the ones gpud's matchers are tested on, github.com/leptonai/gpud)."""

from __future__ import annotations

import pandas as pd
import pytest

from mlops_assets.lib.contracts.tables import TABLES, conform
from mlops_assets.lib.health.rules import health_events

T0 = pd.Timestamp("2026-11-02 10:00:00", tz="UTC")


def frame(table: str, rows: list[dict]) -> pd.DataFrame:
    return conform(pd.DataFrame([{"host": "h", **r} for r in rows]), TABLES[table])


def kernel(*messages: str, step_s: int = 1) -> dict[str, pd.DataFrame]:
    rows = [{"ts": T0 + pd.Timedelta(seconds=i * step_s), "message": m} for i, m in enumerate(messages)]
    return {"kernel_events": frame("kernel_events", rows)}


KERNEL_CASES = [
    ("Kernel panic - not syncing: hung_task: blocked tasks", "KERNEL_PANIC", "fatal", "reboot"),
    (
        "BUG: unable to handle kernel NULL pointer dereference at 0000000000000008",
        "KERNEL_OOPS",
        "critical",
        "reboot",
    ),
    ("Oops: 0000 [#1] SMP NOPTI", "KERNEL_OOPS", "critical", "reboot"),
    (
        "watchdog: BUG: soft lockup - CPU#0 stuck for 27s! [cuda-EvtHandlr:2255424]",
        "SOFT_LOCKUP",
        "critical",
        "reboot",
    ),
    ("rcu: INFO: rcu_preempt detected stalls on CPUs/tasks:", "RCU_STALL", "critical", "reboot"),
    (
        "INFO: rcu_sched self-detected stall on CPU { 3}  (t=60000 jiffies g=1 c=0 q=8)",
        "RCU_STALL",
        "critical",
        "reboot",
    ),
    (
        "INFO: task jfsmount:136986 blocked for more than 120 seconds.",
        "HUNG_TASK",
        "warning",
        "check_service",
    ),
    ("EXT4-fs (md0): Remounting filesystem read-only", "FS_READ_ONLY", "critical", "hardware_inspection"),
    ("XFS (nvme0n1p1): Remounting filesystem read-only", "FS_READ_ONLY", "critical", "hardware_inspection"),
    (
        "EXT4-fs error (device sda1): ext4_find_entry:1455: inode #2: comm ls: reading directory lblock 0",
        "FS_ERROR",
        "critical",
        "hardware_inspection",
    ),
    (
        "blk_update_request: I/O error, dev sda, sector 2048 op 0x0:(READ) flags 0x0",
        "IO_ERROR",
        "critical",
        "hardware_inspection",
    ),
    (
        "Buffer I/O error on dev sda1, logical block 0, async page read",
        "IO_ERROR",
        "critical",
        "hardware_inspection",
    ),
    (
        "NVRM: GPU 0000:3b:00.0: RmInitAdapter failed! (0x26:0xffff:1601)",
        "GPU_INIT_FAILED",
        "critical",
        "reboot",
    ),
]


@pytest.mark.parametrize(("line", "code", "severity", "action"), KERNEL_CASES)
def test_kernel_failure_lines_fire_their_rule(line: str, code: str, severity: str, action: str) -> None:
    ev = health_events(kernel(line), "h")
    assert ev[["code", "severity", "action"]].values.tolist() == [[code, severity, action]]
    assert line[:60] in ev["evidence"].iloc[0]


def test_oom_kill_counts_each_killed_process_once() -> None:
    lines = [
        "python3 invoked oom-killer: gfp_mask=0x100cca(GFP_HIGHUSER_MOVABLE), order=0, oom_score_adj=0",
        "oom-kill:constraint=CONSTRAINT_MEMCG,nodemask=(null),cpuset=abc,mems_allowed=0,oom_memcg=/docker/abc,"
        "task_memcg=/docker/abc,task=python3,pid=4242,uid=0",
        "Memory cgroup out of memory: Killed process 4242 (python3) total-vm:1460016kB, anon-rss:1414008kB",
        "Out of memory: Killed process 19636 (evil-program2) total-vm:1460016kB, anon-rss:1414008kB, file-rss:4kB",
    ]
    ev = health_events(kernel(*lines), "h")
    assert sorted(ev["code"]) == ["OOM_KILL", "OOM_KILL"]
    assert set(ev["action"]) == {"restart_app"} and ev["message"].str.contains("4242").any()


def test_repeated_lines_collapse_into_one_event_per_run() -> None:
    ev = health_events(kernel(*["Buffer I/O error on dev sda1, logical block 0"] * 50), "h")
    assert len(ev) == 1 and '"repeats": 50' in ev["evidence"].iloc[0]


def test_kernel_lines_in_the_journal_are_read_once_when_both_sources_carry_them() -> None:
    msg = "watchdog: BUG: soft lockup - CPU#18 stuck for 27s! [python3:2254956]"
    tables = kernel(msg)
    tables["journal_entries"] = frame(
        "journal_entries", [{"ts": T0, "identifier": "kernel", "message": msg, "boot_id": "b1"}]
    )
    ev = health_events(tables, "h")
    assert ev["code"].tolist() == ["SOFT_LOCKUP"] and ev["boot_id"].tolist() == ["b1"]
    only_journal = health_events({"journal_entries": tables["journal_entries"]}, "h")
    assert only_journal["code"].tolist() == ["SOFT_LOCKUP"]


def test_systemd_units_failing_and_restart_looping() -> None:
    rows = [
        {
            "identifier": "systemd",
            "message": "nginx.service: Main process exited, code=exited, status=1/FAILURE",
        },
        {"identifier": "systemd", "message": "nginx.service: Failed with result 'exit-code'."},
        {"identifier": "systemd", "message": "Failed to start A high performance web server."},
        *[
            {
                "identifier": "systemd",
                "message": f"trainer.service: Scheduled restart job, restart counter is at {i}.",
            }
            for i in range(1, 6)
        ],
    ]
    journal = frame(
        "journal_entries",
        [{"ts": T0 + pd.Timedelta(seconds=10 * i), "boot_id": "b", **r} for i, r in enumerate(rows)],
    )
    ev = health_events({"journal_entries": journal}, "h")
    got = ev[["code", "severity", "component"]].values.tolist()
    assert got.count(["UNIT_FAILED", "warning", "service"]) == 2
    assert got.count(["RESTART_LOOP", "critical", "service"]) == 1
    assert ev.loc[ev["code"] == "RESTART_LOOP", "message"].str.contains("trainer.service").all()


def test_disk_full_from_any_log_source() -> None:
    journal = frame(
        "journal_entries", [{"ts": T0, "identifier": "app", "message": "write: No space left on device"}]
    )
    docker = frame(
        "docker_lines",
        [{"ts": T0, "container": "c", "message": "OSError: [Errno 28] No space left on device"}],
    )
    ev = health_events({"journal_entries": journal, "docker_lines": docker}, "h")
    assert ev[["code", "action"]].values.tolist() == [["DISK_FULL", "free_disk"]] * 2


def test_containers_oom_killed_dying_nonzero_and_looping() -> None:
    rows = [{"ts": T0, "container": "a", "action": "oom", "exit_code": None, "image": "img"}]
    rows += [
        {
            "ts": T0 + pd.Timedelta(seconds=30 * i),
            "container": "vllm",
            "action": "die",
            "exit_code": 1,
            "image": "v",
        }
        for i in range(4)
    ]
    rows += [{"ts": T0, "container": "ok", "action": "die", "exit_code": 0, "image": "x"}]
    ev = health_events({"docker_events": frame("docker_events", rows)}, "h")
    assert sorted(ev["code"]) == ["CONTAINER_DIED", "CONTAINER_OOM", "RESTART_LOOP"]
    assert not ev["message"].str.contains("container ok ").any()
    loop = ev[ev["code"] == "RESTART_LOOP"]
    assert loop["component"].tolist() == ["container"] and "vllm" in loop["message"].iloc[0]
