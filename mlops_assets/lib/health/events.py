"""Shared pieces of the health rules: the event record, the GPU map, boot assignment, run collapsing.

A rule returns plain dicts made with :func:`event`; :func:`to_frame` turns them into HEALTH_EVENTS.
The GPU map joins what the kernel knows (PCI bus) with what nvidia-smi knows (index, uuid, and the
PCI bus when ``pci.bus_id`` is collected), so an Xid line names the GPU the operator sees.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from mlops_assets.lib.contracts.tables import HEALTH_EVENTS, conform, empty_frame
from mlops_assets.lib.parsing.gpu_values import normalise_pci
from mlops_assets.lib.triage.redact import redact

EVIDENCE_MAX = 600  # characters of one raw line kept in the evidence
# "NVRM: GPU at PCI:0000:9b:00: GPU-509665ad-..." printed by the driver before a fault report
GPU_AT_RE = re.compile(
    r"NVRM: GPU at (?:PCI:)?([0-9A-Fa-f]{4,8}:[0-9A-Fa-f]{2}:[0-9A-Fa-f]{2})\S*:\s*(GPU-[0-9a-fA-F-]+)"
)


def event(
    ts: Any,
    component: str,
    code: str,
    severity: str,
    action: str,
    message: str,
    evidence: dict[str, Any],
    gpu: tuple[int | None, str | None, str | None] = (None, None, None),
) -> dict[str, Any]:
    """One HEALTH_EVENTS row; ``gpu`` is (index, uuid, pci_bus)."""
    index, uuid, pci = gpu
    return {
        "ts": ts,
        "gpu_index": index,
        "gpu_uuid": uuid,
        "pci_bus": pci,
        "component": component,
        "code": code,
        "severity": severity,
        "action": action,
        "message": message,
        "evidence": json.dumps(evidence, sort_keys=True, default=str),
    }


def line_evidence(source: str, line: str, **extra: Any) -> dict[str, Any]:
    """Evidence of a log-line rule: the source and the line, redacted and truncated."""
    return {"source": source, "line": redact(str(line))[:EVIDENCE_MAX], **extra}


def to_frame(rows: list[dict[str, Any]], host: str) -> pd.DataFrame:
    if not rows:
        return empty_frame(HEALTH_EVENTS)
    df = pd.DataFrame(rows)
    df["host"] = host
    df["gpu_index"] = pd.array([None if pd.isna(v) else int(v) for v in df["gpu_index"]], dtype="Int16")
    return conform(df, HEALTH_EVENTS).sort_values(["ts", "code"], kind="stable", ignore_index=True)


@dataclass
class GpuMap:
    """index <-> uuid <-> PCI bus of one host's GPUs, from the samples and the driver's own lines."""

    by_index: dict[int, tuple[str | None, str | None]] = field(default_factory=dict)  # -> (uuid, pci)
    by_pci: dict[str, tuple[int | None, str | None]] = field(default_factory=dict)  # -> (index, uuid)

    def from_pci(self, pci: str | None) -> tuple[int | None, str | None, str | None]:
        pci = normalise_pci(pci) if isinstance(pci, str) else None
        if pci is None:
            return None, None, None
        index, uuid = self.by_pci.get(pci, (None, None))
        return index, uuid, pci

    def from_index(self, index: int) -> tuple[int | None, str | None, str | None]:
        uuid, pci = self.by_index.get(int(index), (None, None))
        return int(index), uuid, pci


def _clean(value: Any) -> str | None:
    return None if value is None or pd.isna(value) or not str(value).strip() else str(value).strip()


def build_gpu_map(samples: pd.DataFrame, kernel_lines: pd.Series) -> GpuMap:
    """Join nvidia-smi's index/uuid/pci.bus_id with "NVRM: GPU at PCI:...: GPU-uuid" driver lines.

    The pci_bus column may be absent (not collected): then only the driver lines give PCI -> uuid,
    and the uuid gives the index.
    """
    gmap = GpuMap()
    uuid_to_index: dict[str, int] = {}
    if len(samples) and "gpu_index" in samples:
        cols = [c for c in ("gpu_index", "gpu_uuid", "pci_bus") if c in samples]
        static = samples[cols].dropna(subset=["gpu_index"]).drop_duplicates("gpu_index", keep="last")
        for row in static.to_dict("records"):
            index = int(row["gpu_index"])
            uuid = _clean(row.get("gpu_uuid"))
            raw_pci = _clean(row.get("pci_bus"))
            pci = normalise_pci(raw_pci) if raw_pci else None
            gmap.by_index[index] = (uuid, pci)
            if uuid:
                uuid_to_index[uuid] = index
            if pci:
                gmap.by_pci[pci] = (index, uuid)
    for msg in kernel_lines[kernel_lines.str.contains("NVRM: GPU at", regex=False, na=False)]:
        m = GPU_AT_RE.search(msg)
        if m is None:
            continue
        pci, uuid = normalise_pci(m.group(1)), m.group(2)
        index = uuid_to_index.get(uuid)
        if pci and pci not in gmap.by_pci:
            gmap.by_pci[pci] = (index, uuid)
        if index is not None and gmap.by_index.get(index, (None, None))[1] is None:
            gmap.by_index[index] = (uuid, pci)
    return gmap


def assign_boots(events: pd.DataFrame, journal: pd.DataFrame) -> pd.Series:
    """The journal boot each event belongs to: the boot of the last journal entry at or before it
    (the first entry's boot for events before any entry); null without a journal."""
    if events.empty:
        return pd.Series(pd.array([], dtype="string"))
    if journal.empty or "boot_id" not in journal:
        return pd.Series(pd.array([None] * len(events), dtype="string"))
    j = journal[["ts", "boot_id"]].dropna().sort_values("ts", kind="stable")
    if j.empty:
        return pd.Series(pd.array([None] * len(events), dtype="string"))
    jt = pd.to_datetime(j["ts"], utc=True).astype("int64").to_numpy()
    et = pd.to_datetime(events["ts"], utc=True).astype("int64").to_numpy()
    pos = np.clip(np.searchsorted(jt, et, side="right") - 1, 0, len(jt) - 1)
    return pd.Series(pd.array(j["boot_id"].astype(str).to_numpy()[pos], dtype="string"))


def having(messages: pd.Series, keys: tuple[str, ...]) -> np.ndarray:
    """Rows whose text contains any of ``keys`` (plain substring tests: a cheap filter before a rule's
    regex, which then runs on the few candidate lines only)."""
    return np.fromiter(
        (isinstance(m, str) and any(k in m for k in keys) for m in messages.tolist()),
        dtype=bool,
        count=len(messages),
    )


def collapse_runs(df: pd.DataFrame, keys: list[str], gap: str = "5min") -> pd.DataFrame:
    """First row of each run of the same ``keys`` (rows closer than ``gap`` form one run), with the
    run's size in ``run_count`` and its last time in ``run_last``: a condition repeated on every
    sample becomes one event, not one per sample."""
    if df.empty:
        return df.assign(run_count=pd.Series(dtype="int64"), run_last=pd.Series(dtype="datetime64[ns, UTC]"))
    d = df.sort_values([*keys, "ts"], kind="stable").reset_index(drop=True)
    t = pd.to_datetime(d["ts"], utc=True)
    same = np.ones(len(d), dtype=bool)
    for k in keys:
        col = d[k].astype("string").fillna("<na>")
        same &= (col == col.shift()).fillna(False).to_numpy()
    new = ~same | ((t - t.shift()) > pd.Timedelta(gap)).fillna(True).to_numpy()
    run = np.cumsum(new)
    d["run_count"] = pd.Series(run).map(pd.Series(run).value_counts()).to_numpy()
    d["run_last"] = t.groupby(run).transform("max").to_numpy()
    return d[new].reset_index(drop=True)
