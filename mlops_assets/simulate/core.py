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

from mlops_assets.simulate import boots, chatter, gpu, normal, system
from mlops_assets.simulate import containers as ct
from mlops_assets.simulate.faults import INJECTORS
from mlops_assets.simulate.formats import to_ns
from mlops_assets.simulate.host import NS, HostLog, host_models, host_name
from mlops_assets.simulate.replay import replay_chatter
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
    *,
    fleet: str = "uniform",
    realdata: Path | None = None,
    reboots_per_day: float = 0.0,
    full_load: list[tuple[str, int, datetime, datetime]] | None = None,
    workload: tuple[datetime, float] | None = None,
) -> SimulationSummary:
    """Write ``hosts`` hosts' raw logs for ``hours`` from ``start`` under ``out``.

    ``faults=None`` uses the seeded default schedule (every fault kind once); pass ``[]`` for a
    fault-free run (e.g. a fault-free week: ``hours=168, faults=[]``) or an explicit list.
    ``fleet``: "uniform" (``gpus`` cards per host, RTX 6000 Ada / H100 alternating) or "mixed" (a home
    box with an RTX 3090 + RTX 3060 whose load peaks in the evening, then 8 x H100 nodes).
    ``realdata``: a folder of real log samples (../shared/realdata) replayed as background chatter
    (simulate/replay.py). ``reboots_per_day``: Poisson rate of reboots (simulate/boots.py).
    ``full_load``: (host, gpu, start, end) periods of a training job at ~98 % on one card (normal load).
    ``ambient=(since, degrees)``: from ``since`` on the room is ``degrees`` C warmer (an environment
    change, not a fault). ``workload=(since, delta)``: from ``since`` on the inference servers carry
    ``delta`` (0..1) more of their capacity in requests, e.g. a new deployment (an environment change:
    utilisation and power up, temperatures following the power; no fault).
    """
    if hosts < 1 or gpus < 1 or hours <= 0 or gpu_interval_s <= 0:
        raise ValueError(
            f"need hosts>=1, gpus>=1, hours>0, gpu_interval_s>0; got {hosts=}, {gpus=}, {hours=}, {gpu_interval_s=}"
        )
    if workload is not None and not 0.0 <= workload[1] <= 1.0:
        raise ValueError(
            f"workload=(since, delta) needs 0 <= delta <= 1 (share of capacity), got {workload[1]}"
        )
    start = start.astimezone(UTC)
    start_ns = to_ns(start)
    end_ns = start_ns + int(round(hours * 3600)) * NS
    end = start + timedelta(seconds=int(round(hours * 3600)))
    names = [host_name(i) for i in range(hosts)]
    models = {name: host_models(fleet, i, gpus) for i, name in enumerate(names)}
    counts = {name: len(m) for name, m in models.items()}
    if faults is None:
        faults = default_schedule(names, counts, start, hours, seed)
    validate(faults, names, counts, start, end, {n: [m.has_fan for m in ms] for n, ms in models.items()})
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    files: list[Path] = []
    for i, name in enumerate(names):
        host = HostLog(i, counts[name], start_ns, end_ns, np.random.default_rng([seed, i]), models[name])
        if fleet == "mixed" and i == 0:
            host.load_phase_h = 6.0
        reboots = boots.schedule_reboots(host, reboots_per_day)
        ct.setup(host)
        extra = None if workload is None else (to_ns(workload[0].astimezone(UTC)), float(workload[1]))
        wl = normal.plan_workload(host, gpu_interval_s, extra)
        if ambient is not None:
            wl.ambient_offset_c = np.where(
                wl.t_ns >= to_ns(ambient[0].astimezone(UTC)), float(ambient[1]), 0.0
            )
        for h, g, s, e in full_load or []:
            if h == name:
                normal.full_load(host, wl, g, to_ns(s), to_ns(e))
        mine = sorted((f for f in faults if f.host == name), key=lambda f: f.start)
        windows = [(to_ns(f.start), to_ns(f.end)) for f in mine]
        normal.nightly_restarts(host, wl)
        for f, (s, e) in zip(mine, windows, strict=True):
            INJECTORS[f.kind](host, wl, f, s, e)
        boots.render_reboots(host, wl, reboots)
        normal.apply_vllm_down(wl)
        host.gpu_csv = gpu.render_csv(host, wl)
        chatter.vllm_output(host, wl)
        chatter.jupyter_output(host)
        chatter.database_output(host)
        system.cron(host)
        system.ssh_sessions(host)
        system.daemon_noise(host)
        if realdata is not None:
            replay_chatter(host, Path(realdata))
        files += host.write(out)
    labels = out / LABELS_FILE
    labels.write_text(labels_csv(faults))
    files.append(labels)
    return SimulationSummary(names, start, end, list(faults), files, sum(p.stat().st_size for p in files))
