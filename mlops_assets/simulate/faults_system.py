"""Host and container fault signatures: OOM kills, unit and container crash loops, SSH brute force, disk full."""

from __future__ import annotations

import numpy as np

from mlops_assets.simulate import containers as ct
from mlops_assets.simulate.containers import ts_py, ts_rfc
from mlops_assets.simulate.fault_lines import SITE, traceback_text
from mlops_assets.simulate.gpu import Workload
from mlops_assets.simulate.host import NS, HostLog
from mlops_assets.simulate.normal import mark_vllm_down
from mlops_assets.simulate.schedule import FaultSpec


def container_oom(host: HostLog, wl: Workload, f: FaultSpec, s: int, e: int) -> None:
    c, rng = host.containers["jupyter"], host.rng
    n = int(rng.integers(2, 5))
    for ns in sorted(s + int(x) for x in rng.integers(0, max(1, e - s - 10 * NS), n)):
        pid = host.next_pid()
        rss = int(rng.integers(60_000_000, 62_000_000))
        scope = f"/system.slice/docker-{c.id}.scope"
        host.kernel(ns, "python3 invoked oom-killer: gfp_mask=0xcc0(GFP_KERNEL), order=0, oom_score_adj=0", 4)
        host.kernel(
            ns + 2000,
            f"oom-kill:constraint=CONSTRAINT_MEMCG,nodemask=(null),cpuset=docker-{c.id}.scope,mems_allowed=0-1,"
            f"oom_memcg={scope},task_memcg={scope},task=python3,pid={pid},uid=1000",
            6,
        )
        host.kernel(
            ns + 3000,
            f"Memory cgroup out of memory: Killed process {pid} (python3) total-vm:{rss + 9_812_344}kB, "
            f"anon-rss:{rss}kB, file-rss:{int(rng.integers(40_000, 90_000))}kB, shmem-rss:0kB, UID:1000 "
            f"pgtables:{rss // 4000}kB oom_score_adj:0",
            3,
        )
        host.kernel(
            ns + 60_000_000,
            f"oom_reaper: reaped process {pid} (python3), now anon-rss:0kB, file-rss:0kB, shmem-rss:0kB",
            6,
        )
        ct.die(host, "jupyter", ns + 5_000_000, 137, oom=True)
        ct.start(host, "jupyter", ns + 1_100_000_000)


UNITS = {
    "nvidia-fabricmanager.service": (
        "nv-fabricmanager",
        "NVIDIA fabric manager service",
        "request to query NVSwitch device information from NVSwitch driver failed",
    ),
    "dcgm-exporter.service": (
        "dcgm-exporter",
        "DCGM Exporter",
        'level=fatal msg="Error starting nv-hostengine: DCGM initialization error"',
    ),
    "model-sync.service": (
        "python3",
        "Model weights sync",
        'botocore.exceptions.EndpointConnectionError: Could not connect to the endpoint URL: "https://s3.internal/models"',
    ),
}


def unit_crash_loop(host: HostLog, wl: Workload, f: FaultSpec, s: int, e: int) -> None:
    unit = sorted(UNITS)[int(host.rng.integers(0, len(UNITS)))]
    ident, desc, error = UNITS[unit]

    def sysd(ns: int, msg: str, prio: int = 6) -> None:
        host.journal(ns, "systemd", msg, priority=prio, unit=None, pid=1, transport="journal")

    ns, n = s, 0
    while ns + 12 * NS < e - 2 * NS:
        pid = host.next_pid()
        sysd(ns, f"Started {unit} - {desc}.")
        host.journal(ns + 900_000_000, ident, error, priority=3, unit=unit, pid=pid, transport="stdout")
        sysd(ns + 1_000_000_000, f"{unit}: Main process exited, code=exited, status=1/FAILURE", 5)
        sysd(ns + 1_001_000_000, f"{unit}: Failed with result 'exit-code'.", 4)
        n += 1
        sysd(ns + 11_000_000_000, f"{unit}: Scheduled restart job, restart counter is at {n}.")
        sysd(ns + 11_001_000_000, f"Stopped {unit} - {desc}.")
        ns += 11_002_000_000
    sysd(ns, f"{unit}: Start request repeated too quickly.", 4)
    sysd(ns + 1000, f"{unit}: Failed with result 'exit-code'.", 4)
    sysd(ns + 2000, f"Failed to start {unit} - {desc}.", 3)


def container_restart_loop(host: HostLog, wl: Workload, f: FaultSpec, s: int, e: int) -> None:
    started = ct.restart(host, "vllm", s)  # a config change is rolled out with a routine restart
    mark_vllm_down(wl, s, e + ct.VLLM_LOAD_S * NS)
    tb = traceback_text(
        [
            ("<frozen runpy>", 198, "_run_module_as_main", "return _run_code(code, main_globals, None,"),
            (
                f"{SITE}/vllm/entrypoints/openai/api_server.py",
                585,
                "<module>",
                "uvloop.run(run_server(args))",
            ),
            (f"{SITE}/vllm/engine/arg_utils.py", 1021, "create_engine_config", "raise ValueError("),
        ],
        "ValueError: The model's max seq len (131072) is larger than the maximum number of tokens that can be stored in "
        "KV cache (98304). Try increasing `gpu_memory_utilization` or decreasing `max_model_len` when initializing the engine.",
    )
    ns = started
    while True:
        fail = ns + int(host.rng.integers(18, 35)) * NS
        host.docker_line("vllm", fail, "stderr", tb)
        ct.die(host, "vllm", fail + 200_000_000, 1)
        ns = fail + 400_000_000
        if ns + 40 * NS >= e:
            break
        ct.start(host, "vllm", ns, output=ns + 5 * NS < e)
    ct.start(host, "vllm", e)


def ssh_bruteforce(host: HostLog, wl: Workload, f: FaultSpec, s: int, e: int) -> None:
    rng = host.rng
    n = int((e - s) / (60 * NS) * rng.integers(150, 320))
    times = np.sort(rng.integers(s, e - NS, n))
    users = ("admin", "root", "test", "ubuntu", "user", "postgres", "oracle", "git", "deploy", "ftpuser")
    ip = f"203.0.113.{int(rng.integers(2, 250))}"
    for ns, u, port in zip(
        times.tolist(),
        rng.integers(0, len(users), n).tolist(),
        rng.integers(30000, 65000, n).tolist(),
        strict=True,
    ):
        pid = host.next_pid()
        host.journal(
            ns, "sshd", f"Invalid user {users[u]} from {ip} port {port}", unit="ssh.service", pid=pid
        )
        host.journal(
            ns + 900_000_000,
            "sshd",
            f"Failed password for invalid user {users[u]} from {ip} port {port} ssh2",
            priority=5,
            unit="ssh.service",
            pid=pid,
        )


def disk_full(host: HostLog, wl: Workload, f: FaultSpec, s: int, e: int) -> None:
    rng = host.rng
    for ns in sorted(s + int(x) for x in rng.integers(0, e - s - 90 * NS, int((e - s) / NS / 25))):
        c = host.containers[("vllm", "jupyter", "postgres")[int(rng.integers(0, 3))]]
        r = int(rng.integers(0, 5))
        if r == 0:
            host.journal(
                ns,
                "dockerd",
                f'time="{ts_rfc(ns)}" level=error msg="Error writing log message" container={c.id} driver=json-file '
                f'error="write /var/lib/docker/containers/{c.id}/{c.id}-json.log: no space left on device"',
                priority=3,
                unit="docker.service",
                pid=ct.DOCKERD_PID,
                transport="stdout",
            )
        elif r == 1:
            host.journal(
                ns,
                "containerd",
                f'time="{ts_rfc(ns)}" level=error msg="failed to write snapshot" error="write '
                f'/var/lib/containerd/io.containerd.snapshotter.v1.overlayfs/metadata.db: no space left on device"',
                priority=3,
                unit="containerd.service",
                pid=ct.CONTAINERD_PID,
                transport="stdout",
            )
        elif r == 2:
            host.docker_line(
                "postgres",
                ns,
                "stderr",
                f"{ts_py(ns)} UTC [{host.next_pid()}] ERROR:  could not extend file "
                f'"base/16384/{int(rng.integers(16000, 17000))}": No space left on device',
            )
            host.docker_line(
                "postgres",
                ns + 1000,
                "stderr",
                f"{ts_py(ns)} UTC [{host.next_pid()}] HINT:  Check free disk space.",
            )
        elif r == 3:
            host.docker_line(
                "vllm",
                ns,
                "stderr",
                traceback_text(
                    [(f"{SITE}/vllm/entrypoints/logger.py", 41, "log_inputs", "self._file.write(line)")],
                    "OSError: [Errno 28] No space left on device",
                ),
            )
        else:
            host.docker_line(
                "jupyter",
                ns,
                "stderr",
                f"[E {ts_py(ns)} ServerApp] Error while saving file: experiments/run.ipynb "
                "[Errno 28] No space left on device",
            )
            host.journal(
                ns + NS,
                "CRON",
                "(CRON) error (can't write pidfile: No space left on device)",
                priority=3,
                unit="cron.service",
                pid=host.next_pid(),
            )
    host.journal(
        e - 60 * NS,
        "sudo",
        "    ops : TTY=pts/0 ; PWD=/home/ops ; USER=root ; COMMAND=/usr/bin/docker system prune -af",
        pid=host.next_pid(),
        uid=1002,
    )
