"""Fault overlay: write a fault's signature into a COPY of one real host-hour's raw bytes.

Recall on the host's own history cannot come from its (unlabelled) logs alone, and a simulated
fleet is not that host. So faults are planned at random GPUs and times of the held-out hours
(:func:`plan_faults`, seeded) and overlaid on the collected raw members (:func:`overlay_hour`):
telemetry rows are edited the way the fault changes them (a stalled fan reads 0 % while the board
heats up and throttles, a capped board's limit drops and its clocks follow, a lost GPU's rows are
replaced by nvidia-smi's device-handle error), and log lines (lib/evaluate/signatures.py) are merged
in time order into the journal, kernel, docker logs and docker events. The result goes through the
production parse/features path; the planned faults are the labels.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from mlops_assets.lib.contracts.raw import MEMBER_DOCKER_PS, RawBundle
from mlops_assets.lib.evaluate import overlay_edit as ed
from mlops_assets.lib.evaluate import signatures as sig

NS = 1_000_000_000
FAULT_KINDS: tuple[str, ...] = (
    "fan_stall",
    "thermal_runaway",
    "power_cap",
    "gpu_lost",
    "ecc_errors",
    "oom_kill",
    "disk_full",
    "container_crash_loop",
    "service_failure",
)
SOURCES_OF = {
    "fan_stall": "gpu",
    "thermal_runaway": "gpu",
    "power_cap": "gpu;journal",
    "gpu_lost": "gpu;kernel;journal",
    "ecc_errors": "gpu;kernel;journal",
    "oom_kill": "kernel;journal;docker_events",
    "disk_full": "journal;docker_logs",
    "container_crash_loop": "docker_logs;docker_events",
    "service_failure": "journal",
}


@dataclass(frozen=True)
class OverlayFault:
    host: str
    kind: str
    start: pd.Timestamp
    end: pd.Timestamp
    gpu: int | None


def plan_faults(
    host_hours: dict[str, list[pd.Timestamp]],
    gpus: dict[str, list[int]],
    *,
    seed: int,
    kinds: tuple[str, ...] = FAULT_KINDS,
    per_kind: int | None = None,
    minutes: tuple[int, int] = (8, 16),
) -> list[OverlayFault]:
    """At most one fault per host-hour, kinds round-robin, random hours/minutes/GPUs (seeded).

    ``per_kind`` defaults to one per host; it is capped by the host-hours available (every kind
    still gets as many as the others, so per-kind recall is comparable).
    """
    unknown = sorted(set(kinds) - set(FAULT_KINDS))
    if unknown:
        raise ValueError(f"unknown overlay fault kinds {unknown}; known: {list(FAULT_KINDS)}")
    rng = np.random.default_rng(seed)
    slots = [(h, pd.Timestamp(t)) for h in sorted(host_hours) for t in sorted(host_hours[h])]
    if len(slots) < len(kinds):
        raise ValueError(
            f"{len(slots)} held-out host-hours cannot hold one fault of each of {len(kinds)} kinds: "
            "hold out more days (MLOPS_HOLDOUT_DAYS) or overlay fewer kinds"
        )
    rounds = min(per_kind or len(host_hours), len(slots) // len(kinds))
    chosen = rng.choice(len(slots), size=rounds * len(kinds), replace=False)
    faults = []
    for i, slot in enumerate(chosen.tolist()):
        host, hour = slots[slot]
        kind = kinds[i % len(kinds)]
        dur = int(rng.integers(minutes[0], minutes[1] + 1))
        offset = int(rng.integers(6, 60 - dur - 6 + 1))
        start = hour + pd.Timedelta(minutes=offset, seconds=int(rng.integers(0, 60)))
        board = gpus.get(host) or [0]
        gpu = int(board[int(rng.integers(0, len(board)))]) if kind not in ("power_cap",) else None
        faults.append(OverlayFault(host, kind, start, start + pd.Timedelta(minutes=dur), gpu))
    return sorted(faults, key=lambda f: (f.host, f.start))


def labels_frame(faults: list[OverlayFault]) -> pd.DataFrame:
    """The labels contract of lib/evaluate/detections.py: host, start, end, fault, sources, gpu."""
    rows = [{**asdict(f), "fault": f.kind, "sources": SOURCES_OF[f.kind]} for f in faults]
    frame = pd.DataFrame(rows, columns=["host", "start", "end", "fault", "sources", "gpu", "kind"])
    frame = frame.drop(columns="kind")
    for c in ("start", "end"):
        frame[c] = pd.to_datetime(frame[c], utc=True)
    return frame.astype({"gpu": "Int16"})


def _ns(ts: pd.Timestamp) -> int:
    return int(pd.Timestamp(ts).value)


def overlay_hour(bundle: RawBundle, host: str, faults: list[OverlayFault], seed: int) -> RawBundle:
    """A modified copy of one host-hour's raw bundle with ``faults`` (of this host) written into it."""
    out: RawBundle = {src: dict(members) for src, members in bundle.items()}
    rng = np.random.default_rng([seed, int(hashlib.sha256(host.encode()).hexdigest()[:8], 16)])
    for f in sorted(faults, key=lambda x: x.start):
        if f.host != host:
            raise ValueError(f"fault for {f.host} passed to the overlay of {host}")
        OVERLAYS[f.kind](out, f, rng)
    return out


def _gpu_info(b: RawBundle, gpu: int | None) -> tuple[str, str]:
    rows = ed.gpu_rows(b)
    match = [r for r in rows if r.get("index") == str(gpu)] or rows
    return (
        (match[0].get("pci.bus_id", "00000000:00:00.0"), match[0].get("uuid", "GPU-unknown"))
        if match
        else (
            "00000000:00:00.0",
            "GPU-unknown",
        )
    )


def _kernel(b: RawBundle, ns: int, lines: list[tuple[str, int]]) -> None:
    ed.add_journal(b, [(ns + i * 1000, "kernel", m, p, None) for i, (m, p) in enumerate(lines)], kernel=True)


def _containers(b: RawBundle) -> list[tuple[str, str, str]]:
    """(id, name, image) of the host's containers, from docker ps (else the docker log members)."""
    found = ed.ps_containers(b.get("docker_events", {}).get(MEMBER_DOCKER_PS, b""))
    if found:
        return found
    names = sorted({m.rsplit(".", 1)[0] for m in b.get("docker_logs", {})})
    return [(hashlib.sha256(n.encode()).hexdigest()[:64], n, n) for n in names] or [
        (hashlib.sha256(b"app").hexdigest(), "app", "app")
    ]


def fan_stall(b: RawBundle, f: OverlayFault, rng: np.random.Generator) -> None:
    ed.edit_gpu(b, f.gpu, _ns(f.start), _ns(f.end), ed.heat(fan=0.0, peak_c=93.0))


def thermal_runaway(b: RawBundle, f: OverlayFault, rng: np.random.Generator) -> None:
    ed.edit_gpu(b, f.gpu, _ns(f.start), _ns(f.end), ed.heat(fan=100.0, peak_c=96.0))


def power_cap(b: RawBundle, f: OverlayFault, rng: np.random.Generator) -> None:
    s, e = _ns(f.start), _ns(f.end)
    ed.edit_gpu(b, None, s, e, ed.cap_power(0.35))
    ed.add_journal(
        b,
        [
            (
                s - NS // 2,
                "sudo",
                "pam_unix(sudo:session): session opened for user root(uid=0) by ops(uid=1002)",
                6,
                None,
            ),
            (
                s,
                "sudo",
                "    ops : TTY=pts/3 ; PWD=/home/ops ; USER=root ; COMMAND=/usr/bin/nvidia-smi -pl 150",
                5,
                None,
            ),
        ],
    )


def gpu_lost(b: RawBundle, f: OverlayFault, rng: np.random.Generator) -> None:
    s, e = _ns(f.start), _ns(f.end)
    bus, uuid = _gpu_info(b, f.gpu)
    _kernel(b, s, sig.xid79_lines(sig.kernel_pci(bus), uuid, int(rng.integers(2000, 400_000))))
    ed.drop_gpu(b, f.gpu, s, e, sig.device_handle_error(bus))


def ecc_errors(b: RawBundle, f: OverlayFault, rng: np.random.Generator) -> None:
    s, e = _ns(f.start), _ns(f.end)
    bus, _ = _gpu_info(b, f.gpu)
    n = int(rng.integers(1, 4))
    times = sorted([s, *(s + int(x) for x in rng.integers(0, max(1, (e - s) // 2), n - 1))])
    for k, ns in enumerate(times):
        _kernel(b, ns, sig.ecc_lines(sig.kernel_pci(bus), int(rng.integers(2000, 400_000)), rng, k == n - 1))
    ed.edit_gpu(b, f.gpu, s, e, ed.ecc_steps(times, rng))


def oom_kill(b: RawBundle, f: OverlayFault, rng: np.random.Generator) -> None:
    s, e = _ns(f.start), _ns(f.end)
    cid, name, image = _containers(b)[int(rng.integers(0, len(_containers(b))))]
    for ns in sorted(s + int(x) for x in rng.integers(0, max(1, e - s - 10 * NS), int(rng.integers(2, 5)))):
        _kernel(b, ns, sig.oom_lines(cid[:64], int(rng.integers(2000, 400_000)), rng))
        ed.add_events(
            b,
            [
                (ns + 5_000_000, "oom", cid, image, name, {}),
                (ns + 6_000_000, "die", cid, image, name, {"exitCode": "137"}),
                (ns + 1_100_000_000, "start", cid, image, name, {}),
            ],
        )


def disk_full(b: RawBundle, f: OverlayFault, rng: np.random.Generator) -> None:
    s, e = _ns(f.start), _ns(f.end)
    containers = _containers(b)
    entries, lines = [], []
    for ns in range(s, e, int(rng.integers(15, 30)) * NS):
        cid, name, _ = containers[int(rng.integers(0, len(containers)))]
        if rng.random() < 0.5:
            entries.append((ns, "dockerd", sig.enospc_journal(ed.rfc3339(ns), cid[:64]), 3, "docker.service"))
        else:
            lines.append((name, "stderr", ns, sig.ENOSPC_APP))
    ed.add_journal(b, entries)
    ed.add_docker_lines(b, lines)


def container_crash_loop(b: RawBundle, f: OverlayFault, rng: np.random.Generator) -> None:
    s, e = _ns(f.start), _ns(f.end)
    containers = _containers(b)
    cid, name, image = containers[int(rng.integers(0, len(containers)))]
    events, lines, ns = [], [], s
    while ns < e:
        fail = ns + int(rng.integers(15, 35)) * NS
        lines += [(name, "stderr", fail + i * 1000, text) for i, text in enumerate(sig.CRASH_TRACEBACK)]
        events += [
            (fail + 200_000_000, "die", cid, image, name, {"exitCode": "1"}),
            (fail + 400_000_000, "restart", cid, image, name, {}),
            (fail + 400_000_000, "start", cid, image, name, {}),
        ]
        ns = fail + 400_000_000
    ed.add_docker_lines(b, lines)
    ed.add_events(b, events)


def service_failure(b: RawBundle, f: OverlayFault, rng: np.random.Generator) -> None:
    s, e = _ns(f.start), _ns(f.end)
    unit, ident, desc = sig.SERVICES[int(rng.integers(0, len(sig.SERVICES)))]
    entries, ns, attempt = [], s, 0
    while ns + 12 * NS < e:
        attempt += 1
        entries += [
            (ns + int(d * NS), "systemd", m, p, None) for d, m, p in sig.service_cycle(unit, desc, attempt)
        ]
        entries.append(
            (ns + int(0.9 * NS), ident, "initialization failed: driver/library version mismatch", 3, unit)
        )
        ns += int(11.002 * NS)
    entries += [(ns + int(d * NS), "systemd", m, p, None) for d, m, p in sig.service_gave_up(unit, desc)]
    ed.add_journal(b, entries)


OVERLAYS = {
    "fan_stall": fan_stall,
    "thermal_runaway": thermal_runaway,
    "power_cap": power_cap,
    "gpu_lost": gpu_lost,
    "ecc_errors": ecc_errors,
    "oom_kill": oom_kill,
    "disk_full": disk_full,
    "container_crash_loop": container_crash_loop,
    "service_failure": service_failure,
}
