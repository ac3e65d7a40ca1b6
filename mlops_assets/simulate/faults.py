"""Fault injectors: each turns a FaultSpec into its multi-source signature inside [start, end).

Injectors change the workload (GPU state) and append log records; the GPU physics in gpu.py then
produces the secondary effects (temperatures, clocks, throttle bits) consistently.
"""

from __future__ import annotations

from collections.abc import Callable

from mlops_assets.simulate.faults_gpu import ecc_errors, fan_failure, power_cap, thermal_drift, xid79
from mlops_assets.simulate.faults_system import (
    container_oom,
    container_restart_loop,
    disk_full,
    ssh_bruteforce,
    unit_crash_loop,
)
from mlops_assets.simulate.gpu import Workload
from mlops_assets.simulate.host import HostLog
from mlops_assets.simulate.schedule import FaultSpec

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
    "thermal_drift": thermal_drift,
}
