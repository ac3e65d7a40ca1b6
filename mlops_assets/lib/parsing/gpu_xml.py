"""``nvidia-smi -q -x`` XML -> gpu_samples, one row per ``<gpu>`` (DTD v10 … v13).

Element names moved between DTD versions (``power_readings`` -> ``gpu_power_readings``,
``power_draw`` -> ``instant_power_draw``/``average_power_draw``, ``clocks_throttle_reasons`` ->
``clocks_event_reasons``, ECC ``volatile/double_bit/total`` -> ``volatile/*_uncorrectable``), so
each field is looked up along a list of paths. ``gpu_index`` is the GPU's position in the document
(nvidia-smi lists GPUs in index order). The ``<timestamp>`` has no zone and is read as UTC.
The throttle bitmask is rebuilt from the per-reason Active/Not Active flags with NVML's bit values.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from datetime import datetime
from typing import Any

import pandas as pd

from mlops_assets.lib.contracts.tables import ParseResult
from mlops_assets.lib.parsing.gpu_values import normalise_pci
from mlops_assets.lib.parsing.records import Quarantine, build_result

# NVML clocks event reason bits (nvmlClocksEventReason*)
THROTTLE_BITS: dict[str, int] = {
    "gpu_idle": 0x1,
    "applications_clocks_setting": 0x2,
    "sw_power_cap": 0x4,
    "hw_slowdown": 0x8,
    "sync_boost": 0x10,
    "sw_thermal_slowdown": 0x20,
    "hw_thermal_slowdown": 0x40,
    "hw_power_brake_slowdown": 0x80,
    "display_clocks_setting": 0x100,
}
PATHS: dict[str, tuple[str, ...]] = {
    "gpu_uuid": ("uuid",),
    "gpu_name": ("product_name",),
    "temperature_c": ("temperature/gpu_temp",),
    "util_gpu_pct": ("utilization/gpu_util",),
    "util_mem_pct": ("utilization/memory_util",),
    "mem_used_mib": ("fb_memory_usage/used",),
    "mem_total_mib": ("fb_memory_usage/total",),
    "power_w": (
        "power_readings/power_draw",
        "gpu_power_readings/power_draw",
        "gpu_power_readings/instant_power_draw",
        "gpu_power_readings/average_power_draw",
    ),
    "power_limit_w": (
        "power_readings/power_limit",
        "power_readings/enforced_power_limit",
        "gpu_power_readings/current_power_limit",
        "gpu_power_readings/enforced_power_limit",
    ),
    "fan_pct": ("fan_speed",),
    "sm_clock_mhz": ("clocks/sm_clock",),
    "pstate": ("performance_state",),
    "memory_temp_c": ("temperature/memory_temp",),
    "pcie_link_gen": ("pci/pci_gpu_link_info/pcie_gen/current_link_gen",),
    "pcie_link_width": ("pci/pci_gpu_link_info/link_widths/current_link_width",),
}
FLAGS: dict[str, tuple[str, ...]] = {
    "remapped_rows_pending": ("remapped_rows/remapped_row_pending",),
    "remapped_rows_failure": ("remapped_rows/remapped_row_failure",),
    "retired_pages_pending": ("retired_pages/pending_retirement", "retired_pages/pending_blacklist"),
}
_NUMBER = re.compile(r"^\s*(-?\d+(?:\.\d+)?)")
NO_ZONE_NOTE = "<timestamp> has no zone: read as UTC (nvidia-smi prints local time)"


def _text(gpu: ET.Element, paths: tuple[str, ...]) -> str | None:
    for path in paths:
        el = gpu.find(path)
        if el is not None and el.text is not None and el.text.strip() not in ("", "N/A"):
            return el.text.strip()
    return None


def _number(text: str | None) -> float | None:
    m = _NUMBER.match(text) if text else None
    return float(m.group(1)) if m else None


def _throttle(gpu: ET.Element) -> int | None:
    block = gpu.find("clocks_event_reasons")
    if block is None:
        block = gpu.find("clocks_throttle_reasons")
    if block is None or len(block) == 0:
        return None
    mask, seen = 0, False
    for child in block:
        name = re.sub(r"^clocks_(event|throttle)_reason_", "", child.tag)
        if name in THROTTLE_BITS and child.text:
            seen = True
            if child.text.strip() == "Active":
                mask |= THROTTLE_BITS[name]
    return mask if seen else None


def _ecc_uncorrected(gpu: ET.Element, counter: str = "volatile") -> int | None:
    volatile = gpu.find(f"ecc_errors/{counter}")
    if volatile is None:
        return None
    legacy = _number(_text(volatile, ("double_bit/total",)))
    if legacy is not None:
        return int(legacy)
    parts = [_number(el.text) for el in volatile if el.tag.endswith("_uncorrectable")]
    known = [p for p in parts if p is not None]
    return int(sum(known)) if known else None


def parse_gpu_xml(data: bytes, host: str) -> ParseResult:
    """Parse one ``nvidia-smi -q -x`` document (one sample time, one row per GPU)."""
    q = Quarantine(host, "gpu")
    try:
        root = ET.fromstring(data)
    except ET.ParseError as exc:
        q.add(1, "invalid_xml", f"{exc}: {data[:3000].decode('utf-8', errors='replace')}")
        return build_result("gpu-xml", "gpu_samples", [], q, 1)
    gpus = root.findall("gpu")
    ts_text = (root.findtext("timestamp") or "").strip()
    try:
        ts = pd.Timestamp(datetime.strptime(re.sub(r"\s+", " ", ts_text), "%a %b %d %H:%M:%S %Y"), tz="UTC")
    except ValueError:
        ts = None
    rows: list[dict[str, Any]] = []
    for index, gpu in enumerate(gpus):
        if ts is None:
            q.add(1, "missing_timestamp", ET.tostring(gpu, encoding="unicode")[:4096])
            continue
        row: dict[str, Any] = {"ts": ts, "host": host, "gpu_index": index}
        for col, paths in PATHS.items():
            value = _text(gpu, paths)
            row[col] = value if col in ("gpu_uuid", "gpu_name", "pstate") else _number(value)
        row["throttle_reasons"] = row["clocks_event_reasons"] = _throttle(gpu)
        row["ecc_uncorrected"] = _ecc_uncorrected(gpu)
        row["ecc_uncorrected_aggregate"] = _ecc_uncorrected(gpu, "aggregate")
        row["pci_bus"] = normalise_pci(_text(gpu, ("pci/pci_bus_id",)) or "")
        for col, paths in FLAGS.items():
            flag = (_text(gpu, paths) or "").lower()
            row[col] = True if flag == "yes" else False if flag == "no" else None
        rows.append(row)
    notes = {"timezone": NO_ZONE_NOTE, "driver_version": root.findtext("driver_version")} if gpus else {}
    if not gpus:
        q.add(1, "no_gpu_elements", data[:4096])
        return build_result("gpu-xml", "gpu_samples", [], q, 1, notes=notes)
    return build_result("gpu-xml", "gpu_samples", rows, q, len(gpus), notes=notes)
