"""Which faults happen where and when: fault kinds, their signature sources, the seeded default
schedule, and the ground-truth labels file (`labels.csv`) derived from it."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

# kind -> sources in which its signature appears (the parser/feature names of sources/base.SOURCES)
FAULT_SOURCES: dict[str, tuple[str, ...]] = {
    "fan_failure": ("gpu",),
    "xid79_fell_off_bus": ("gpu", "kernel", "docker_logs", "docker_events"),
    "ecc_errors": ("gpu", "kernel", "docker_logs", "docker_events"),
    "container_oom": ("kernel", "docker_events"),
    "unit_crash_loop": ("journal",),
    "container_restart_loop": ("gpu", "docker_logs", "docker_events"),
    "power_cap": ("gpu", "journal"),
    "ssh_bruteforce": ("journal",),
    "disk_full": ("journal", "docker_logs"),
    "thermal_drift": ("gpu",),
}
FAULT_KINDS: tuple[str, ...] = tuple(FAULT_SOURCES)
LABEL_COLUMNS = ("host", "start", "end", "fault", "sources")
MIN_MINUTES, MAX_MINUTES, GAP_MINUTES = 5, 40, 30
# kinds that unfold over hours, not minutes: (min, max) minutes
LONG_KINDS: dict[str, tuple[int, int]] = {"thermal_drift": (120, 240)}


@dataclass(frozen=True)
class FaultSpec:
    """One injected fault on ``host`` over the half-open UTC window [start, end)."""

    host: str
    kind: str
    start: datetime
    end: datetime
    gpu: int | None = None  # affected GPU index for GPU faults; None = chosen by the simulator

    @property
    def sources(self) -> tuple[str, ...]:
        return FAULT_SOURCES[self.kind]


def default_schedule(
    hosts: list[str], gpus: int | dict[str, int], start: datetime, hours: float, seed: int
) -> list[FaultSpec]:
    """Every fault kind once, spread over hosts and time, seeded; fan failures go to the first
    host because its boards have fans (gpu-node-01, -03, ... of the uniform fleet; the home box of
    the mixed one). ``gpus`` is the GPU count of every host, or per host."""
    count = gpus if isinstance(gpus, dict) else dict.fromkeys(hosts, gpus)
    rng = np.random.default_rng([seed, 0xFA17])
    kinds = [FAULT_KINDS[i] for i in rng.permutation(len(FAULT_KINDS))]
    per_host: dict[str, list[str]] = {h: [] for h in hosts}
    others = [k for k in kinds if k != "fan_failure"]
    per_host[hosts[0]].append("fan_failure")
    for i, kind in enumerate(others):
        per_host[hosts[(i + 1) % len(hosts)]].append(kind)
    total = hours * 60.0
    out: list[FaultSpec] = []
    for host, host_kinds in per_host.items():
        if not host_kinds:
            continue
        rng.shuffle(host_kinds)
        slot = (total - GAP_MINUTES) / len(host_kinds)
        if slot < MIN_MINUTES + GAP_MINUTES:
            raise ValueError(
                f"{len(host_kinds)} faults on {host} need at least "
                f"{(MIN_MINUTES + GAP_MINUTES) * len(host_kinds) + GAP_MINUTES} simulated minutes, got {total:.0f}: "
                "simulate more hours or hosts, or pass an explicit faults list"
            )
        for j, kind in enumerate(host_kinds):
            lo, hi = LONG_KINDS.get(kind, (MIN_MINUTES, MAX_MINUTES))
            dur = float(min(rng.integers(lo, hi + 1), slot - GAP_MINUTES))
            s0 = GAP_MINUTES + j * slot + rng.uniform(0, slot - GAP_MINUTES - dur)
            s = start + timedelta(seconds=round(s0 * 60))
            gpu = _pick_gpu(kind, count[host], rng)
            out.append(FaultSpec(host, kind, s, s + timedelta(seconds=round(dur * 60)), gpu))
    return sorted(out, key=lambda f: (f.start, f.host))


def _pick_gpu(kind: str, gpus: int, rng: np.random.Generator) -> int | None:
    inference = max(1, gpus // 2)  # GPUs 0..inference-1 serve the vLLM container
    if kind in ("xid79_fell_off_bus", "ecc_errors"):
        return int(rng.integers(0, inference))
    if kind == "thermal_drift":
        return int(rng.integers(0, gpus))
    if kind == "fan_failure":
        return int(rng.integers(inference, gpus)) if gpus > inference else 0
    return None


def validate(
    faults: list[FaultSpec],
    hosts: list[str],
    gpus: int | dict[str, int],
    start: datetime,
    end: datetime,
    fans: dict[str, list[bool]] | None = None,
) -> None:
    """Refuse schedules the simulator cannot render faithfully, saying what to change.

    ``fans``: per host, which boards report a fan (default: the uniform fleet's odd/even rule)."""
    count = gpus if isinstance(gpus, dict) else dict.fromkeys(hosts, gpus)
    by_host: dict[str, list[FaultSpec]] = {}
    for f in faults:
        if f.kind not in FAULT_SOURCES:
            raise ValueError(f"unknown fault kind {f.kind!r}; known: {', '.join(FAULT_KINDS)}")
        if f.host not in hosts:
            raise ValueError(f"fault {f.kind} targets unknown host {f.host!r}; simulated hosts: {hosts}")
        if not (start <= f.start < f.end <= end):
            raise ValueError(
                f"fault {f.kind} on {f.host} [{f.start}, {f.end}) is not inside [{start}, {end})"
            )
        if f.gpu is not None and not 0 <= f.gpu < count[f.host]:
            raise ValueError(
                f"fault {f.kind} on {f.host} targets GPU {f.gpu} but the host has {count[f.host]} GPUs"
            )
        fanned = fans[f.host][f.gpu or 0] if fans is not None else hosts.index(f.host) % 2 == 0
        if f.kind == "fan_failure" and not fanned:
            raise ValueError(
                f"fan_failure on {f.host} GPU {f.gpu}: that board reports no fan (H100 SXM); "
                "use a fan-cooled board (gpu-node-01/-03/... of the uniform fleet, the home box of the mixed one)"
            )
        by_host.setdefault(f.host, []).append(f)
    for host, fs in by_host.items():
        fs.sort(key=lambda f: f.start)
        for a, b in zip(fs, fs[1:], strict=False):
            if b.start < a.end:
                raise ValueError(
                    f"faults {a.kind} and {b.kind} overlap on {host}: one fault at a time per host"
                )


def _iso(ts: datetime) -> str:
    return ts.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def labels_csv(faults: list[FaultSpec]) -> str:
    """`labels.csv` text: host,start,end,fault,sources (ISO-8601 UTC, sources ';'-joined)."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(LABEL_COLUMNS)
    for f in sorted(faults, key=lambda f: (f.host, f.start)):
        w.writerow([f.host, _iso(f.start), _iso(f.end), f.kind, ";".join(f.sources)])
    return buf.getvalue()


def read_labels(path: str | Path) -> pd.DataFrame:
    """Ground truth as a frame: host, start, end (UTC timestamps), fault, sources (';'-joined str)."""
    df = pd.read_csv(path, dtype={"host": "string", "fault": "string", "sources": "string"})
    missing = [c for c in LABEL_COLUMNS if c not in df.columns]
    if missing:
        raise ValueError(
            f"{path} is not a labels file: missing columns {missing}; expected {list(LABEL_COLUMNS)}"
        )
    for col in ("start", "end"):
        df[col] = pd.to_datetime(df[col], utc=True).astype("datetime64[ns, UTC]")
    return df[list(LABEL_COLUMNS)]
