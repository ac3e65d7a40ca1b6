"""`simulate()`: write the raw logs of N simulated GPU hosts plus ground-truth fault labels.

Layout is exactly sources/base.py's (ROOT/<host>/nvidia-smi.csv, journal.json, kernel.json,
docker/{ps,events}.json, docker/logs/<name>.{stdout,stderr}, ROOT/labels.csv). Deterministic: one
numpy Generator per host seeded from (seed, host index), no wall clock, ordered iteration only.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

from mlops_assets.simulate import chatter, gpu, normal, system
from mlops_assets.simulate import containers as ct
from mlops_assets.simulate.faults import INJECTORS
from mlops_assets.simulate.formats import to_ns
from mlops_assets.simulate.host import NS, HostLog, host_name
from mlops_assets.simulate.schedule import FaultSpec, default_schedule, labels_csv, validate

DEFAULT_START = datetime(2026, 11, 1, tzinfo=UTC)
LABELS_FILE = "labels.csv"


@dataclass(frozen=True)
class SimulationSummary:
    """What was written: hosts, period, injected faults, files and their total size."""

    hosts: list[str]
    start: datetime
    end: datetime
    faults: list[FaultSpec]
    files: list[Path]
    bytes: int

    def as_dict(self) -> dict[str, object]:
        return {
            "hosts": self.hosts,
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "faults": [
                {
                    "host": f.host,
                    "fault": f.kind,
                    "start": f.start.isoformat(),
                    "end": f.end.isoformat(),
                    "gpu": f.gpu,
                }
                for f in self.faults
            ],
            "files": len(self.files),
            "bytes": self.bytes,
        }


def simulate(
    out: Path,
    hosts: int = 2,
    gpus: int = 8,
    hours: float = 24,
    seed: int = 7,
    start: datetime = DEFAULT_START,
    gpu_interval_s: float = 10,
    faults: list[FaultSpec] | None = None,
    ambient: tuple[datetime, float] | None = None,
) -> SimulationSummary:
    """Write ``hosts`` hosts' raw logs for ``hours`` from ``start`` under ``out``.

    ``faults=None`` uses the seeded default schedule (every fault kind once); pass ``[]`` for a
    fault-free run or an explicit list for targeted tests. ``ambient=(since, degrees)``: from
    ``since`` on the room is ``degrees`` C warmer (an environment change, not a fault).
    """
    if hosts < 1 or gpus < 1 or hours <= 0 or gpu_interval_s <= 0:
        raise ValueError(
            f"need hosts>=1, gpus>=1, hours>0, gpu_interval_s>0; got {hosts=}, {gpus=}, {hours=}, {gpu_interval_s=}"
        )
    start = start.astimezone(UTC)
    start_ns = to_ns(start)
    end_ns = start_ns + int(round(hours * 3600)) * NS
    end = start + timedelta(seconds=int(round(hours * 3600)))
    names = [host_name(i) for i in range(hosts)]
    if faults is None:
        faults = default_schedule(names, gpus, start, hours, seed)
    validate(faults, names, gpus, start, end)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    files: list[Path] = []
    for i, name in enumerate(names):
        host = HostLog(i, gpus, start_ns, end_ns, np.random.default_rng([seed, i]))
        ct.setup(host)
        wl = normal.plan_workload(host, gpu_interval_s)
        if ambient is not None:
            wl.ambient_offset_c = np.where(
                wl.t_ns >= to_ns(ambient[0].astimezone(UTC)), float(ambient[1]), 0.0
            )
        mine = sorted((f for f in faults if f.host == name), key=lambda f: f.start)
        windows = [(to_ns(f.start), to_ns(f.end)) for f in mine]
        normal.nightly_restarts(host, wl, windows)
        for f, (s, e) in zip(mine, windows, strict=True):
            INJECTORS[f.kind](host, wl, f, s, e)
        normal.apply_vllm_down(wl)
        host.gpu_csv = gpu.render_csv(host, wl)
        chatter.vllm_output(host, wl)
        chatter.jupyter_output(host)
        chatter.database_output(host)
        system.cron(host)
        system.ssh_sessions(host)
        system.daemon_noise(host)
        files += host.write(out)
    labels = out / LABELS_FILE
    labels.write_text(labels_csv(faults))
    files.append(labels)
    return SimulationSummary(names, start, end, list(faults), files, sum(p.stat().st_size for p in files))
