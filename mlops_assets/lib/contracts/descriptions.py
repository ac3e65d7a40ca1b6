"""What every column of every contract table means, with its unit: shown in the Dagster UI's column
schema (``dagster/column_schema``) next to the dtype. Kept beside the contracts so a new column and its
description arrive together (a test fails when a contract column has none).
"""

from __future__ import annotations

from collections.abc import Iterable

TS_DOC = "UTC timestamp of the line or sample"
HOST_DOC = "host name as in hosts.yaml / the landing folder"

GPU_SAMPLES = {
    "ts": "UTC time of the nvidia-smi sample",
    "host": HOST_DOC,
    "gpu_index": "nvidia-smi GPU index (0-based; null when the line did not say)",
    "gpu_uuid": "GPU UUID (GPU-xxxxxxxx-...), stable across reboots unlike the index",
    "gpu_name": "product name, e.g. NVIDIA H100 80GB HBM3",
    "temperature_c": "GPU core temperature, degrees C",
    "util_gpu_pct": "SM utilisation over the sample period, %",
    "util_mem_pct": "memory-controller utilisation, %",
    "mem_used_mib": "framebuffer memory used, MiB",
    "mem_total_mib": "framebuffer memory total, MiB",
    "power_w": "board power draw, W",
    "power_limit_w": "enforced power limit, W (a drop is a power-cap event)",
    "fan_pct": "fan speed, % of max (null on passively cooled boards)",
    "sm_clock_mhz": "SM clock, MHz",
    "pstate": "performance state P0 (max) .. P12 (idle)",
    "throttle_reasons": "clock-event (throttle) reasons bitmask, NVML bits: 0x8 HW slowdown, 0x40 HW thermal",
    "ecc_uncorrected": "volatile uncorrected ECC errors since the last driver load",
    # columns added by the GPU-fields work (INTERFACES.md, H16a)
    "pci_bus": "PCI bus id, normalised 0000:3b:00.0",
    "clocks_event_reasons": "clock-event reasons bitmask (clocks_event_reasons.active), NVML bits",
    "ecc_uncorrected_aggregate": "uncorrected ECC errors over the board's lifetime",
    "remapped_rows_pending": "a row remap is pending: reset the GPU to apply it",
    "remapped_rows_failure": "a row remap failed: the board needs inspection",
    "retired_pages_pending": "a page retirement is pending (pre-Ampere boards)",
    "memory_temp_c": "HBM memory temperature, degrees C",
    "pcie_link_gen": "current PCIe link generation",
    "pcie_link_width": "current PCIe link width (lanes)",
}

GPU_ERRORS = {
    "ts": "UTC time nvidia-smi printed the failure",
    "host": HOST_DOC,
    "pci_bus": "PCI bus of the failing GPU when printed",
    "message": "nvidia-smi's own failure text, e.g. 'GPU has fallen off the bus'",
}

JOURNAL_ENTRIES = {
    "ts": "UTC time of the journal entry (__REALTIME_TIMESTAMP)",
    "host": HOST_DOC,
    "unit": "systemd unit (_SYSTEMD_UNIT)",
    "identifier": "SYSLOG_IDENTIFIER, the program name",
    "pid": "process id (_PID)",
    "priority": "syslog priority 0 emerg .. 3 err .. 4 warning .. 7 debug",
    "message": "MESSAGE text (byte arrays decoded, invalid UTF-8 replaced)",
    "template_id": "log template id from the miner (null: no known template = new)",
    "boot_id": "_BOOT_ID of the boot the entry belongs to",
    "cursor": "__CURSOR, where collection resumes",
}

KERNEL_EVENTS = {
    "ts": "UTC time of the kernel line",
    "host": HOST_DOC,
    "kind": "xid | oom | hung_task | nvrm | other",
    "xid": "NVIDIA Xid code for NVRM Xid lines (e.g. 79 = fallen off the bus)",
    "pci_bus": "PCI bus named by the line (NVRM: Xid (PCI:0000:3b:00))",
    "pid": "process id named by the line (Xid pid=, OOM victim)",
    "message": "kernel message text",
}

DOCKER_LINES = {
    "ts": "UTC time docker recorded the line (--timestamps)",
    "host": HOST_DOC,
    "container": "container name",
    "stream": "stdout | stderr",
    "message": "the line as the container printed it",
    "level": "debug | info | warning | error | critical | unknown, from the line's own marker",
    "template_id": "log template id from the miner (null: no known template = new)",
}

DOCKER_EVENTS = {
    "ts": "UTC time of the docker event",
    "host": HOST_DOC,
    "container": "container name",
    "action": "die | oom | restart | kill | start | stop | health_status: unhealthy ...",
    "exit_code": "exit code of a die event (137 = killed, often OOM)",
    "image": "container image",
}

QUARANTINE = {
    "ingested_at": "UTC time the bad record was set aside",
    "host": HOST_DOC,
    "source": "gpu | journal | kernel | docker_logs | docker_events",
    "line_no": "1-based line number in the raw member",
    "reason": "why the record could not be parsed",
    "raw": "the raw record, truncated to 4 KiB",
}

SCORES = {
    "host": HOST_DOC,
    "window_start": "UTC start of the scored window",
    "score": "anomaly score of the window; >= the model threshold is an alarm",
    "is_anomaly": "the window raised an alarm",
    "model_version": "registered version of log-anomaly-detector that scored it",
    "top_features": "JSON list of the features that moved the score most: feature, value, contribution",
    "layer": "which layer decided the alarm: health | baseline | forest ('' when no alarm)",
    "gpu_index": "the GPU the alarm is about, when the deciding evidence is per GPU",
}

HEALTH_EVENTS = {
    "ts": "UTC time of the line or sample the rule fired on",
    "host": HOST_DOC,
    "gpu_index": "GPU index (null when not about one GPU)",
    "gpu_uuid": "GPU UUID when known",
    "pci_bus": "PCI bus, normalised 0000:3b:00.0",
    "component": "gpu | kernel | disk | service | container | network",
    "code": "what fired: XID_79, ECC_DBE, ROW_REMAP_FAILED, OOM_KILL, UNIT_FAILED ...",
    "severity": "fatal | critical | warning | info | unknown",
    "action": "none | restart_app | reset_gpu | reboot | hardware_inspection | check_service | free_disk",
    "message": "what happened, in words",
    "evidence": "JSON: the redacted raw line(s) or values the rule fired on",
    "boot_id": "journal boot of the event (escalation across reboots)",
}

INCIDENTS = {
    "incident_id": "stable id (hash of host and start); names the report file",
    "host": HOST_DOC,
    "gpu_index": "GPU the incident is about (null: host-wide)",
    "gpu_uuid": "GPU UUID when known",
    "pci_bus": "PCI bus of the GPU when known",
    "layer": "what raised it: health (deterministic rule) | baseline | forest (learned model)",
    "kind": "health code (XID_79, OOM_KILL ...) or the model's leading evidence family",
    "action": "what to do: none | restart_app | reset_gpu | reboot | hardware_inspection | check_service | free_disk",
    "model_version": "detector version that raised it (null for health-layer incidents)",
    "start": "UTC start of the first anomalous window",
    "end": "UTC end of the last anomalous window",
    "severity": "low | medium | high | critical",
    "max_score": "highest window score (null for health-layer incidents)",
    "windows": "number of anomalous windows merged",
    "sources": "';'-joined sources of the evidence: gpu, journal, kernel, docker_logs, docker_events, logs",
    "evidence": "JSON: top features, unusual log lines (routine ones counted), health events",
    "summary": "JSON triage: ranked hypotheses with immediate actions and prevention, and a summary",
    "summary_kind": "llm | rules: who wrote the summary",
}

SCORE_EVIDENCE = {
    "host": HOST_DOC,
    "window_start": "UTC start of the anomalous window",
    "templates": "JSON: the window's templates by count",
    "sample_lines": "JSON: kernel, journal (warning+) and container (warning+/stderr) lines of the window",
}

FEATURE_KEYS = {
    "host": HOST_DOC,
    "window_start": "UTC start of the feature window",
    "window_end": "UTC end of the feature window (exclusive)",
}

DESCRIPTIONS: dict[str, dict[str, str]] = {
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
    "score_evidence": SCORE_EVIDENCE,
    "features": FEATURE_KEYS,
}


def describe(table: str, columns: Iterable[str], extra: dict[str, str] | None = None) -> dict[str, str]:
    """Column -> description for ``columns`` of ``table`` (``extra`` e.g. the feature registry's).

    Template count columns ``tpl__<id>`` are described by rule. A column with no description is
    left out of the result; the contract test keeps that from happening for contract columns.
    """
    known = {**DESCRIPTIONS.get(table, {}), **(extra or {})}
    out = {}
    for c in columns:
        if c in known:
            out[c] = known[c]
        elif c == "tpl_other":
            out[c] = "lines of known templates outside the model's vocabulary in the window"
        elif c == "tpl_new":
            out[c] = "lines no known template matches (new templates) in the window"
        elif c.startswith("tpl__"):
            out[c] = f"lines of log template {c[5:]} in the window (log1p-scaled by the model)"
    return out
