"""One simulated host: its hardware identity and the append-only record of what it logged.

Behaviour generators (normal.py, faults.py) only *append* timestamped records here; rendering and
ordering happen once in :meth:`HostLog.write`, so every generator can work in any order and the
output is still sorted and byte-identical for a seed.
"""

from __future__ import annotations

import bisect
import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from mlops_assets.simulate import formats as fmt

NS = 10**9
PCI_BUSES = ("18", "2a", "3a", "5d", "9a", "ab", "ba", "db", "1b", "2d", "3d", "60", "9d", "ae", "bd", "de")


@dataclass(frozen=True)
class GpuModel:
    """Static properties of a GPU SKU that shape its telemetry."""

    name: str
    mem_total_mib: int
    power_limit_w: float
    min_power_limit_w: float
    idle_power_w: float
    max_sm_mhz: int
    idle_sm_mhz: int
    has_fan: bool  # SXM boards report fan.speed as [N/A]: fans belong to the chassis
    idle_pstate: str
    busy_pstate: str
    thermal_rise_c: float = 45.0  # board temperature above ambient at the full power limit (its envelope)


H100_SXM = GpuModel("NVIDIA H100 80GB HBM3", 81559, 700.0, 200.0, 69.0, 1980, 345, False, "P0", "P0", 42.0)
RTX_6000_ADA = GpuModel(
    "NVIDIA RTX 6000 Ada Generation", 49140, 300.0, 100.0, 22.0, 2505, 210, True, "P8", "P2"
)
# consumer cards of a home box: the 3090 runs hot by design (80+ degC at its 350 W limit is normal)
RTX_3090 = GpuModel("NVIDIA GeForce RTX 3090", 24576, 350.0, 100.0, 19.0, 1695, 210, True, "P8", "P2", 54.0)
RTX_3060 = GpuModel("NVIDIA GeForce RTX 3060", 12288, 170.0, 100.0, 11.0, 1777, 210, True, "P8", "P2", 38.0)


@dataclass
class Container:
    """A docker container as `docker ps` and `docker events` describe it."""

    name: str
    image: str
    command: str
    ports: str
    id: str
    created_ns: int
    last_start_ns: int
    running: bool = True
    exit_code: int = 0
    removed: bool = False  # `docker run --rm`: in events, never in `docker ps -a`


def host_name(index: int) -> str:
    """`gpu-node-01` for index 0: the naming every other module relies on."""
    return f"gpu-node-{index + 1:02d}"


def gpu_model_for(index: int) -> GpuModel:
    """Odd-numbered nodes (01, 03, ...) are fan-cooled RTX 6000 Ada boxes, even ones H100 SXM."""
    return RTX_6000_ADA if index % 2 == 0 else H100_SXM


FLEETS = ("uniform", "mixed")


def host_models(fleet: str, index: int, gpus: int) -> list[GpuModel]:
    """The cards of host ``index``: ``uniform`` = ``gpus`` boards of gpu_model_for(index); ``mixed`` =
    a home box (RTX 3090 + RTX 3060) as gpu-node-01, 8 x H100 SXM nodes after it (``gpus`` ignored)."""
    if fleet == "uniform":
        return [gpu_model_for(index)] * gpus
    if fleet == "mixed":
        return [RTX_3090, RTX_3060] if index == 0 else [H100_SXM] * 8
    raise ValueError(f"unknown fleet {fleet!r}; known: {', '.join(FLEETS)}")


def _hex(rng: np.random.Generator, n: int) -> str:
    return "".join(f"{int(b):02x}" for b in rng.integers(0, 256, size=n // 2))


@dataclass
class HostLog:
    """Identity and accumulated raw records of one host over [start_ns, end_ns)."""

    index: int
    gpus: int
    start_ns: int
    end_ns: int
    rng: np.random.Generator
    models: list[GpuModel] = field(default_factory=list)  # one per GPU; empty = gpu_model_for(index)
    name: str = ""
    model: GpuModel = H100_SXM  # the first board's model (the host's "main" SKU)
    uuids: list[str] = field(default_factory=list)
    pci: list[str] = field(default_factory=list)  # nvidia-smi form 00000000:18:00.0
    boot_id: str = ""
    machine_id: str = ""
    seqnum_id: str = ""
    boot_ns: int = 0
    boots: list[tuple[int, str]] = field(default_factory=list)  # (boot ns, boot id), sorted; see boots.py
    down: list[tuple[int, int]] = field(default_factory=list)  # [s, e) the host is off: nothing logged
    load_phase_h: float = 0.0  # hours the daily load peak comes later (a home box peaks in the evening)
    containers: dict[str, Container] = field(default_factory=dict)
    _journal: list[tuple[int, int, dict[str, str | list[int] | None]]] = field(default_factory=list)
    _docker: dict[str, list[tuple[int, int, str, str]]] = field(default_factory=dict)
    _events: list[tuple[int, int, str]] = field(default_factory=list)
    _order: int = 0
    _pid: int = 0
    gpu_csv: str = ""

    def __post_init__(self) -> None:
        if self.gpus > len(PCI_BUSES):
            raise ValueError(f"at most {len(PCI_BUSES)} GPUs per host are simulated, got {self.gpus}")
        self.name = host_name(self.index)
        if not self.models:
            self.models = [gpu_model_for(self.index)] * self.gpus
        if len(self.models) != self.gpus:
            raise ValueError(f"{len(self.models)} GPU models for {self.gpus} GPUs")
        self.model = self.models[0]
        self.uuids = [self._uuid() for _ in range(self.gpus)]
        self.pci = [f"00000000:{PCI_BUSES[i].upper()}:00.0" for i in range(self.gpus)]
        self.boot_id, self.machine_id, self.seqnum_id = (
            _hex(self.rng, 32),
            _hex(self.rng, 32),
            _hex(self.rng, 32),
        )
        self.boot_ns = self.start_ns - int(self.rng.integers(2 * 86400, 30 * 86400)) * NS
        self.boots = [(self.boot_ns, self.boot_id)]
        self._pid = int(self.rng.integers(40_000, 90_000))

    def _uuid(self) -> str:
        h = _hex(self.rng, 32)
        return f"GPU-{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"

    def kernel_pci(self, gpu: int) -> str:
        """The PCI form NVRM prints: `PCI:0000:18:00`."""
        return f"PCI:0000:{PCI_BUSES[gpu]}:00"

    def param(self, attr: str) -> np.ndarray:
        """A GpuModel attribute per GPU, shape (G,): broadcasts against (T, G) telemetry arrays."""
        return np.array([getattr(m, attr) for m in self.models])

    def boot_at(self, ns: int) -> tuple[int, str]:
        """(boot time, boot id) of the boot in effect at ``ns``."""
        i = bisect.bisect_right([b for b, _ in self.boots], ns) - 1
        return self.boots[max(0, i)]

    def is_down(self, ns: int) -> bool:
        return any(s <= ns < e for s, e in self.down)

    def next_pid(self) -> int:
        self._pid += int(self.rng.integers(1, 40))
        return self._pid

    def _seq(self) -> int:
        self._order += 1
        return self._order

    # ---- appenders -------------------------------------------------------------------------
    def journal(
        self,
        ns: int,
        ident: str,
        message: str | None,
        *,
        priority: int = 6,
        unit: str | None = None,
        pid: int | None = None,
        transport: str = "syslog",
        uid: int = 0,
    ) -> None:
        """A userspace journal entry; field set varies with transport like real journald's."""
        fields: dict[str, str | list[int] | None] = {"PRIORITY": str(priority)}
        if transport == "syslog":
            fields["SYSLOG_FACILITY"] = "4" if ident in ("sshd", "sudo", "CRON") else "3"
        fields["SYSLOG_IDENTIFIER"] = ident
        if pid is not None:
            fields["SYSLOG_PID"] = str(pid)
            fields["_PID"] = str(pid)
        fields["_UID"] = str(uid)
        fields["_GID"] = str(uid)
        fields["_COMM"] = ident[:15]
        if unit is not None:
            fields["_SYSTEMD_CGROUP"] = f"/system.slice/{unit}"
            fields["_SYSTEMD_UNIT"] = unit
            fields["_SYSTEMD_SLICE"] = "system.slice"
        fields["_TRANSPORT"] = transport
        fields["_HOSTNAME"] = self.name
        fields["_MACHINE_ID"] = self.machine_id
        fields["MESSAGE"] = None if message is None else fmt.message_value(message)
        if transport == "syslog":
            fields["_SOURCE_REALTIME_TIMESTAMP"] = str(ns // 1000 - int(self.rng.integers(5, 400)))
        self._journal.append((ns, self._seq(), fields))

    def kernel(self, ns: int, message: str, priority: int = 4) -> None:
        """A kernel ring-buffer message as journald stores it (`journalctl -k`)."""
        fields: dict[str, str | list[int] | None] = {
            "PRIORITY": str(priority),
            "SYSLOG_FACILITY": "0",
            "SYSLOG_IDENTIFIER": "kernel",
            "_TRANSPORT": "kernel",
            "_HOSTNAME": self.name,
            "_MACHINE_ID": self.machine_id,
            "MESSAGE": message,
            "_SOURCE_MONOTONIC_TIMESTAMP": str((ns - self.boot_at(ns)[0]) // 1000 - 3),
        }
        self._journal.append((ns, self._seq(), fields))

    def docker_line(self, container: str, ns: int, stream: str, message: str) -> None:
        """One line the container wrote on stdout or stderr (multi-line text = several lines)."""
        bucket = self._docker.setdefault(container, [])
        for part in message.split("\n"):
            bucket.append((ns, self._seq(), stream, part))
            ns += 1000

    def event(self, ns: int, container: str, action: str, extra: dict[str, str] | None = None) -> None:
        """A docker event of ``container`` (must be registered in :attr:`containers`)."""
        c = self.containers[container]
        line = fmt.docker_event_line(ns, action, c.id, c.image, c.name, extra)
        self._events.append((ns, self._seq(), line))

    # ---- rendering ---------------------------------------------------------------------------
    def _journal_lines(self) -> tuple[list[str], list[str]]:
        entries = sorted(
            e for e in self._journal if self.start_ns <= e[0] < self.end_ns and not self.is_down(e[0])
        )
        seq = int(self.rng.integers(0x100000, 0x900000))
        all_lines: list[str] = []
        kernel_lines: list[str] = []
        for ns, _, fields in entries:
            seq += 1
            us = ns // 1000
            boot_ns, boot_id = self.boot_at(ns)
            mono = (ns - boot_ns) // 1000
            xor = hashlib.blake2b(repr(sorted(fields.items())).encode(), digest_size=8).hexdigest()
            head: dict[str, str | list[int] | None] = {
                "__CURSOR": f"s={self.seqnum_id};i={seq:x};b={boot_id};m={mono:x};t={us:x};x={xor}",
                "__REALTIME_TIMESTAMP": str(us),
                "__MONOTONIC_TIMESTAMP": str(mono),
                "_BOOT_ID": boot_id,
            }
            line = fmt.journal_line({**head, **fields})
            all_lines.append(line)
            if fields.get("_TRANSPORT") == "kernel":
                kernel_lines.append(line)
        return all_lines, kernel_lines

    def write(self, root: Path) -> list[Path]:
        """Write every raw file of this host under ``root/<name>/``; returns the paths written."""
        base = root / self.name
        logs = base / "docker" / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        journal, kernel = self._journal_lines()
        files: dict[Path, str] = {
            base / "nvidia-smi.csv": self.gpu_csv,
            base / "journal.json": "".join(line + "\n" for line in journal),
            base / "kernel.json": "".join(line + "\n" for line in kernel),
        }
        events = sorted(
            e for e in self._events if self.start_ns <= e[0] < self.end_ns and not self.is_down(e[0])
        )
        files[base / "docker" / "events.json"] = "".join(line + "\n" for _, _, line in events)
        files[base / "docker" / "ps.json"] = "".join(
            self._ps_line(c) + "\n" for c in self.containers.values() if not c.removed
        )
        for name in sorted(n for n, c in self.containers.items() if not c.removed):
            lines = sorted(
                e
                for e in self._docker.get(name, [])
                if self.start_ns <= e[0] < self.end_ns and not self.is_down(e[0])
            )
            for stream in ("stdout", "stderr"):
                files[logs / f"{name}.{stream}"] = "".join(
                    f"{fmt.docker_ts(ns)} {msg}\n" for ns, _, s, msg in lines if s == stream
                )
        for path, text in files.items():
            path.write_bytes(text.encode("utf-8"))
        return sorted(files)

    def _ps_line(self, c: Container) -> str:
        if c.running:
            status, state = f"Up {fmt.human_duration((self.end_ns - c.last_start_ns) / NS)}", "running"
        else:
            ago = fmt.human_duration((self.end_ns - c.last_start_ns) / NS)
            status, state = f"Exited ({c.exit_code}) {ago} ago", "exited"
        return fmt.docker_ps_line(
            {
                "Command": f'"{c.command[:20]}…"' if len(c.command) > 20 else f'"{c.command}"',
                "CreatedAt": fmt.docker_created(c.created_ns),
                "ID": c.id[:12],
                "Image": c.image,
                "Labels": "",
                "LocalVolumes": "1",
                "Mounts": f"{c.name}-data",
                "Names": c.name,
                "Networks": "bridge",
                "Ports": c.ports,
                "RunningFor": f"{fmt.human_duration((self.end_ns - c.created_ns) / NS)} ago",
                "Size": "0B",
                "State": state,
                "Status": status,
            }
        )
