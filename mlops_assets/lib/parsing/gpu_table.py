"""The default ``nvidia-smi`` table (what a user pastes into a ticket) -> gpu_samples, one row per GPU.

The first line is the time of the snapshot (``Sat Jan 31 14:36:05 2026``, local time without a
zone, read as UTC). Each GPU is two table lines: ``|   0  NVIDIA … Off |   00000000:01:00.0 Off |``
then ``|  0%   30C    P8   29W /  400W |  1583MiB /  24564MiB |  0%  Default |``. Names longer
than the column are cut by nvidia-smi (``NVIDIA GeForce RTX...``); the table is kept as printed.
The Processes section and the frame lines are structural (skipped). Several tables appended to one
file (``nvidia-smi; sleep 60; nvidia-smi``) each use their own time line.
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

TIME_RE = re.compile(r"^(?P<ts>[A-Z][a-z]{2} [A-Z][a-z]{2} +\d{1,2} \d{2}:\d{2}:\d{2} \d{4})\s*$")
FRAME_RE = re.compile(r"^\+-{20,}")
_ID_ROW = re.compile(
    r"^\|\s+(?P<index>\d+)\s+(?P<name>.+?)\s+(?:On|Off|N/A|WDDM|TCC|MCDM)\s+\|\s+(?P<bus>[0-9A-Fa-f]{4,8}:[0-9A-Fa-f]{2}:"
    r"[0-9A-Fa-f]{2}\.[0-9A-Fa-f])\s+(?:On|Off|N/A)\s+\|\s*(?P<ecc>\S+)\s*\|"
)
_METRIC_ROW = re.compile(
    r"^\|\s*(?P<fan>\d+%|N/A)\s+(?P<temp>\d+|N/A)C?\s+(?P<perf>P\d+|N/A)\s+(?:\S+\s+)?"
    r"(?P<pw>\d+|N/A)W?\s*/\s*(?P<cap>\d+|N/A)W?\s*\|\s*(?P<used>\d+)MiB\s*/\s*(?P<total>\d+)MiB\s*\|"
    r"\s*(?P<util>\d+|N/A)%?"
)
NO_ZONE_NOTE = "the table's time line has no zone: read as UTC (nvidia-smi prints local time)"


def is_table(lines: list[str]) -> bool:
    return len(lines) >= 2 and TIME_RE.match(lines[0].strip()) is not None and bool(FRAME_RE.match(lines[1]))


def _num(text: str) -> float | None:
    digits = text.rstrip("%")
    return float(digits) if digits.isdigit() else None


def parse_gpu_table(data: bytes, host: str) -> ParseResult:
    """Parse one or more default ``nvidia-smi`` tables (see module docstring)."""
    lines, notes = decode_lines(data)
    q = Quarantine(host, "gpu")
    rows: list[dict[str, Any]] = []
    ts: pd.Timestamp | None = None
    pending: tuple[int, re.Match[str]] | None = None
    skipped = 0
    for no, line in enumerate(lines, start=1):
        if m := TIME_RE.match(line.strip()):
            ts = pd.Timestamp(
                datetime.strptime(re.sub(" +", " ", m.group("ts")), "%a %b %d %H:%M:%S %Y"), tz="UTC"
            )
            skipped += 1
        elif m := _ID_ROW.match(line):
            if pending is not None:
                q.add(pending[0], "gpu_without_metrics", lines[pending[0] - 1])
            pending = (no, m)
        elif (m := _METRIC_ROW.match(line)) and pending is not None:
            if ts is None:
                q.add(pending[0], "missing_timestamp", lines[pending[0] - 1])
            else:
                ident = pending[1]
                rows.append(
                    {
                        "ts": ts,
                        "host": host,
                        "gpu_index": int(ident.group("index")),
                        "gpu_name": ident.group("name"),
                        "pci_bus": normalise_pci(ident.group("bus")),
                        "ecc_uncorrected": _num(ident.group("ecc")),
                        "fan_pct": _num(m.group("fan")),
                        "temperature_c": _num(m.group("temp")),
                        "pstate": m.group("perf") if m.group("perf") != "N/A" else None,
                        "power_w": _num(m.group("pw")),
                        "power_limit_w": _num(m.group("cap")),
                        "mem_used_mib": float(m.group("used")),
                        "mem_total_mib": float(m.group("total")),
                        "util_gpu_pct": _num(m.group("util")),
                    }
                )
            pending = None
            skipped += 1  # the metrics line completes the record begun on the id line
        else:
            skipped += 1
    if pending is not None:
        q.add(pending[0], "gpu_without_metrics", lines[pending[0] - 1])
    if rows:
        notes["timezone"] = NO_ZONE_NOTE
    return build_result("gpu-table", "gpu_samples", rows, q, len(lines), skipped, notes=notes)
