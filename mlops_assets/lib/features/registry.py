"""The feature registry: every window feature with its unit, source, meaning and "worse" direction.

One documented list (issue 5) that the feature builder (lib/features/windows.py), the model (count columns
are log1p-transformed; the deviation term looks in each feature's worse direction), incidents
(sources of the top features) and the MLflow run (feature_registry.csv) all read.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pandas as pd

from mlops_assets.lib.health.features import HEALTH_COUNT_KEYS, health_feature_name


@dataclass(frozen=True)
class Feature:
    """One window feature. ``worse`` is the direction in which the value means a sicker host:
    "up" for every event count, "down" for values whose drop is a fault signature whatever the load
    (a stalled fan, a lowered power limit), "" when normal load moves it both ways (utilisation,
    power, clocks, temperatures: a one-GPU job heats one board like a weak fan does). The model's
    deviation term looks only in that direction (lib/detect/model.py); "" columns are the forest's job.
    ``volume`` marks totals of every line/sample, which follow load: a busy quarter hour raises them
    for many minutes, so the sustained (k-window) term leaves them out (lib/detect/sustained.py).
    ``critical`` marks events that never belong to normal operation (a fatal Xid, an OOM kill): one
    of them, where the host's training had (almost) none, is a near-certain alarm on its own.
    ``worse="both"`` where a move either way is a fault, with the ``reason`` saying why (also for
    the one-sided choices that are not obvious)."""

    name: str
    unit: str  # "count" features are log1p-transformed by the model
    source: str  # gpu | journal | kernel | docker_logs | docker_events
    description: str
    worse: str = ""  # "up" | "down" | "both" | ""
    volume: bool = False
    critical: bool = False
    reason: str = ""


def _f(
    name: str,
    unit: str,
    source: str,
    description: str,
    worse: str | None = None,
    volume: bool = False,
    critical: bool = False,
    reason: str = "",
) -> Feature:
    return Feature(
        name,
        unit,
        source,
        description,
        ("up" if unit == "count" else "") if worse is None else worse,
        volume,
        critical,
        reason,
    )


FEATURES: tuple[Feature, ...] = (
    # ---- GPU telemetry (nvidia-smi samples); aggregated over GPUs so one sick board stands out
    _f(
        "gpu_samples",
        "count",
        "gpu",
        "nvidia-smi sample rows in the window (all GPUs)",
        "both",
        volume=True,
        reason="fewer rows than the host's usual rate: nvidia-smi hangs on a sick driver; more: a "
        "duplicated collector. Judged beyond the calibrated rate only (a volume).",
    ),
    _f(
        "gpus_missing",
        "count",
        "gpu",
        "expected GPUs absent from the window's samples (fell off the bus, driver gone)",
    ),
    _f(
        "gpu_error_lines",
        "count",
        "gpu",
        "nvidia-smi failure lines ('Unable to determine the device handle', ...)",
    ),
    _f("temp_max_c", "degC", "gpu", "hottest sample of any GPU"),
    _f("temp_mean_c", "degC", "gpu", "mean temperature over all samples"),
    _f(
        "temp_gpu_spread_c",
        "degC",
        "gpu",
        "hottest GPU's mean minus the median GPU's mean (one board running hot)",
    ),
    _f("temp_slope_max_c_per_min", "degC/min", "gpu", "steepest within-window temperature rise of any GPU"),
    _f("temp_std_c", "degC", "gpu", "standard deviation of temperature over all samples"),
    _f("util_mean_pct", "%", "gpu", "mean GPU utilisation"),
    _f("util_std_pct", "%", "gpu", "standard deviation of GPU utilisation"),
    _f("util_max_pct", "%", "gpu", "highest GPU utilisation sample"),
    _f("mem_used_max_frac", "ratio", "gpu", "highest memory.used / memory.total of any GPU"),
    _f("mem_used_mean_frac", "ratio", "gpu", "mean memory.used / memory.total"),
    _f("power_mean_w", "W", "gpu", "mean power draw per GPU sample"),
    _f("power_max_w", "W", "gpu", "highest power draw sample"),
    _f("power_std_w", "W", "gpu", "standard deviation of power draw"),
    _f(
        "power_limit_min_w",
        "W",
        "gpu",
        "lowest enforced power limit of any GPU (a cap shows here)",
        "down",
        reason="a lowered limit caps throughput whatever the load; a raised one is an operator's choice",
    ),
    _f("power_to_limit_max", "ratio", "gpu", "highest power.draw / power.limit sample"),
    _f(
        "fan_min_pct",
        "%",
        "gpu",
        "slowest fan of any GPU (NaN on fanless boards; 0 = stalled)",
        "down",
        reason="a stalled or slow fan at any load; a fast fan follows heat, which the temperature baseline judges",
    ),
    _f("fan_mean_pct", "%", "gpu", "mean fan speed"),
    _f("sm_clock_min_mhz", "MHz", "gpu", "lowest SM clock sample (throttling pulls it down)"),
    _f("sm_clock_mean_mhz", "MHz", "gpu", "mean SM clock"),
    _f("throttle_power_samples", "count", "gpu", "samples with the SW power-cap throttle bit (0x4)"),
    _f("throttle_thermal_samples", "count", "gpu", "samples with a SW/HW thermal slowdown bit (0x20|0x40)"),
    _f(
        "throttle_hw_slowdown_samples",
        "count",
        "gpu",
        "samples with HW slowdown / power-brake bits (0x8|0x80)",
    ),
    _f(
        "ecc_new_errors",
        "count",
        "gpu",
        "increase of the volatile uncorrected ECC counters, summed over GPUs",
        critical=True,
    ),
    # ---- journal
    _f("journal_lines", "count", "journal", "journal entries", volume=True),
    _f("journal_crit", "count", "journal", "entries with priority 0-2 (emerg, alert, crit)"),
    _f("journal_err", "count", "journal", "entries with priority 3 (err)"),
    _f("journal_warning", "count", "journal", "entries with priority 4 (warning)"),
    _f("journal_notice", "count", "journal", "entries with priority 5 (notice)"),
    _f("journal_units_in_error", "count", "journal", "distinct units/identifiers that logged priority <= 3"),
    _f("journal_unit_restarts", "count", "journal", "systemd 'Scheduled restart job' lines"),
    _f("journal_unit_failures", "count", "journal", "systemd 'Failed with result' / 'Failed to start' lines"),
    _f(
        "journal_auth_failures", "count", "journal", "sshd/PAM failed passwords, invalid users, auth failures"
    ),
    _f("journal_disk_full", "count", "journal", "'No space left on device' lines"),
    # ---- kernel
    _f("kernel_lines", "count", "kernel", "kernel messages", volume=True),
    _f(
        "xid_fatal",
        "count",
        "kernel",
        "NVRM Xid 79/74/119/120/95 (fell off bus, NVLink, GSP, uncontained)",
        critical=True,
    ),
    _f("xid_memory", "count", "kernel", "NVRM Xid 48/63/64/92/94 (ECC, row remapping)", critical=True),
    _f("xid_app", "count", "kernel", "NVRM Xid 13/31/43/45 (application faults, preemptive cleanup)"),
    _f("xid_other", "count", "kernel", "NVRM Xid with any other code"),
    _f("nvrm_lines", "count", "kernel", "NVRM driver lines that are not Xid records"),
    _f("oom_kills", "count", "kernel", "kernel OOM-killer events", critical=True),
    _f("hung_tasks", "count", "kernel", "hung task warnings", critical=True),
    _f(
        "soft_lockups",
        "count",
        "kernel",
        "watchdog soft/hard lockups and RCU stalls (a CPU stuck in the kernel)",
        critical=True,
    ),
    _f(
        "nic_watchdog",
        "count",
        "kernel",
        "NETDEV WATCHDOG transmit timeouts (a NIC queue hung)",
        critical=True,
    ),
    _f(
        "boot_markers",
        "count",
        "kernel",
        "boot evidence: kernel banner, kernel command line, systemd start-up lines",
        "",
        reason="a boot is not a fault: it marks the start-up phase, judged against earlier boots",
    ),
    _f(
        "uptime_min_s",
        "s",
        "journal",
        "lowest time since boot in the window (journald cursor m=, monotonic); NaN without journal",
        reason="undirected: it only tells the start-up phase from steady state",
    ),
    _f(
        "log_new_severe",
        "count",
        "journal",
        "journal warnings or worse (priority <= 4) and container error/warning lines no known template matches",
        reason="a message never seen before AND logged as a warning or worse; judged against the host's history",
    ),
    _f(
        "log_new_other",
        "count",
        "journal",
        "journal/container lines at info level no known template matches",
        volume=True,
        reason="new info-level lines follow new software and load: a volume, judged beyond the calibrated rate only",
    ),
    # ---- docker
    _f("docker_lines", "count", "docker_logs", "container log lines", volume=True),
    _f("docker_stderr_lines", "count", "docker_logs", "container lines on stderr"),
    _f("docker_error_lines", "count", "docker_logs", "container lines at level error/critical"),
    _f("docker_warning_lines", "count", "docker_logs", "container lines at level warning"),
    _f(
        "docker_tracebacks",
        "count",
        "docker_logs",
        "Python tracebacks and fatal runtime errors in container output",
    ),
    _f("docker_disk_full", "count", "docker_logs", "'No space left on device' in container output"),
    _f("docker_dies", "count", "docker_events", "container die events"),
    _f("docker_nonzero_exits", "count", "docker_events", "die events with a non-zero exit code"),
    _f("docker_ooms", "count", "docker_events", "container oom events", critical=True),
    _f("docker_starts", "count", "docker_events", "container start/restart events"),
    _f("docker_kills", "count", "docker_events", "container kill events"),
    _f("docker_unhealthy", "count", "docker_events", "health_status: unhealthy events"),
)
MAX_GPUS = 8  # per-GPU columns for GPU indices 0..7 (NaN where a host has fewer); the host-level
# statistics above still cover larger hosts
PER_GPU: tuple[tuple[str, str, str, str, str], ...] = (
    # base, unit, description, worse, reason
    ("temp_c", "degC", "mean temperature of GPU {i}", "", "judged given its power (lib/detect/baselines.py)"),
    ("power_w", "W", "mean power draw of GPU {i}", "", "load: the temperature baseline's input"),
    ("util_pct", "%", "mean utilisation of GPU {i}", "", "load"),
    (
        "fan_pct",
        "%",
        "mean fan speed of GPU {i} (NaN on fanless boards)",
        "down",
        "a stalled fan names its GPU; a fast one follows heat",
    ),
)
_PER_GPU_RE = re.compile(r"^gpu(\d+)_(.+)$")


def per_gpu_name(i: int, base: str) -> str:
    return f"gpu{i}_{base}"


def per_gpu_base(name: str) -> str | None:
    """``gpu3_temp_c`` -> ``gpu_temp_c`` (the per-GPU family), None for host-level names."""
    m = _PER_GPU_RE.match(name)
    return f"gpu_{m.group(2)}" if m else None


def gpu_index_of(name: str) -> int | None:
    m = _PER_GPU_RE.match(name)
    return int(m.group(1)) if m else None


FEATURES = FEATURES + tuple(
    Feature(per_gpu_name(i, base), unit, "gpu", desc.format(i=i), worse, reason=reason)
    for base, unit, desc, worse, reason in PER_GPU
    for i in range(MAX_GPUS)
)

# Health (issue 13): counts of deterministic health events per window, by component x severity. The rule
# decision stands on its own (health incidents); these let the learned layers see the same facts.
# Built by lib/health/features.py, wired in lib/features/windows.py.
HEALTH_FEATURES: tuple[Feature, ...] = tuple(
    _f(
        health_feature_name(component, severity),
        "count",
        "health",
        f"{severity} health events of component {component} (lib/health rules: Xid/SXid, ECC, OOM, ...)",
    )
    for component, severity in HEALTH_COUNT_KEYS
)
FEATURES = FEATURES + HEALTH_FEATURES
FEATURE_NAMES: tuple[str, ...] = tuple(f.name for f in FEATURES)
FEATURE_BY_NAME: dict[str, Feature] = {f.name: f for f in FEATURES}
# Derived by the trained model, not by the window builder (no input column): lib/detect/baselines.py
EXCESS_REASON = (
    "a card hotter than its power predicts, relative to the median of the host's other cards at the "
    "same minute (they share the inlet air: a warmer room lifts all alike and cancels); own-baseline "
    "residual on 1-card hosts. Cooler than predicted is no failure this layer acts on"
)
DERIVED_FEATURES: tuple[Feature, ...] = tuple(
    Feature(per_gpu_name(i, "temp_excess_c"), "degC", "gpu", f"GPU {i}'s temperature excess", "up", reason=EXCESS_REASON)
    for i in range(MAX_GPUS)
)  # fmt: skip
DERIVED_BY_NAME: dict[str, Feature] = {f.name: f for f in DERIVED_FEATURES}
KEY_COLUMNS = ("host", "window_start", "window_end")
TEMPLATE_COUNT_COLUMNS = ("host", "window_start", "template_id", "count")

XID_GROUPS = {
    "xid_fatal": (74, 79, 95, 119, 120),
    "xid_memory": (48, 63, 64, 92, 94),
    "xid_app": (13, 31, 43, 45),
}


def feature_registry_frame() -> pd.DataFrame:
    """The registry as a table (for docs, asset metadata and the MLflow run); ``derived`` marks the
    model's own columns."""
    rows = [{**f.__dict__, "derived": False} for f in FEATURES]
    return pd.DataFrame(rows + [{**f.__dict__, "derived": True} for f in DERIVED_FEATURES])
