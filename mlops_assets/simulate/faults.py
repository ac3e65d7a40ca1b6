"""Fault injectors: each turns a FaultSpec into its multi-source signature inside [start, end).

Injectors change the workload (GPU state) and append log records; the GPU physics in gpu.py then
produces the secondary effects (temperatures, clocks, throttle bits) consistently.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from mlops_assets.simulate import containers as ct
from mlops_assets.simulate.containers import ts_py, ts_rfc, ts_vllm
from mlops_assets.simulate.gpu import Workload
from mlops_assets.simulate.host import NS, HostLog
from mlops_assets.simulate.normal import mark_vllm_down
from mlops_assets.simulate.schedule import FaultSpec

SITE = "/usr/local/lib/python3.12/dist-packages"


def _traceback(frames: list[tuple[str, int, str, str]], error: str) -> str:
    lines = ["Traceback (most recent call last):"]
    for path, line, func, code in frames:
        lines += [f'  File "{path}", line {line}, in {func}', f"    {code}"]
    return "\n".join([*lines, error])


def _cuda_crash(host: HostLog, wl: Workload, ns: int, error: str) -> None:
    """The inference server hits a CUDA error mid-request, dumps a traceback and exits 1."""
    tb = _traceback(
        [
            (
                f"{SITE}/vllm/engine/async_llm_engine.py",
                1098,
                "generate",
                "async for output in await self.add_request(",
            ),
            (
                f"{SITE}/vllm/worker/model_runner.py",
                1654,
                "execute_model",
                "hidden_or_intermediate_states = model_executable(",
            ),
            (
                f"{SITE}/torch/nn/modules/module.py",
                1747,
                "_call_impl",
                "return forward_call(*args, **kwargs)",
            ),
        ],
        f"RuntimeError: CUDA error: {error}",
    )
    host.docker_line(
        "vllm", ns, "stdout", f"ERROR {ts_vllm(ns)} async_llm_engine.py:65] Engine background task failed"
    )
    host.docker_line("vllm", ns + 1_000_000, "stderr", tb)
    host.docker_line(
        "vllm",
        ns + 9_000_000,
        "stderr",
        "CUDA kernel errors might be asynchronously reported at some other API call, "
        "so the stacktrace below might be incorrect.\nFor debugging consider passing CUDA_LAUNCH_BLOCKING=1",
    )
    ct.die(host, "vllm", ns + 2 * NS, 1)


def fan_failure(host: HostLog, wl: Workload, f: FaultSpec, s: int, e: int) -> None:
    g = 0 if f.gpu is None else f.gpu
    sel = wl.mask(s, e)
    wl.fan_failed[sel, g] = True
    # a fine-tuning job keeps the board busy, which is what drives it into thermal runaway
    wl.util[sel, g] = np.clip(94 + host.rng.normal(0, 3, sel.sum()), 0, 100)
    wl.mem[sel, g] = np.maximum(wl.mem[sel, g], 36_200)


def xid79(host: HostLog, wl: Workload, f: FaultSpec, s: int, e: int) -> None:
    g = 0 if f.gpu is None else f.gpu
    pci, pid = host.kernel_pci(g), host.next_pid()
    host.kernel(s, f"NVRM: GPU at {pci}: {host.uuids[g]}", 3)
    host.kernel(s + 1000, f"NVRM: Xid ({pci}): 79, pid={pid}, name=python3, GPU has fallen off the bus.", 3)
    host.kernel(s + 2000, f"NVRM: GPU {pci[4:]}.0: GPU has fallen off the bus.", 3)
    for i, part in enumerate(
        (
            "A GPU crash dump has been created. If possible, please run",
            "nvidia-bug-report.sh as root to collect this data before",
            "the NVIDIA kernel module is unloaded.",
        )
    ):
        host.kernel(s + 3000 + i, f"NVRM: {part}", 3)
    sel = wl.mask(s, e)
    wl.missing[sel, g] = True
    for i in np.flatnonzero(sel).tolist():
        wl.error_lines.setdefault(i, []).append(
            f"Unable to determine the device handle for GPU {host.pci[g]}: Unknown Error"
        )
    _cuda_crash(host, wl, s + 800_000_000, "unspecified launch failure")
    mark_vllm_down(wl, s, e + ct.VLLM_LOAD_S * NS)
    # restart policy keeps trying; engine init fails on the missing device every time
    ns = s + 3 * NS
    while ns + 40 * NS < e:
        ct.start(host, "vllm", ns, output=False)
        host.docker_line(
            "vllm",
            ns + 3 * NS,
            "stdout",
            f"INFO {ts_vllm(ns + 3 * NS)} api_server.py:528] vLLM API server version 0.6.3",
        )
        host.docker_line(
            "vllm",
            ns + 6 * NS,
            "stderr",
            _traceback(
                [
                    (
                        f"{SITE}/vllm/executor/multiproc_gpu_executor.py",
                        58,
                        "_init_executor",
                        "cuda_device_count = cuda_device_count_stateless()",
                    )
                ],
                "RuntimeError: CUDA driver initialization failed, you might not have a CUDA gpu.",
            ),
        )
        ct.die(host, "vllm", ns + 7 * NS, 1)
        ns += int(min(60, 0.1 * 2 ** min(10, (ns - s) // (30 * NS)))) * NS + 8 * NS
    host.journal(
        e - 20 * NS,
        "sudo",
        f"    ops : TTY=pts/1 ; PWD=/home/ops ; USER=root ; COMMAND=/usr/bin/nvidia-smi -r -i {g}",
        pid=host.next_pid(),
        uid=1002,
    )
    ct.start(host, "vllm", e)


def ecc_errors(host: HostLog, wl: Workload, f: FaultSpec, s: int, e: int) -> None:
    g = 0 if f.gpu is None else f.gpu
    pci, rng = host.kernel_pci(g), host.rng
    n = int(rng.integers(1, 4))
    times = sorted(s + int(x) for x in rng.integers(0, max(1, (e - s) // 2), n))
    times[0] = s
    for k, ns in enumerate(times):
        host.kernel(
            ns,
            f"NVRM: Xid ({pci}): 48, pid={host.next_pid()}, name=python3, An uncorrectable double bit error (DBE) "
            f"has been detected on GPU in the framebuffer at partition {int(rng.integers(0, 8))}, subpartition 0.",
            3,
        )
        host.kernel(
            ns + 5000,
            f"NVRM: Xid ({pci}): 63, pid='<unknown>', name=<unknown>, Row Remapper: New row "
            f"(0x{int(rng.integers(0, 2**31)):016x}) marked for remapping, reset gpu to activate.",
            4,
        )
        wl.ecc[wl.mask(ns, e), g] += int(rng.integers(1, 4))
        _cuda_crash(host, wl, ns + 300_000_000, "uncorrectable ECC error encountered")
        up = ns + 3 * NS
        ct.start(host, "vllm", up)
        mark_vllm_down(wl, ns, min(e, up + ct.VLLM_LOAD_S * NS))
        if k == len(times) - 1:
            host.kernel(
                min(e - NS, ns + 60 * NS),
                f"NVRM: Xid ({pci}): 64, pid='<unknown>', name=<unknown>, "
                "Row Remapper Error: failed to record row remapping, reset gpu to activate.",
                3,
            )


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
    tb = _traceback(
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


def power_cap(host: HostLog, wl: Workload, f: FaultSpec, s: int, e: int) -> None:
    cap = max(host.model.min_power_limit_w, round(host.model.power_limit_w * 0.35))
    wl.power_limit[wl.mask(s, e), :] = cap
    for ns, watts in ((s + 500_000_000, cap), (e - 2 * NS, host.model.power_limit_w)):
        host.journal(
            ns,
            "sudo",
            f"  ops : TTY=pts/3 ; PWD=/home/ops ; USER=root ; COMMAND=/usr/bin/nvidia-smi -pl {watts:.0f}",
            pid=host.next_pid(),
            uid=1002,
        )
    host.journal(
        s,
        "sudo",
        "pam_unix(sudo:session): session opened for user root(uid=0) by ops(uid=1002)",
        pid=host.next_pid(),
    )


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
                _traceback(
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


INJECTORS: dict[str, Callable[[HostLog, Workload, FaultSpec, int, int], None]] = {
    "fan_failure": fan_failure,
    "xid79_fell_off_bus": xid79,
    "ecc_errors": ecc_errors,
    "container_oom": container_oom,
    "unit_crash_loop": unit_crash_loop,
    "container_restart_loop": container_restart_loop,
    "power_cap": power_cap,
    "ssh_bruteforce": ssh_bruteforce,
    "disk_full": disk_full,
}
