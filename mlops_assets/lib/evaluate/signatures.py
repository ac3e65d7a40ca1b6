"""What real hosts print when these faults happen: the log lines the fault overlay writes.

Shapes follow the sources that print them, not the simulator: NVIDIA's NVRM Xid lines (``NVRM: Xid
(PCI:0000:3b:00): 79, pid=..., name=..., GPU has fallen off the bus.``, Xid 48 DBE, Xid 63/64 row
remapper), nvidia-smi's "Unable to determine the device handle" error, the kernel OOM killer's four
lines (mm/oom_kill.c), systemd's unit failure and restart lines (src/core/service.c), "No space left
on device" (ENOSPC, errno 28) as dockerd/containerd and applications log it, and a Python traceback
of a crash-looping container.
"""

from __future__ import annotations

import numpy as np


def kernel_pci(bus_id: str) -> str:
    """nvidia-smi's ``00000000:3B:00.0`` -> the form NVRM prints, ``PCI:0000:3b:00``."""
    parts = bus_id.strip().split(":")
    if len(parts) < 3:
        return "PCI:0000:00:00"
    domain = parts[0][-4:] if len(parts[0]) >= 4 else parts[0].rjust(4, "0")
    return f"PCI:{domain}:{parts[1].lower()}:{parts[2].split('.')[0].lower()}"


def xid79_lines(pci: str, uuid: str, pid: int) -> list[tuple[str, int]]:
    """(message, syslog priority) of a GPU that fell off the bus."""
    return [
        (f"NVRM: GPU at {pci}: {uuid}", 3),
        (f"NVRM: Xid ({pci}): 79, pid={pid}, name=python3, GPU has fallen off the bus.", 3),
        (f"NVRM: GPU {pci[4:]}.0: GPU has fallen off the bus.", 3),
        ("NVRM: A GPU crash dump has been created. If possible, please run", 3),
        ("NVRM: nvidia-bug-report.sh as root to collect this data before", 3),
        ("NVRM: the NVIDIA kernel module is unloaded.", 3),
    ]


def device_handle_error(bus_id: str) -> str:
    """What ``nvidia-smi --query-gpu`` prints in place of a lost GPU's row."""
    return f"Unable to determine the device handle for GPU {bus_id.strip()}: Unknown Error"


def ecc_lines(pci: str, pid: int, rng: np.random.Generator, last: bool) -> list[tuple[str, int]]:
    lines = [
        (
            f"NVRM: Xid ({pci}): 48, pid={pid}, name=python3, An uncorrectable double bit error (DBE) has "
            f"been detected on GPU in the framebuffer at partition {int(rng.integers(0, 8))}, subpartition 0.",
            3,
        ),
        (
            f"NVRM: Xid ({pci}): 63, pid='<unknown>', name=<unknown>, Row Remapper: New row "
            f"(0x{int(rng.integers(0, 2**31)):016x}) marked for remapping, reset gpu to activate.",
            4,
        ),
    ]
    if last:
        lines.append(
            (
                f"NVRM: Xid ({pci}): 64, pid='<unknown>', name=<unknown>, Row Remapper Error: failed to "
                "record row remapping, reset gpu to activate.",
                3,
            )
        )
    return lines


def oom_lines(container_id: str, pid: int, rng: np.random.Generator) -> list[tuple[str, int]]:
    rss = int(rng.integers(30_000_000, 62_000_000))
    scope = f"/system.slice/docker-{container_id}.scope"
    return [
        ("python3 invoked oom-killer: gfp_mask=0xcc0(GFP_KERNEL), order=0, oom_score_adj=0", 4),
        (
            f"oom-kill:constraint=CONSTRAINT_MEMCG,nodemask=(null),cpuset=docker-{container_id}.scope,"
            f"mems_allowed=0-1,oom_memcg={scope},task_memcg={scope},task=python3,pid={pid},uid=1000",
            6,
        ),
        (
            f"Memory cgroup out of memory: Killed process {pid} (python3) total-vm:{rss + 9_812_344}kB, "
            f"anon-rss:{rss}kB, file-rss:{int(rng.integers(40_000, 90_000))}kB, shmem-rss:0kB, UID:1000 "
            f"pgtables:{rss // 4000}kB oom_score_adj:0",
            3,
        ),
        (f"oom_reaper: reaped process {pid} (python3), now anon-rss:0kB, file-rss:0kB, shmem-rss:0kB", 6),
    ]


SERVICES = (
    ("nvidia-fabricmanager.service", "nv-fabricmanager", "NVIDIA fabric manager service"),
    ("nvidia-dcgm.service", "nv-hostengine", "NVIDIA DCGM service"),
    ("nvidia-persistenced.service", "nvidia-persistenced", "NVIDIA Persistence Daemon"),
)


def service_cycle(unit: str, description: str, attempt: int) -> list[tuple[float, str, int]]:
    """(seconds after the start, systemd message, priority) of one failed start and its restart."""
    return [
        (0.0, f"Started {unit} - {description}.", 6),
        (1.0, f"{unit}: Main process exited, code=exited, status=1/FAILURE", 5),
        (1.001, f"{unit}: Failed with result 'exit-code'.", 4),
        (11.0, f"{unit}: Scheduled restart job, restart counter is at {attempt}.", 6),
        (11.001, f"Stopped {unit} - {description}.", 6),
    ]


def service_gave_up(unit: str, description: str) -> list[tuple[float, str, int]]:
    return [
        (0.0, f"{unit}: Start request repeated too quickly.", 4),
        (0.001, f"{unit}: Failed with result 'exit-code'.", 4),
        (0.002, f"Failed to start {unit} - {description}.", 3),
    ]


def enospc_journal(ts_rfc3339: str, container_id: str) -> str:
    return (
        f'time="{ts_rfc3339}" level=error msg="Error writing log message" container={container_id} '
        f'driver=json-file error="write /var/lib/docker/containers/{container_id}/{container_id}-json.log: '
        'no space left on device"'
    )


ENOSPC_APP = "OSError: [Errno 28] No space left on device"

CRASH_TRACEBACK = (
    "Traceback (most recent call last):",
    '  File "/app/server.py", line 41, in <module>',
    "    engine = load_engine(config)",
    '  File "/app/engine.py", line 118, in load_engine',
    '    raise RuntimeError(f"CUDA error: {err}")',
    "RuntimeError: CUDA error: out of memory",
)
