"""Normal (fault-free) behaviour of a GPU node: daily load cycle, inference bursts, notebooks,
nightly batch jobs and restarts, and the benign noise real hosts log all day long.

The benign noise deliberately overlaps with fault vocabulary (single failed logins, scanner
probes, restarts with exit code 0, brief power-cap bits at peak, thermal peaks, an occasional
Xid 43 when a notebook kernel is killed) so that faults are not trivially separable.
"""

from __future__ import annotations

import numpy as np

from mlops_assets.simulate import containers as ct
from mlops_assets.simulate.gpu import Workload, new_workload
from mlops_assets.simulate.host import NS, HostLog

HOUR = 3600 * NS
USERS = ("alice", "bob", "chen", "dmitri")


def hour_of_day(ns: np.ndarray) -> np.ndarray:
    return (ns % (24 * HOUR)) / HOUR


def daytime(ns: np.ndarray, phase_h: float = 0.0) -> np.ndarray:
    """0 at night, 1 at the mid-afternoon peak (UTC working hours); ``phase_h`` shifts the peak later."""
    h = hour_of_day(np.asarray(ns) - int(phase_h * HOUR))
    return np.clip(np.sin(np.pi * (h - 6.5) / 15.0), 0, 1) ** 1.3 * ((h > 6.5) & (h < 21.5))


def poisson_times(host: HostLog, rate_per_hour: float, weight: np.ndarray | None = None) -> list[int]:
    """Event times over the host's period; ``weight(minute)`` modulates the rate (e.g. daytime)."""
    minutes = np.arange(host.start_ns, host.end_ns, 60 * NS)
    lam = np.full(len(minutes), rate_per_hour / 60.0) * (1.0 if weight is None else weight)
    counts = host.rng.poisson(lam)
    base = np.repeat(minutes, counts)
    offs = host.rng.integers(0, 60 * NS, size=len(base))
    return sorted(int(x) for x in base + offs if x < host.end_ns)


def daily(host: HostLog, hour: float, jitter_s: int) -> list[int]:
    """One time per simulated day at ``hour`` (UTC) plus up to ``jitter_s`` seconds."""
    day0 = host.start_ns - host.start_ns % (24 * HOUR)
    out = []
    for d in range(day0, host.end_ns, 24 * HOUR):
        ns = d + int(hour * HOUR) + int(host.rng.integers(0, jitter_s + 1)) * NS
        if host.start_ns <= ns < host.end_ns:
            out.append(ns)
    return out


def _next_restart(ns: int) -> int:
    """The first 03:00 UTC after ``ns`` (the nightly restart frees notebook GPU memory)."""
    return (ns - 3 * HOUR) // (24 * HOUR) * (24 * HOUR) + 27 * HOUR


def plan_workload(host: HostLog, interval_s: float, extra_load: tuple[int, float] | None = None) -> Workload:
    """Load curve and per-GPU utilisation/memory of a normal day.

    ``extra_load=(since_ns, delta)``: from ``since_ns`` on the inference servers get ``delta`` more of
    their capacity in requests (a new deployment routed to them: utilisation and power rise, the
    temperatures follow the power). Draws no random numbers, so the rest of the output is unchanged.
    """
    rng = host.rng
    n = int((host.end_ns - host.start_ns) // int(interval_s * NS))
    t_ns = (
        host.start_ns + np.arange(n, dtype=np.int64) * int(interval_s * NS) + rng.integers(0, 40_000_000, n)
    )
    phase = host.load_phase_h
    load = 0.06 + 0.6 * daytime(t_ns, phase)
    minutes = np.arange(host.start_ns, host.end_ns, 60 * NS)
    for b in poisson_times(host, 1.0, 0.3 + daytime(minutes, phase)):
        dur = float(np.clip(rng.exponential(420), 60, 1500)) * NS
        load = load + rng.uniform(0.15, 0.45) * ((t_ns >= b) & (t_ns < b + dur))
    kernel = np.exp(-np.arange(30) / 8.0)
    noise = np.convolve(rng.normal(0, 0.05, n), kernel / kernel.sum() * 3, mode="same")
    if extra_load is not None:
        load = load + float(extra_load[1]) * (t_ns >= extra_load[0])
    load = np.clip(load + noise, 0, 1)
    wl = new_workload(host, load, t_ns)
    G, mem_total = host.gpus, host.param("mem_total_mib")
    for g in wl.vllm_gpus:
        wl.util[:, g] = 100 * np.clip(load * rng.uniform(0.95, 1.08) + rng.normal(0, 0.02, n), 0, 1)
        wl.util[:, g] = np.where(wl.util[:, g] < 3, 0, wl.util[:, g])
        wl.mem[:, g] = 0.9 * mem_total[g] + rng.integers(-300, 300)
    rest = [g for g in range(G) if g not in wl.vllm_gpus]
    notebook_gpus, batch_gpus = rest[: max(0, G // 4)], rest[max(0, G // 4) :]
    for s in poisson_times(host, 0.35, daytime(minutes, phase)):
        e = s + int(rng.integers(15, 150)) * 60 * NS
        sel = (t_ns >= s) & (t_ns < e)
        for g in notebook_gpus:
            wave = 82 + 12 * np.sin(np.arange(sel.sum()) / rng.uniform(8, 30)) + rng.normal(0, 4, sel.sum())
            wl.util[sel, g] = np.clip(wave, 5, 100)
            wl.mem[sel, g] = rng.integers(min(18_000, mem_total[g] // 2), min(42_000, mem_total[g] - 2000))
            # the idle notebook kernel keeps a CUDA context until the nightly 03:00 restart
            idle = (t_ns >= e) & (t_ns < _next_restart(e)) & (wl.util[:, g] == 0)
            wl.mem[idle, g] = np.maximum(wl.mem[idle, g], 612)
        if rng.random() < 0.15:  # user interrupts a CUDA kernel: benign Xid 43
            g = notebook_gpus[0] if notebook_gpus else 0
            host.kernel(
                e - NS,
                f"NVRM: Xid ({host.kernel_pci(g)}): 43, pid={host.next_pid()}, name=python3, Ch 00000008",
            )
    for s in daily(host, 2.0, 600):
        e = s + int(rng.integers(25, 45)) * 60 * NS
        sel = (t_ns >= s) & (t_ns < e)
        for g in batch_gpus:
            wl.util[sel, g] = np.clip(96 + rng.normal(0, 3, sel.sum()), 0, 100)
            wl.mem[sel, g] = min(30_500, 0.8 * mem_total[g])
        _batch_job(host, s, e)
    return wl


def _batch_job(host: HostLog, s: int, e: int) -> None:
    """Nightly embedding refresh: cron starts a `docker run --rm` container."""
    from mlops_assets.simulate.host import Container

    pid = host.next_pid()
    host.journal(
        s - 300_000_000, "CRON", "(root) CMD (/usr/local/bin/embed-refresh.sh)", unit="cron.service", pid=pid
    )
    cid = "".join(f"{int(b):02x}" for b in host.rng.integers(0, 256, size=32))
    name = f"embed-refresh-{s // NS % 100000}"
    host.containers[name] = Container(
        name, "registry.local/embedder:2.3.1", "python embed.py", "", cid, s, s, removed=True
    )
    host.event(s - 200_000_000, name, "create")
    ct.start(host, name, s, output=False)
    ct.die(host, name, e, 0)
    host.event(e + 30_000_000, name, "destroy")
    host.containers[name].running = False


def full_load(host: HostLog, wl: Workload, gpu: int, start_ns: int, end_ns: int) -> None:
    """A long training job holding one card at ~98 % (normal: a hot card under full load is no fault)."""
    sel = wl.mask(start_ns, end_ns)
    wl.util[sel, gpu] = np.clip(98 + host.rng.normal(0, 1.5, sel.sum()), 0, 100)
    wl.mem[sel, gpu] = np.maximum(wl.mem[sel, gpu], 0.85 * host.models[gpu].mem_total_mib)


def apply_vllm_down(wl: Workload) -> None:
    """An inference server that is not up holds no GPU memory and does no work."""
    for g in wl.vllm_gpus:
        wl.util[wl.vllm_down, g] = 0
        wl.mem[wl.vllm_down, g] = 0


def mark_vllm_down(wl: Workload, start_ns: int, end_ns: int) -> None:
    wl.vllm_down |= wl.mask(start_ns, end_ns)


def nightly_restarts(host: HostLog, wl: Workload) -> None:
    """Routine 03:00 restart of the inference server and the notebook server (exit code 0).

    It happens whatever else is going on (a cron job does not know about incidents), so a fault near
    03:00 shares its minutes with the restart's lines: the simulator never looks at the labels.
    """
    for ns in daily(host, 3.0, 240):
        pid = host.next_pid()
        host.journal(
            ns - NS,
            "CRON",
            "(root) CMD (/usr/local/bin/nightly-restart.sh vllm jupyter)",
            unit="cron.service",
            pid=pid,
        )
        started = ct.restart(host, "vllm", ns)
        mark_vllm_down(wl, ns, started + ct.VLLM_LOAD_S * NS)
        ct.restart(host, "jupyter", ns + 20 * NS)
