"""Data contracts of the parsed tables (DESIGN.md section 3), shared by parsers, features and checks.

One place owns column names and dtypes so that a parser, a feature builder and a schema check can
never disagree silently. Timestamps are UTC ``datetime64[ns, UTC]`` columns named ``ts``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd

TS = "datetime64[ns, UTC]"

# column -> pandas dtype. Nullable extension dtypes keep "unknown" distinct from 0.
GPU_SAMPLES: dict[str, str] = {
    "ts": TS,
    "host": "string",
    "gpu_index": "Int16",
    "gpu_uuid": "string",
    "gpu_name": "string",
    "temperature_c": "Float32",
    "util_gpu_pct": "Float32",
    "util_mem_pct": "Float32",
    "mem_used_mib": "Float32",
    "mem_total_mib": "Float32",
    "power_w": "Float32",
    "power_limit_w": "Float32",
    "fan_pct": "Float32",
    "sm_clock_mhz": "Float32",
    "pstate": "string",
    "throttle_reasons": "Int64",  # bitmask of clocks_throttle_reasons.active
    "ecc_uncorrected": "Int64",
    # issue 13 item 2 (all nullable: a field the driver or card does not support is null)
    "pci_bus": "string",  # pci.bus_id normalised like gpu_values.normalise_pci ("0000:3b:00")
    "clocks_event_reasons": "Int64",  # clocks_event_reasons.active (or the older throttle name)
    "ecc_uncorrected_aggregate": "Int64",  # ecc.errors.uncorrected.aggregate.total (lifetime)
    "remapped_rows_pending": "boolean",
    "remapped_rows_failure": "boolean",
    "retired_pages_pending": "boolean",
    "memory_temp_c": "Float32",  # temperature.memory (HBM boards; N/A on GDDR)
    "pcie_link_gen": "Int8",  # pcie.link.gen.current
    "pcie_link_width": "Int8",  # pcie.link.width.current
}

# Failures printed by nvidia-smi itself ("Unable to determine the device handle", "GPU has fallen
# off the bus"): they are events, not bad lines.
GPU_ERRORS: dict[str, str] = {
    "ts": TS,
    "host": "string",
    "pci_bus": "string",
    "message": "string",
}

JOURNAL_ENTRIES: dict[str, str] = {
    "ts": TS,
    "host": "string",
    "unit": "string",
    "identifier": "string",
    "pid": "Int64",
    "priority": "Int8",  # 0 emerg .. 7 debug
    "message": "string",
    "template_id": "string",
    "boot_id": "string",
    "cursor": "string",
}

KERNEL_EVENTS: dict[str, str] = {
    "ts": TS,
    "host": "string",
    "kind": "string",  # xid | oom | hung_task | nvrm | other
    "xid": "Int16",
    "pci_bus": "string",
    "pid": "Int64",
    "message": "string",
}

DOCKER_LINES: dict[str, str] = {
    "ts": TS,
    "host": "string",
    "container": "string",
    "stream": "string",  # stdout | stderr
    "message": "string",
    "level": "string",  # debug|info|warning|error|critical|unknown
    "template_id": "string",
}

DOCKER_EVENTS: dict[str, str] = {
    "ts": TS,
    "host": "string",
    "container": "string",
    "action": "string",  # die | oom | restart | kill | start | stop | health_status: unhealthy ...
    "exit_code": "Int16",
    "image": "string",
}

QUARANTINE: dict[str, str] = {
    "ingested_at": TS,
    "host": "string",
    "source": "string",
    "line_no": "Int64",
    "reason": "string",
    "raw": "string",  # truncated to QUARANTINE_RAW_MAX bytes
}
QUARANTINE_RAW_MAX = 4096

SCORES: dict[str, str] = {
    "host": "string",
    "window_start": TS,
    "score": "float64",
    "is_anomaly": "bool",
    "model_version": "string",
    "top_features": "string",  # JSON list of {"feature", "value", "contribution"}
    "layer": "string",  # which layer decided an alarm: health | baseline | forest ("" when no alarm)
    "gpu_index": "Int16",  # the GPU an alarm is about, when the deciding evidence is per GPU
}

# Deterministic health findings (lib/health): one row per event, no model involved (DESIGN.md section 6).
HEALTH_EVENTS: dict[str, str] = {
    "ts": TS,
    "host": "string",
    "gpu_index": "Int16",  # null when the event is not about one GPU (or its PCI bus is not in the samples)
    "gpu_uuid": "string",
    "pci_bus": "string",  # normalised like lib/parsing/gpu_values.normalise_pci (0000:3b:00)
    "component": "string",  # gpu | kernel | disk | service | container | network
    "code": "string",  # XID_79, SXID_20034, ECC_DBE, ROW_REMAP_FAILED, HW_SLOWDOWN, GPU_MISSING, OOM_KILL ...
    "severity": "string",  # fatal | critical | warning | info | unknown
    "action": "string",  # none | restart_app | reset_gpu | reboot | hardware_inspection | check_service | free_disk
    "message": "string",  # what happened, in words (catalog meaning + the line's particulars)
    "evidence": "string",  # JSON: the raw line(s) or values the rule fired on, redacted
    "boot_id": "string",  # journal boot the event belongs to (escalation across boots), null when unknown
}

INCIDENTS: dict[str, str] = {
    "incident_id": "string",
    "host": "string",
    "gpu_index": "Int16",  # null when the incident is not about one GPU
    "gpu_uuid": "string",
    "pci_bus": "string",
    "layer": "string",  # health | baseline | forest: what raised it
    "kind": "string",  # health code (XID_79, OOM_KILL ...) or the model's leading evidence family
    "action": "string",  # the health catalog's action vocabulary (none | restart_app | reset_gpu | ...)
    "model_version": "string",  # null for health-layer incidents
    "start": TS,
    "end": TS,
    "severity": "string",  # low | medium | high | critical
    "max_score": "float64",
    "windows": "Int64",
    "sources": "string",  # ';'-joined
    "evidence": "string",  # JSON
    "summary": "string",  # JSON of the triage schema (issue 7)
    "summary_kind": "string",  # llm | rules
}

TABLES: dict[str, dict[str, str]] = {
    "gpu_samples": GPU_SAMPLES,
    "gpu_errors": GPU_ERRORS,
    "journal_entries": JOURNAL_ENTRIES,
    "kernel_events": KERNEL_EVENTS,
    "docker_lines": DOCKER_LINES,
    "docker_events": DOCKER_EVENTS,
    "quarantine": QUARANTINE,
    "scores": SCORES,
    "health_events": HEALTH_EVENTS,
    "incidents": INCIDENTS,
}


def empty_frame(schema: dict[str, str]) -> pd.DataFrame:
    """A zero-row frame with exactly the contract's columns and dtypes."""
    return pd.DataFrame({col: pd.Series(dtype=dtype) for col, dtype in schema.items()})


def conform(df: pd.DataFrame, schema: dict[str, str]) -> pd.DataFrame:
    """Return ``df`` with exactly the contract's columns (missing ones null) in order and dtype."""
    out = pd.DataFrame(index=df.index)
    for col, dtype in schema.items():
        if col in df.columns:
            s = df[col]
            if dtype == TS:
                s = pd.to_datetime(s, utc=True, errors="coerce").astype(TS)
            else:
                s = s.astype(dtype)
            out[col] = s
        else:
            # numpy columns have no pd.NA: a float's null is NaN, a plain bool (a flag) is False
            null = {TS: pd.NaT, "bool": False}.get(
                dtype, float("nan") if dtype.startswith("float") else pd.NA
            )
            out[col] = pd.Series(null, index=df.index, dtype=dtype)
    return out.reset_index(drop=True)


def schema_mismatches(df: pd.DataFrame, schema: dict[str, str]) -> list[str]:
    """Human-readable differences between a frame and its contract (empty list = conforms)."""
    problems = []
    for col, dtype in schema.items():
        if col not in df.columns:
            problems.append(f"missing column {col!r} ({dtype})")
        elif str(df[col].dtype) != dtype:
            problems.append(f"column {col!r} is {df[col].dtype}, contract says {dtype}")
    problems += [f"unexpected column {c!r}" for c in df.columns if c not in schema]
    return problems


@dataclass
class ParseResult:
    """What every parser returns: the typed table, the quarantined records, and what it assumed.

    Invariant (tested): ``records_in == len(table) + len(quarantine) + skipped`` where ``skipped``
    counts only structural non-records (blank lines, repeated CSV headers) and is reported.
    """

    kind: str
    table: pd.DataFrame
    quarantine: pd.DataFrame
    records_in: int = 0
    skipped: int = 0
    events: pd.DataFrame | None = None  # side events, e.g. gpu_errors for nvidia-smi failures
    notes: dict[str, Any] = field(default_factory=dict)  # e.g. {"year_inferred": 2026}

    @property
    def reasons(self) -> dict[str, int]:
        if self.quarantine.empty:
            return {}
        return {str(k): int(v) for k, v in self.quarantine["reason"].value_counts().items()}
