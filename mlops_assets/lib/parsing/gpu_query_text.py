"""``nvidia-smi -q`` text (the ``==============NVSMI LOG==============`` report) -> gpu_samples.

The report is an indented tree of ``Key : Value`` lines, one ``GPU 00000000:3B:00.0`` block per
GPU, the same data as ``-q -x`` under human names (which also moved between drivers: ``Clocks
Throttle Reasons`` -> ``Clocks Event Reasons``, ``Power Readings`` -> ``GPU Power Readings``). Each
contract column is looked up along a list of paths, like gpu_xml.py. ``gpu_index`` is the block's
position (nvidia-smi lists GPUs in index order). The ``Timestamp`` has no zone and is read as UTC.
It is the form bug reports carry (``nvidia-smi --query``), so it is parsed wherever it appears.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

import pandas as pd

from mlops_assets.lib.contracts.tables import ParseResult
from mlops_assets.lib.parsing.decode import decode_lines
from mlops_assets.lib.parsing.gpu_values import normalise_pci
from mlops_assets.lib.parsing.records import Quarantine, build_result

LOG_MARKER = "==============NVSMI LOG=============="
_KV = re.compile(r"^(?P<indent> *)(?P<key>[^:]*?[^:\s])\s*(?::\s?(?P<value>.*))?$")
_GPU = re.compile(r"^GPU (?P<bus>[0-9A-Fa-f]{4,8}:[0-9A-Fa-f]{2}:[0-9A-Fa-f]{2}\.[0-9A-Fa-f])\s*$")
_NUMBER = re.compile(r"^\s*(-?\d+(?:\.\d+)?)")
PATHS: dict[str, tuple[str, ...]] = {
    "gpu_uuid": ("GPU UUID",),
    "gpu_name": ("Product Name",),
    "temperature_c": ("Temperature/GPU Current Temp",),
    "memory_temp_c": ("Temperature/Memory Current Temp",),
    "util_gpu_pct": ("Utilization/GPU", "Utilization/Gpu"),
    "util_mem_pct": ("Utilization/Memory",),
    "mem_used_mib": ("FB Memory Usage/Used",),
    "mem_total_mib": ("FB Memory Usage/Total",),
    "power_w": (
        "Power Readings/Power Draw",
        "GPU Power Readings/Power Draw",
        "GPU Power Readings/Instantaneous Power Draw",
        "GPU Power Readings/Average Power Draw",
    ),
    "power_limit_w": (
        "Power Readings/Enforced Power Limit",
        "Power Readings/Power Limit",
        "GPU Power Readings/Current Power Limit",
        "GPU Power Readings/Enforced Power Limit",
    ),
    "fan_pct": ("Fan Speed",),
    "sm_clock_mhz": ("Clocks/SM",),
    "pstate": ("Performance State",),
    "pcie_link_gen": ("PCI/GPU Link Info/PCIe Generation/Current",),
    "pcie_link_width": ("PCI/GPU Link Info/Link Width/Current",),
    "remapped_rows_pending": ("Remapped Rows/Pending",),
    "remapped_rows_failure": ("Remapped Rows/Remapping Failure Occurred",),
    "retired_pages_pending": (
        "Retired Pages/Pending Page Blacklist",
        "Retired Pages/Pending Page Retirement",
    ),
}
TEXT_COLUMNS = ("gpu_uuid", "gpu_name", "pstate")
BOOL_COLUMNS = ("remapped_rows_pending", "remapped_rows_failure", "retired_pages_pending")
# "<block>/<reason>" under Clocks Event/Throttle Reasons -> NVML bit
REASON_BITS: dict[str, int] = {
    "idle": 0x1,
    "applications clocks setting": 0x2,
    "sw power cap": 0x4,
    "hw slowdown": 0x8,
    "sync boost": 0x10,
    "sw thermal slowdown": 0x20,
    "hw thermal slowdown": 0x40,
    "hw power brake slowdown": 0x80,
    "display clock setting": 0x100,
}
NO_ZONE_NOTE = "Timestamp has no zone: read as UTC (nvidia-smi prints local time)"


def _tree(lines: list[str]) -> dict[str, str]:
    """Indented ``Key : Value`` lines -> {"A/B/C": value}; sections are keys without a value."""
    out: dict[str, str] = {}
    stack: list[tuple[int, str]] = []
    for line in lines:
        m = _KV.match(line.rstrip())
        if m is None or not line.strip():
            continue
        indent = len(m.group("indent"))
        while stack and stack[-1][0] >= indent:
            stack.pop()
        key = m.group("key").strip()
        if m.group("value") is None:
            stack.append((indent, key))
        else:
            out["/".join([k for _, k in stack] + [key])] = m.group("value").strip()
    return out


def _value(tree: dict[str, str], paths: tuple[str, ...]) -> str | None:
    for path in paths:
        v = tree.get(path)
        if v is not None and v not in ("N/A", "") and not v.startswith(("[", "Requested functionality")):
            return v
    return None


def _reasons(tree: dict[str, str]) -> int | None:
    mask, seen = 0, False
    for path, value in tree.items():
        block, _, name = path.rpartition("/")
        base = block.split("/", 1)[0]
        if base in ("Clocks Event Reasons", "Clocks Throttle Reasons") and "Counters" not in block:
            bit = REASON_BITS.get(name.lower())
            if bit is not None:
                seen = True
                mask |= bit if value == "Active" else 0
    return mask if seen else None


def _row(tree: dict[str, str], bus: str) -> dict[str, Any]:
    row: dict[str, Any] = {"pci_bus": normalise_pci(bus)}
    for col, paths in PATHS.items():
        v = _value(tree, paths)
        if col in TEXT_COLUMNS:
            row[col] = v
        elif col in BOOL_COLUMNS:
            row[col] = None if v is None else {"yes": True, "no": False}.get(v.lower())
        else:
            m = _NUMBER.match(v) if v else None
            row[col] = float(m.group(1)) if m else None
    reasons = _reasons(tree)
    row["throttle_reasons"] = row["clocks_event_reasons"] = reasons
    vol = [_value(tree, (f"ECC Errors/Volatile/{k}",)) for k in ("DRAM Uncorrectable", "Double Bit/Total")]
    agg = [_value(tree, (f"ECC Errors/Aggregate/{k}",)) for k in ("DRAM Uncorrectable", "Double Bit/Total")]
    row["ecc_uncorrected"] = next((int(v) for v in vol if v and v.isdigit()), None)
    row["ecc_uncorrected_aggregate"] = next((int(v) for v in agg if v and v.isdigit()), None)
    return row


def parse_gpu_query_text(data: bytes, host: str, line_offset: int = 0) -> ParseResult:
    """Parse one or more ``nvidia-smi -q`` reports (one row per GPU block)."""
    lines, notes = decode_lines(data)
    q = Quarantine(host, "gpu")
    rows: list[dict[str, Any]] = []
    ts: pd.Timestamp | None = None
    blocks: list[tuple[int, str, pd.Timestamp | None, list[str]]] = []  # (line_no, bus, ts, lines)
    for no, line in enumerate(lines, start=1):
        if line.startswith("Timestamp"):
            text = line.split(":", 1)[1].strip() if ":" in line else ""
            try:
                when = datetime.strptime(re.sub(r"\s+", " ", text), "%a %b %d %H:%M:%S %Y")
                ts = pd.Timestamp(when, tz="UTC")
            except ValueError:
                ts = None
        if m := _GPU.match(line):
            blocks.append((no, m.group("bus"), ts, []))
        elif blocks and (line.startswith(" ") or not line.strip()):
            blocks[-1][3].append(line)
    index_in_report: dict[Any, int] = {}
    for no, bus, stamp, body in blocks:
        if stamp is None:
            q.add(no + line_offset, "missing_timestamp", f"GPU {bus}")
            continue
        k = index_in_report.get(stamp, 0)
        index_in_report[stamp] = k + 1
        rows.append({"ts": stamp, "host": host, "gpu_index": k, **_row(_tree(body), bus)})
    if rows:
        notes["timezone"] = NO_ZONE_NOTE
    skipped = len(lines) - len(blocks)
    return build_result("gpu-query-text", "gpu_samples", rows, q, len(lines), skipped, notes=notes)
