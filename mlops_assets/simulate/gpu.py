"""GPU telemetry: workload arrays (T samples x G GPUs) -> physics-ish metrics -> nvidia-smi CSV.

Everything is vectorised over the whole simulated period so that 2 hosts x 8 GPUs x 24 h at 10 s
render in well under a second. Faults change the *workload* arrays (fan state, power limit,
missing GPUs, ECC counters) and the same physics then produces their consequences.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from mlops_assets.simulate import formats as fmt
from mlops_assets.simulate.host import NS, HostLog

# clocks_event_reasons bits (nvmlClocksEventReasons)
GPU_IDLE = 0x1
SW_POWER_CAP = 0x4
SW_THERMAL = 0x20
HW_THERMAL = 0x40

AMBIENT_C = 29.0
TAU_S = 90.0  # thermal time constant of a loaded board


@dataclass
class Workload:
    """What the GPUs of one host are asked to do, plus the hardware state faults change."""

    t_ns: np.ndarray  # (T,) sample times
    load: np.ndarray  # (T,) inference request intensity 0..1
    util: np.ndarray  # (T, G) requested utilisation 0..100 (0 = idle)
    mem: np.ndarray  # (T, G) MiB in use
    vllm_gpus: list[int]
    vllm_down: np.ndarray  # (T,) inference server not serving (restart, crash, fault)
    power_limit: np.ndarray  # (T, G) W
    fan_failed: np.ndarray  # (T, G) bool
    missing: np.ndarray  # (T, G) bool: GPU fell off the bus, absent from the sample
    ecc: np.ndarray  # (T, G) volatile uncorrected ECC counter
    cooling: np.ndarray  # (T, G) thermal resistance factor: 1 = clean heatsink, > 1 = degraded cooling
    error_lines: dict[int, list[str]] = field(default_factory=dict)  # sample -> nvidia-smi errors
    ambient_offset_c: np.ndarray | None = None  # (T,) room warmer than AMBIENT_C by this much

    def mask(self, start_ns: int, end_ns: int) -> np.ndarray:
        """Boolean (T,) mask of samples inside [start_ns, end_ns)."""
        return (self.t_ns >= start_ns) & (self.t_ns < end_ns)


def new_workload(host: HostLog, load: np.ndarray, t_ns: np.ndarray) -> Workload:
    """An all-idle workload with default hardware state; normal.py and faults.py fill it in."""
    T, G = len(t_ns), host.gpus
    return Workload(
        t_ns=t_ns,
        load=load,
        util=np.zeros((T, G)),
        mem=np.zeros((T, G)),
        vllm_gpus=list(range(max(1, G // 2))),
        vllm_down=np.zeros(T, dtype=bool),
        power_limit=np.tile(host.param("power_limit_w").astype(float), (T, 1)),
        fan_failed=np.zeros((T, G), dtype=bool),
        missing=np.zeros((T, G), dtype=bool),
        ecc=np.zeros((T, G), dtype=np.int64),
        cooling=np.ones((T, G)),
    )


def _ema(target: np.ndarray, dt_s: float, start: np.ndarray) -> np.ndarray:
    """First-order lag (heat capacity) along time: temperature follows power with delay."""
    alpha = 1.0 - np.exp(-dt_s / TAU_S)
    out = np.empty_like(target)
    cur = start.astype(float)
    for i in range(target.shape[0]):
        cur = cur + alpha * (target[i] - cur)
        out[i] = cur
    return out


def render_csv(host: HostLog, wl: Workload) -> str:
    """The whole `nvidia-smi --query-gpu=... --format=csv,nounits -l N` output of the host."""
    rng = host.rng
    T, G = wl.util.shape
    limit_w, idle_w = host.param("power_limit_w"), host.param("idle_power_w")
    dt_s = float(np.median(np.diff(wl.t_ns))) / NS if T > 1 else 10.0
    util = np.clip(wl.util + rng.normal(0, 2.5, (T, G)) * (wl.util > 0), 0, 100)
    busy = util >= 1.0
    p_max = limit_w * 0.965
    power = idle_w + rng.normal(0, 1.2, (T, G)) + (p_max - idle_w) * (util / 100) ** 0.85
    power += rng.normal(0, 1, (T, G)) * limit_w * 0.02 * busy
    clock = np.where(
        busy, host.param("max_sm_mhz") - rng.integers(0, 4, (T, G)) * 15, host.param("idle_sm_mhz")
    ).astype(float)
    reasons = np.where(busy, 0, GPU_IDLE).astype(np.int64)

    capped = power > wl.power_limit
    clock = np.where(capped, clock * np.clip(wl.power_limit / power, 0.3, 1.0) ** 0.8, clock)
    power = np.where(capped, wl.power_limit - np.abs(rng.normal(0, 1.5, (T, G))), power)
    reasons |= np.where(capped, SW_POWER_CAP, 0)

    # heat: fan-cooled boards shed heat through their fan; a dead fan raises the rise by ~60 %
    k = host.param("thermal_rise_c") / limit_w
    ambient = AMBIENT_C + 1.5 * np.sin(2 * np.pi * ((wl.t_ns / NS / 3600) % 24 - 10) / 24)[:, None]
    if wl.ambient_offset_c is not None:  # an environment change: the room got warmer
        ambient = ambient + wl.ambient_offset_c[:, None]
    target = ambient + k * power * np.where(wl.fan_failed, 1.6, 1.0) * wl.cooling
    temp = _ema(target, dt_s, target[0]) + rng.normal(0, 0.4, (T, G))
    sw_th, hw_th = temp >= 87.0, temp >= 92.0
    reasons |= np.where(sw_th, SW_THERMAL, 0) | np.where(hw_th, HW_THERMAL, 0)
    slow = np.clip(1.0 - (temp - 85.0) * 0.07, 0.4, 1.0)
    clock = np.where(sw_th & busy, clock * slow, clock)
    power = np.where(sw_th & busy, power * slow**1.3, power)
    temp = np.minimum(temp, 104.0)

    util_mem = np.clip(util * 0.38 + rng.normal(0, 1.5, (T, G)) * busy, 0, 100)
    mem = np.clip(wl.mem + rng.normal(0, 6, (T, G)) * (wl.mem > 100), 0, host.param("mem_total_mib"))
    fan = np.clip(30 + (temp - 45.0) * 1.7 + rng.normal(0, 0.5, (T, G)), 30, 100)
    fan = np.where(wl.fan_failed, 0, fan)
    pstate = np.where(busy, host.param("busy_pstate"), host.param("idle_pstate"))

    # health fields as drivers 590/595 print them (realdata captures): HBM boards report a memory
    # temperature and stay at their PCIe gen; GDDR boards print N/A and drop the link gen when idle;
    # Ampere and later use row remapping, so retired_pages.pending is [N/A] on both models
    hbm = np.array(["HBM" in model.name for model in host.models])  # (G,) per card
    mem_temp = [
        [str(v) if h else fmt.NVIDIA_SMI_NA_PLAIN for v, h in zip(row, hbm, strict=True)]
        for row in np.rint(temp + 6.0 + rng.normal(0, 0.5, (T, G))).astype(int).tolist()
    ]
    link_gen = np.where(busy | hbm[None, :], np.where(hbm, 5, 4)[None, :], 1).tolist()
    ts = fmt.smi_timestamps(wl.t_ns)
    static = [f"{g}, {host.uuids[g]}, {host.models[g].name}, {host.pci[g]}" for g in range(G)]
    cols = zip(
        np.rint(temp).astype(int).tolist(),
        np.rint(util).astype(int).tolist(),
        np.rint(util_mem).astype(int).tolist(),
        np.rint(mem).astype(int).tolist(),
        np.round(power, 2).tolist(),
        wl.power_limit.tolist(),
        np.rint(fan).astype(int).tolist(),
        np.rint(clock).astype(int).tolist(),
        pstate.tolist(),
        reasons.tolist(),
        wl.ecc.tolist(),
        wl.missing.tolist(),
        mem_temp,
        link_gen,
        strict=True,
    )
    out = [fmt.NVIDIA_SMI_HEADER]
    mtot = [m.mem_total_mib for m in host.models]
    fans = [m.has_fan for m in host.models]
    for i, (te, ut, um, me, pw, pl, fa, ck, ps, rs, ec, miss, mt, lg) in enumerate(cols):
        stamp = ts[i]
        for g in range(G):
            if miss[g]:
                continue
            fan_s = str(fa[g]) if fans[g] else fmt.NVIDIA_SMI_NA
            out.append(
                f"{stamp}, {static[g]}, {te[g]}, {ut[g]}, {um[g]}, {me[g]}, {mtot[g]}, {pw[g]:.2f}, "
                f"{pl[g]:.2f}, {fan_s}, {ck[g]}, {ps[g]}, 0x{rs[g]:016x}, {ec[g]}, {ec[g]}, No, No, "
                f"{fmt.NVIDIA_SMI_NA}, {mt[g]}, {lg[g]}, 16"
            )
        out.extend(wl.error_lines.get(i, ()))
    return "\n".join(out) + "\n"
