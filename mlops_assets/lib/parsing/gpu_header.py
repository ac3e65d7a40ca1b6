"""nvidia-smi ``--query-gpu`` header -> gpu_samples columns: any field order, any subset, units or not.

A header is recognised by its field names alone (``utilization.gpu [%]`` and ``utilization.gpu``
are the same field), so a CSV written with any ``--query-gpu`` list maps column by column; fields
the contract does not know are not read, contract columns the header lacks stay null.
"""

from __future__ import annotations

import re

from mlops_assets.lib.contracts.raw import GPU_BASE_FIELDS, GPU_QUERY_FIELDS

# normalised header name -> gpu_samples column (first matching header column wins)
FIELD_ALIASES: dict[str, str] = {
    "timestamp": "ts",
    "index": "gpu_index",
    "gpu_index": "gpu_index",
    "gpu": "gpu_index",
    "uuid": "gpu_uuid",
    "gpu_uuid": "gpu_uuid",
    "name": "gpu_name",
    "gpu_name": "gpu_name",
    "pci.bus_id": "pci_bus",
    "gpu_bus_id": "pci_bus",
    "temperature.gpu": "temperature_c",
    "temperature_c": "temperature_c",
    "utilization.gpu": "util_gpu_pct",
    "utilization_gpu_percent": "util_gpu_pct",
    "utilization.memory": "util_mem_pct",
    "utilization_memory_percent": "util_mem_pct",
    "memory.used": "mem_used_mib",
    "memory.total": "mem_total_mib",
    "power.draw": "power_w",
    "power.draw.instant": "power_w",
    "power_w": "power_w",
    "power.limit": "power_limit_w",
    "enforced.power.limit": "power_limit_w",
    "fan.speed": "fan_pct",
    "clocks.sm": "sm_clock_mhz",
    "clocks.current.sm": "sm_clock_mhz",
    "pstate": "pstate",
    "clocks_throttle_reasons.active": "throttle_reasons",
    "clocks_event_reasons.active": "throttle_reasons",
    "ecc.errors.uncorrected.volatile.total": "ecc_uncorrected",
    "ecc.errors.uncorrected.aggregate.total": "ecc_uncorrected_aggregate",
    "remapped_rows.pending": "remapped_rows_pending",
    "remapped_rows.failure": "remapped_rows_failure",
    "retired_pages.pending": "retired_pages_pending",
    "temperature.memory": "memory_temp_c",
    "pcie.link.gen.current": "pcie_link_gen",
    "pcie.link.gen.gpucurrent": "pcie_link_gen",
    "pcie.link.width.current": "pcie_link_width",
}
# columns filled from another column of the same row (same bitmask, two names in the contract)
DERIVED: dict[str, str] = {"clocks_event_reasons": "throttle_reasons"}
BITMASK_COLUMNS = frozenset({"throttle_reasons"})
BOOLEAN_COLUMNS = frozenset({"remapped_rows_pending", "remapped_rows_failure", "retired_pages_pending"})
# column counts of headerless files (--format=csv,noheader) read in a known field order
NOHEADER_LAYOUTS: dict[int, tuple[str, ...]] = {
    len(GPU_QUERY_FIELDS): GPU_QUERY_FIELDS,
    len(GPU_BASE_FIELDS): GPU_BASE_FIELDS,
}

FAILURE_RE = re.compile(
    r"Unable to determine the device handle|fallen off the bus|No devices were found|"
    r"NVIDIA-SMI has failed|Failed to initialize NVML|GPU is lost|Unknown Error"
)
_UNIT = re.compile(r"\s*\[[^\]]*\]\s*$")


def normalise_header_name(name: str) -> str:
    """``utilization.gpu [%]`` -> ``utilization.gpu``; ``Temperature_C`` -> ``temperature_c``."""
    return _UNIT.sub("", name.strip()).strip().lower()


def header_mapping(fields: list[str]) -> dict[int, str] | None:
    """Column position -> contract column, or None when ``fields`` is not a query-gpu header.

    A header needs a ``timestamp`` column and at least one other known field: without a time a
    sample cannot be placed in a window.
    """
    mapping: dict[int, str] = {}
    for pos, name in enumerate(fields):
        col = FIELD_ALIASES.get(normalise_header_name(name))
        if col is not None and col not in mapping.values():
            mapping[pos] = col
    return mapping if len(mapping) >= 2 and "ts" in mapping.values() else None


def split_fields(line: str) -> list[str]:
    return [f.strip() for f in line.split(",")]


def timestamp_position(header_line: bytes | str) -> int | None:
    """0-based position of the ``timestamp`` field in a header line (None: not a header)."""
    text = header_line.decode("utf-8", "replace") if isinstance(header_line, bytes) else header_line
    mapping = header_mapping(split_fields(text.strip()))
    if mapping is None:
        return None
    return next(pos for pos, col in mapping.items() if col == "ts")
