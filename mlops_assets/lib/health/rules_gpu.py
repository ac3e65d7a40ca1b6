"""GPU health rules: Xid/SXid lines, fallen-off-the-bus and init failures, nvidia-smi failures,
uncorrectable ECC increments, row remapping / page retirement, sustained clock-event reasons,
missing GPUs and a lowered power limit.

Every rule reads only columns that exist: a GPU_SAMPLES column that is not collected on a host (old
driver, older collector) makes its rule silent, never an error.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import pandas as pd

from mlops_assets.lib.health.catalog import lookup_sxid, lookup_xid
from mlops_assets.lib.health.events import GpuMap, collapse_runs, event, having, line_evidence
from mlops_assets.lib.parsing.gpu_values import normalise_pci
from mlops_assets.lib.parsing.kernel import XID_RE

SXID_RE = re.compile(r"SXid \((?:PCI:)?([0-9A-Fa-f:.]+)\):\s*(\d+),\s*(Fatal|Non-fatal)", re.IGNORECASE)
FM_SXID_RE = re.compile(
    r"detected NVSwitch (fatal|non-fatal) error (\d+).*?pci bus id ([0-9A-Fa-f:.]+)", re.IGNORECASE
)
NVLINK5_SEVERITY_RE = re.compile(r"\b(Nonfatal|Fatal)\b")
FELL_OFF_RE = re.compile(r"fallen off the bus", re.IGNORECASE)
INIT_FAIL_RE = re.compile(
    r"RmInitAdapter failed|rm_init_adapter failed|GPU \S+ failed to initialize", re.IGNORECASE
)
GPU_LINE_KEYS = ("NVRM", "SXid", "NVSwitch", "fallen off", "RmInit", "rm_init", "failed to initialize")
SMI_LOST_RE = re.compile(
    r"Unable to determine the device handle|GPU is lost|fallen off the bus", re.IGNORECASE
)

# clock-event reason bits (NVML) that mean the hardware, not the workload, is holding clocks down
CLOCK_EVENTS: tuple[tuple[int, str, str, str, str], ...] = (
    (0x8, "HW_SLOWDOWN", "critical", "hardware_inspection", "HW slowdown (power supply or overheating)"),
    (0x40, "HW_THERMAL_SLOWDOWN", "critical", "hardware_inspection", "HW thermal slowdown (GPU overheating)"),
    (0x80, "HW_POWER_BRAKE", "critical", "hardware_inspection", "HW power brake (external power signal)"),
    (0x20, "SW_THERMAL_SLOWDOWN", "warning", "hardware_inspection", "SW thermal slowdown (near its limit)"),
)
SUSTAINED_WINDOW_MIN = 10  # gpud: >= 0.6 events per minute over 10 minutes
SUSTAINED_MIN_MINUTES = 6


def gpu_label(gpu: tuple[int | None, str | None, str | None]) -> str:
    index, uuid, pci = gpu
    parts = [f"GPU {index}" if index is not None else "GPU (index unknown)"]
    details = [x for x in (uuid, f"PCI {pci}" if pci else None) if x]
    return parts[0] + (f" ({', '.join(details)})" if details else "")


def xid_events(lines: pd.DataFrame, gmap: GpuMap) -> list[dict[str, Any]]:
    """One event per ``NVRM: Xid`` line, per fallen-off-the-bus line without one, per init failure."""
    out: list[dict[str, Any]] = []
    msgs = lines["message"].astype("string").fillna("")
    cand = having(msgs, GPU_LINE_KEYS)
    for ts, msg, source in zip(lines["ts"][cand], msgs[cand], lines["source"][cand], strict=True):
        if "Xid" in msg and (m := XID_RE.search(msg)):
            entry, gpu = lookup_xid(int(m.group("xid"))), gmap.from_pci(m.group("pci"))
            severity, action = entry.severity, entry.action
            if 144 <= entry.code <= 150 and (s := NVLINK5_SEVERITY_RE.search(msg[m.end() :])):
                severity, action = ("critical", "reset_gpu") if s.group(1) == "Fatal" else ("warning", "none")
            text = f"{gpu_label(gpu)} raised Xid {entry.code} ({entry.name}): {entry.meaning}"
            ev = line_evidence(source, msg, form="xid_line", xid=entry.code, pid=m.group("pid"))
            out.append(event(ts, "gpu", f"XID_{entry.code}", severity, action, text, ev, gpu))
        elif FELL_OFF_RE.search(msg) and "NVRM" in msg:
            gpu, entry = gmap.from_pci(msg), lookup_xid(79)
            text = f"{gpu_label(gpu)} has fallen off the bus (driver line, implies Xid 79): {entry.meaning}"
            ev = line_evidence(source, msg, form="fallen_off_bus_line", xid=79)
            out.append(event(ts, "gpu", "XID_79", entry.severity, entry.action, text, ev, gpu))
        elif INIT_FAIL_RE.search(msg):
            gpu = gmap.from_pci(msg)
            text = f"{gpu_label(gpu)} failed to initialise (RmInitAdapter): the driver cannot use it"
            ev = line_evidence(source, msg, form="init_failure")
            out.append(event(ts, "gpu", "GPU_INIT_FAILED", "critical", "reboot", text, ev, gpu))
        elif "SXid" in msg or "NVSwitch" in msg:
            m = SXID_RE.search(msg)
            groups = (m.group(1), m.group(2), m.group(3)) if m else None
            if groups is None and (f := FM_SXID_RE.search(msg)):
                groups = (f.group(3), f.group(2), f.group(1))
            if groups is None:
                continue  # SXid continuation lines ("Severity 1 Engine ...", "Data {...}") repeat the headline
            pci, code, stated = normalise_pci(groups[0]), int(groups[1]), groups[2].lower()
            entry = lookup_sxid(code)
            severity, action = entry.severity, entry.action
            if stated == "non-fatal" and severity == "fatal":
                severity, action = "warning", "none"  # the driver/fabric manager says it was contained
            text = f"NVSwitch PCI {pci} raised SXid {code} ({entry.name}), reported {stated}"
            ev = line_evidence(source, msg, form="sxid_line", sxid=code, stated=stated)
            out.append(event(ts, "network", f"SXID_{code}", severity, action, text, ev, (None, None, pci)))
    return out


def smi_failure_events(errors: pd.DataFrame, gmap: GpuMap) -> list[dict[str, Any]]:
    """nvidia-smi failure lines (one event per run of the same line and GPU)."""
    if errors.empty:
        return []
    d = errors.assign(
        pci_norm=errors["pci_bus"].map(lambda p: normalise_pci(p) if isinstance(p, str) else None)
    )
    out = []
    for row in collapse_runs(d, ["pci_norm", "message"]).to_dict("records"):
        msg = str(row["message"])
        gpu = gmap.from_pci(row["pci_norm"] or msg)
        lost = bool(SMI_LOST_RE.search(msg))
        action = "reboot" if lost else "check_service"
        text = f"nvidia-smi failed for {gpu_label(gpu)}: {msg[:200]}" + (" (GPU lost)" if lost else "")
        ev = line_evidence("nvidia-smi", msg, repeats=int(row["run_count"]), until=row["run_last"])
        out.append(event(row["ts"], "gpu", "NVSMI_FAILED", "critical", action, text, ev, gpu))
    return out


def _per_gpu(samples: pd.DataFrame) -> pd.core.groupby.DataFrameGroupBy:
    return (
        samples.dropna(subset=["gpu_index"]).sort_values("ts", kind="stable").groupby("gpu_index", sort=True)
    )


def ecc_events(samples: pd.DataFrame, gmap: GpuMap) -> list[dict[str, Any]]:
    """An uncorrectable ECC counter (volatile or aggregate) that rises between two samples."""
    cols = [c for c in ("ecc_uncorrected", "ecc_uncorrected_aggregate") if c in samples]
    if samples.empty or not cols:
        return []
    out = []
    for index, g in _per_gpu(samples):
        rise = np.zeros(len(g))
        for c in cols:
            v = pd.to_numeric(g[c], errors="coerce").astype("float64")
            rise = np.maximum(rise, v.ffill().diff().fillna(0).to_numpy())
        for i in np.flatnonzero(rise > 0):
            row = g.iloc[i]
            gpu = gmap.from_index(int(index))
            values = {c: (None if pd.isna(row[c]) else int(row[c])) for c in cols}
            text = f"{gpu_label(gpu)}: {int(rise[i])} new uncorrectable ECC error(s); running jobs may be corrupted"
            ev = {"source": "nvidia-smi", "increase": int(rise[i]), **values}
            out.append(event(row["ts"], "gpu", "ECC_UNCORRECTED", "critical", "reset_gpu", text, ev, gpu))
    return out


_FLAGS = (
    (
        "remapped_rows_failure",
        "ROW_REMAP_FAILED",
        "fatal",
        "hardware_inspection",
        "row remapping failed: RMA",
    ),
    (
        "remapped_rows_pending",
        "ROW_REMAP_PENDING",
        "critical",
        "reset_gpu",
        "row remapping pending: reset to apply",
    ),
    (
        "retired_pages_pending",
        "RETIRED_PAGES_PENDING",
        "critical",
        "reset_gpu",
        "page retirement pending: reset",
    ),
)


def _truthy(s: pd.Series) -> pd.Series:
    txt = s.astype("string").str.strip().str.lower()
    return txt.isin(["true", "yes", "1"]).fillna(False).astype(bool)


def memory_flag_events(samples: pd.DataFrame, gmap: GpuMap) -> list[dict[str, Any]]:
    """Row remapping failed / pending and retired pages pending: one event when the flag turns on."""
    out = []
    for col, code, severity, action, words in _FLAGS:
        if samples.empty or col not in samples:
            continue
        for index, g in _per_gpu(samples):
            on = _truthy(g[col]).to_numpy()
            starts = np.flatnonzero(on & ~np.concatenate([[False], on[:-1]]))
            for i in starts:
                gpu = gmap.from_index(int(index))
                text = f"{gpu_label(gpu)}: {words}"
                ev = {"source": "nvidia-smi", col: True, "samples_on": int(on.sum())}
                out.append(event(g["ts"].iloc[i], "gpu", code, severity, action, text, ev, gpu))
    return out


def clock_event_events(samples: pd.DataFrame, gmap: GpuMap) -> list[dict[str, Any]]:
    """A hardware clock-event reason active in >= 6 of the last 10 minutes (gpud's 0.6/min rate):
    one event per GPU, reason and sustained episode."""
    cols = [c for c in ("clocks_event_reasons", "throttle_reasons") if c in samples]
    if samples.empty or not cols:
        return []
    # The newer field name wins where it was collected; older drivers only fill throttle_reasons.
    reasons = pd.to_numeric(samples[cols[0]], errors="coerce")
    for col in cols[1:]:
        reasons = reasons.fillna(pd.to_numeric(samples[col], errors="coerce"))
    watched = sum(bit for bit, *_ in CLOCK_EVENTS)
    mask = reasons.fillna(0).astype("int64") & watched
    hit = samples[(mask > 0).to_numpy() & samples["gpu_index"].notna().to_numpy()]
    if hit.empty:  # the healthy case: no hardware reason anywhere
        return []
    per_minute = (
        pd.DataFrame(
            {
                "gpu": hit["gpu_index"].astype(int),
                "minute": pd.to_datetime(hit["ts"], utc=True).dt.floor("1min"),
                "m": mask[hit.index],
            }
        )
        .groupby(["gpu", "minute"])["m"]
        .agg(np.bitwise_or.reduce)
    )
    out = []
    for index, g in per_minute.groupby(level="gpu"):
        g = g.droplevel("gpu")
        grid = pd.date_range(g.index.min(), g.index.max(), freq="1min")
        bits = g.reindex(grid, fill_value=0).to_numpy()
        for bit, code, severity, action, words in CLOCK_EVENTS:
            per_min = pd.Series((bits & bit) > 0, index=grid).astype(int)
            rolling = per_min.rolling(SUSTAINED_WINDOW_MIN, min_periods=1).sum()
            hot = (rolling >= SUSTAINED_MIN_MINUTES).to_numpy()
            for i in np.flatnonzero(hot & ~np.concatenate([[False], hot[:-1]])):
                gpu = gmap.from_index(int(index))
                text = (
                    f"{gpu_label(gpu)}: {words} active in {int(rolling.iloc[i])} of the last "
                    f"{SUSTAINED_WINDOW_MIN} minutes"
                )
                ev = {"source": "nvidia-smi", "bit": hex(bit), "minutes_active": int(rolling.iloc[i])}
                out.append(
                    event(grid[i] + pd.Timedelta(minutes=1), "gpu", code, severity, action, text, ev, gpu)
                )
    return out


def missing_gpu_events(samples: pd.DataFrame, gmap: GpuMap, expected: int | None) -> list[dict[str, Any]]:
    """A minute in which nvidia-smi reported fewer GPUs than expected: one event per absent GPU and
    run. Minutes, not timestamps: real nvidia-smi stamps every GPU's row separately."""
    if samples.empty or not expected:
        return []
    valid = samples.dropna(subset=["gpu_index"])
    minute = pd.to_datetime(valid["ts"], utc=True).dt.floor("1min")
    counts = valid.groupby(minute)["gpu_index"].nunique()
    short = counts.index[counts.to_numpy() < expected]
    if len(short) == 0:
        return []
    known = set(gmap.by_index) | set(range(int(expected)))
    sel = minute.isin(short).to_numpy()
    seen = valid[sel].groupby(minute[sel])["gpu_index"].agg(lambda s: {int(x) for x in s})
    first_ts = valid[sel].groupby(minute[sel])["ts"].min()
    rows = [
        {"ts": first_ts[m], "gpu_index": i} for m, present in seen.items() for i in sorted(known - present)
    ]
    out = []
    for row in collapse_runs(pd.DataFrame(rows), ["gpu_index"], gap="2min").to_dict("records"):
        gpu = gmap.from_index(int(row["gpu_index"]))
        text = f"{gpu_label(gpu)} is missing from nvidia-smi ({expected} expected): fell off the bus or driver lost it"
        ev = {"source": "nvidia-smi", "expected": int(expected), "minutes_missing": int(row["run_count"])}
        out.append(event(row["ts"], "gpu", "GPU_MISSING", "critical", "reboot", text, ev, gpu))
    return out


def power_limit_events(samples: pd.DataFrame, gmap: GpuMap) -> list[dict[str, Any]]:
    """The enforced power limit of a GPU dropping by >= 10 % between samples (capped by an operator,
    BMC or policy): the GPU runs slower until it is restored."""
    if samples.empty or "power_limit_w" not in samples:
        return []
    out = []
    for index, g in _per_gpu(samples):
        lim = pd.to_numeric(g["power_limit_w"], errors="coerce").astype("float64").ffill()
        before = lim.shift()
        drop = ((before - lim) / before >= 0.10).fillna(False).to_numpy()
        for i in np.flatnonzero(drop):
            gpu = gmap.from_index(int(index))
            old, new = float(before.iloc[i]), float(lim.iloc[i])
            text = f"{gpu_label(gpu)}: power limit lowered from {old:.0f} W to {new:.0f} W"
            ev = {"source": "nvidia-smi", "from_w": old, "to_w": new}
            out.append(
                event(
                    g["ts"].iloc[i], "gpu", "POWER_LIMIT_LOWERED", "warning", "check_service", text, ev, gpu
                )
            )
    return out
