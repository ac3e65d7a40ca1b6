"""On the simulator (a test tool: its faults are written from the same real signatures), every GPU
fault yields a health event on the GPU the fault was injected on; a fault-free host yields none."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest

from mlops_assets.lib.health.rules import health_events
from mlops_assets.lib.parsing.bundle import parse_bundle
from mlops_assets.lib.parsing.gpu_values import normalise_pci
from mlops_assets.simulate.core import simulate
from mlops_assets.simulate.schedule import FaultSpec
from mlops_assets.sources.directory import DirectorySource

START = datetime(2026, 11, 2, tzinfo=UTC)
HOST, GPUS = "gpu-node-01", 4  # gpu-node-01's boards have fans (fan_failure needs one)


def at(minutes: float) -> datetime:
    return START + timedelta(minutes=minutes)


FAULTS = [
    FaultSpec(HOST, "xid79_fell_off_bus", at(20), at(32), 0),
    FaultSpec(HOST, "ecc_errors", at(70), at(82), 1),
    FaultSpec(HOST, "fan_failure", at(95), at(118), 3),
    FaultSpec(HOST, "power_cap", at(150), at(165), None),  # the simulator caps every GPU
]
# the rules expected to speak for each fault (any of them on the right GPU is enough)
CODES = {
    "xid79_fell_off_bus": {"XID_79", "GPU_MISSING", "NVSMI_FAILED"},
    "ecc_errors": {"ECC_UNCORRECTED", "XID_48", "XID_63", "XID_64"},
    "fan_failure": {"HW_THERMAL_SLOWDOWN", "SW_THERMAL_SLOWDOWN"},
    "power_cap": {"POWER_LIMIT_LOWERED"},
}


def events_of(root: Path, hours: int) -> pd.DataFrame:
    source, frames = DirectorySource(root), []
    for h in range(hours):
        bundle = parse_bundle(source.fetch(HOST, at(60 * h), at(60 * h + 60)), HOST)
        frames.append(health_events(bundle.tables, HOST, expected_gpus=GPUS))
    return pd.concat(frames, ignore_index=True)


@pytest.fixture(scope="module")
def simulated(tmp_path_factory: pytest.TempPathFactory) -> tuple[pd.DataFrame, dict[int, str]]:
    root = tmp_path_factory.mktemp("sim")
    simulate(root, hosts=1, gpus=GPUS, hours=3, seed=3, start=START, faults=FAULTS)
    raw = pd.read_csv(root / HOST / "nvidia-smi.csv", skipinitialspace=True, nrows=GPUS)
    pci_of = {int(i): normalise_pci(p) for i, p in zip(raw["index"], raw["pci.bus_id"], strict=True)}
    return events_of(root, 3), pci_of


@pytest.mark.parametrize("fault", FAULTS, ids=lambda f: f.kind)
def test_each_gpu_fault_yields_a_health_event_on_its_gpu(simulated, fault: FaultSpec) -> None:
    events, pci_of = simulated
    t = pd.to_datetime(events["ts"], utc=True)
    inside = events[(t >= fault.start) & (t < fault.end + timedelta(minutes=1))]
    gpus = [fault.gpu] if fault.gpu is not None else list(range(GPUS))
    for gpu in gpus:
        # by index, or (for kernel Xid lines while nvidia-smi's pci.bus_id is not parsed) by PCI bus
        on_gpu = inside[(inside["gpu_index"] == gpu).fillna(False) | (inside["pci_bus"] == pci_of[gpu])]
        assert set(on_gpu["code"]) & CODES[fault.kind], (fault.kind, gpu, inside[["code", "gpu_index"]])
    others = inside[inside["gpu_index"].notna() & ~inside["gpu_index"].isin(gpus)]
    assert others.empty, others[["code", "gpu_index"]]


def test_no_gpu_event_outside_the_faults(simulated) -> None:
    events, _ = simulated
    t = pd.to_datetime(events["ts"], utc=True)
    during = pd.Series(False, index=events.index)
    for f in FAULTS:
        during |= (t >= f.start) & (t < f.end + timedelta(minutes=12))  # effects may trail the window
    stray = events[~during & (events["component"] == "gpu")]
    assert stray.empty, stray[["ts", "code", "gpu_index", "message"]]


def test_a_quiet_simulated_host_has_no_fatal_or_critical_events(tmp_path: Path) -> None:
    simulate(tmp_path, hosts=1, gpus=GPUS, hours=1, seed=5, start=START, faults=[])
    events = events_of(tmp_path, 1)
    assert events[events["severity"].isin(["fatal", "critical"])].empty, events[["code", "message"]]
