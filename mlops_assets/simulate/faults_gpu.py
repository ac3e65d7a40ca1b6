"""GPU fault signatures: fan stall, Xid 79 (fallen off the bus), ECC errors, power cap, cooling drift."""

from __future__ import annotations

import numpy as np

from mlops_assets.simulate import containers as ct
from mlops_assets.simulate.containers import ts_vllm
from mlops_assets.simulate.fault_lines import SITE, cuda_crash, traceback_text
from mlops_assets.simulate.gpu import Workload
from mlops_assets.simulate.host import NS, HostLog
from mlops_assets.simulate.normal import mark_vllm_down
from mlops_assets.simulate.schedule import FaultSpec


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
    cuda_crash(host, wl, s + 800_000_000, "unspecified launch failure")
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
            traceback_text(
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
        cuda_crash(host, wl, ns + 300_000_000, "uncorrectable ECC error encountered")
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


def power_cap(host: HostLog, wl: Workload, f: FaultSpec, s: int, e: int) -> None:
    caps = np.maximum(host.param("min_power_limit_w"), np.round(host.param("power_limit_w") * 0.35))
    wl.power_limit[wl.mask(s, e), :] = caps
    cap = float(caps[0])
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


def thermal_drift(host: HostLog, wl: Workload, f: FaultSpec, s: int, e: int) -> None:
    """Cooling degrades slowly (a clogging heatsink, a failing pump or chassis fan) under a steady job.

    The job holds the card at ~90 % from before the fault, so the load is constant; the thermal
    resistance then grows linearly, to +35 % at the end (~+13 degC at that power). No log line says so.
    """
    g = 0 if f.gpu is None else f.gpu
    job = wl.mask(s - 30 * 60 * NS, e)
    wl.util[job, g] = np.clip(90 + host.rng.normal(0, 2, job.sum()), 0, 100)
    wl.mem[job, g] = np.maximum(wl.mem[job, g], 0.6 * host.models[g].mem_total_mib)
    sel = wl.mask(s, e)
    wl.cooling[sel, g] = 1.0 + 0.35 * (wl.t_ns[sel] - s) / max(1, e - s)
