"""Multi-section NVIDIA dumps -> kernel_events + gpu_samples + journal_entries, section by section.

Two layouts are read: ``nvidia-bug-report.log`` (sections separated by a line of underscores, the
first line after it names the section: ``dmesg:``, ``*** /var/log/kern.log``, ``Scanning kernel log
files for NVIDIA kernel messages:``, ``/usr/bin/nvidia-smi --query`` …) and the exporter capture
files of nvidia_gpu_exporter (``####`` rules around ``# idle :: query-gpu (csv …)`` titles). Each
section body is detected on its own (detect_kind) and parsed with that kernel/journal/nvidia-smi
parser; sections of other kinds (lspci, X logs, dmon, per-process queries) are counted per title
in ``notes["unparsed_sections"]``, never guessed at.

Times: syslog lines take their year from the report's ``Date:`` line (else the caller's
reference); ``dmesg`` sections (seconds since boot) are mapped with the boot start learnt from
the syslog kernel lines' uptimes (the newest boot: dmesg shows the running one) unless
``boot_time`` is given. The same kernel line found in two sections (journal grep and dmesg) is
kept once (exact time and message; ``notes["duplicate_kernel_lines"]``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import pandas as pd

from mlops_assets.lib.contracts.tables import QUARANTINE, TABLES, ParseResult, conform, empty_frame

BUG_REPORT_MARKER = "Start of NVIDIA bug report log file"
CAPTURE_MARKER = "nvidia_gpu_exporter GPU capture"
_UNDERSCORES = re.compile(r"^_{20,}\s*$")
_HASHES = re.compile(r"^#{20,}\s*$")
_SUBHEADER = re.compile(
    r"^\s*(?:/\S+|journalctl[^:]*|\S+ is not readable|No .*found.*|\*\*\* ls: .*)(?::)?\s*$"
)
_SKIP_TITLES = re.compile(
    r"compute-apps|accounted-apps|retired-pages|help|pmon|dmon|topo|nvlink|version|list"
)
_DATE = re.compile(r"^Date:\s*(?P<text>.+)$")
TABLE_OF_KIND = {
    "kernel": "kernel_events",
    "journal-short": "journal_entries",
    "journal-short-iso": "journal_entries",
    "gpu": "gpu_samples",
    "gpu-query-text": "gpu_samples",
    "gpu-table": "gpu_samples",
}


@dataclass
class SectionedResult(ParseResult):
    """A ParseResult whose rows went to several tables: ``table`` is kernel_events, ``parts`` all.

    Invariant: ``records_in == sum(len(t) for t in parts.values()) + len(quarantine) + skipped``.
    """

    parts: dict[str, pd.DataFrame] = field(default_factory=dict)


def is_sectioned(head: bytes) -> bool:
    """A bug report (underscore rule, then the start banner) or a capture (``####`` rule, then
    ``# nvidia_gpu_exporter GPU capture``); a document merely quoting the markers is neither."""
    lines = [ln.strip() for ln in head[:2048].split(b"\n") if ln.strip()][:4]
    if len(lines) < 2:
        return False
    if _UNDERSCORES.match(lines[0].decode("ascii", "replace")):
        return lines[1].startswith(BUG_REPORT_MARKER.encode())
    return (
        bool(_HASHES.match(lines[0].decode("ascii", "replace")))
        and lines[1] == f"# {CAPTURE_MARKER}".encode()
    )


def _sections(lines: list[str]) -> list[tuple[str, int, list[str]]]:
    """(title, 0-based index of the first body line, body lines) in file order."""
    capture = any(CAPTURE_MARKER in ln for ln in lines[:10])
    rule = _HASHES if capture else _UNDERSCORES
    out: list[tuple[str, int, list[str]]] = []
    i, n = 0, len(lines)
    while i < n:
        if not rule.match(lines[i]):
            i += 1
            continue
        j = i + 1
        if capture:  # "# title" and "# $ command" lines, then a closing rule
            titles = []
            while j < n and lines[j].startswith("#") and not rule.match(lines[j]):
                titles.append(lines[j].lstrip("# ").strip())
                j += 1
            j += 1 if j < n and rule.match(lines[j]) else 0
            title = " | ".join(titles)
        else:
            while j < n and not lines[j].strip():
                j += 1
            title = lines[j].strip() if j < n else ""
            j += 1
        k = j
        while k < n and not rule.match(lines[k]):
            k += 1
        out.append((title, j, lines[j:k]))
        i = k
    return out


def _report_date(lines: list[str]) -> datetime | None:
    for line in lines[:40]:
        if m := _DATE.match(line.strip()):
            text = re.sub(r"\b[A-Z]{2,5}\b(?=\s+\d{4}$)|\b(UTC|GMT)\b", "", m.group("text")).strip()
            ts = pd.to_datetime(text, errors="coerce", utc=True)
            return None if pd.isna(ts) else ts.to_pydatetime()
    return None


def parse_sectioned(
    data: bytes, host: str, boot_time: datetime | None = None, reference: datetime | None = None
) -> SectionedResult:
    """Parse a bug report or exporter capture (see module docstring)."""
    from mlops_assets.lib.parsing.decode import decode_lines
    from mlops_assets.lib.parsing.detect import detect_kind, parse_any

    lines, notes = decode_lines(data)
    reference = _report_date(lines) or reference
    if reference is not None:
        notes["year_reference"] = f"report Date: {reference.isoformat()}"
    results: dict[str, list[pd.DataFrame]] = {t: [] for t in set(TABLE_OF_KIND.values())}
    quarantines: list[pd.DataFrame] = []
    unparsed: dict[str, int] = {}
    sections = _sections(lines)
    pending_dmesg: list[tuple[int, list[str]]] = []
    boots: list[str] = []

    def run(kind: str, start: int, body: list[str], **kw: Any) -> None:
        res = parse_any(("\n".join(body) + "\n").encode(), kind, host=host, **kw)
        results[TABLE_OF_KIND[kind]].append(res.table)
        q = res.quarantine.copy()
        q["line_no"] = q["line_no"] + start  # body line 1 is file line start + 1
        quarantines.append(q)
        boots.extend(res.notes.get("boot_times", []))

    for title, start, body in sections:
        kept = [ln for ln in body if not _SUBHEADER.match(ln)]
        if _SKIP_TITLES.search(title.split("|")[0]):
            unparsed[title[:80]] = unparsed.get(title[:80], 0) + len(body)
            continue
        kind = detect_kind(("\n".join(kept[:200]) + "\n").encode()) if kept else None
        if kind not in TABLE_OF_KIND:
            unparsed[title[:80]] = unparsed.get(title[:80], 0) + len(body)
            continue
        blanked = ["" if _SUBHEADER.match(ln) else ln for ln in body]  # keep line numbers
        if kind == "kernel" and title.lower().startswith("dmesg") and boot_time is None:
            pending_dmesg.append((start, blanked))
            continue
        run(kind, start, blanked, boot_time=boot_time, reference=reference)
    syslog_kernel = _concat(results["kernel_events"], "kernel_events")
    for start, body in pending_dmesg:  # after the syslog sections: their uptimes date the boot
        boot = pd.Timestamp(max(boots)).to_pydatetime() if boots else None
        run("kernel", start, body, boot_time=boot, reference=reference)
        dmesg = results["kernel_events"].pop()
        keep = ~_seen_in(dmesg, syslog_kernel)
        if not keep.all():
            notes["duplicate_kernel_lines"] = notes.get("duplicate_kernel_lines", 0) + int((~keep).sum())
        results["kernel_events"].append(dmesg[keep])
    parts = {t: _concat(frames, t) for t, frames in results.items()}
    quarantine = pd.concat([q for q in quarantines if len(q)] or [empty_frame(QUARANTINE)], ignore_index=True)
    quarantine = conform(quarantine, QUARANTINE)
    if unparsed:
        notes["unparsed_sections"] = unparsed
    notes["sections"] = len(sections)
    rows = sum(len(t) for t in parts.values())
    result = SectionedResult(
        kind="nvidia-bug-report",
        table=parts["kernel_events"],
        quarantine=quarantine,
        records_in=len(lines),
        skipped=len(lines) - rows - len(quarantine),
        notes=notes,
        parts=parts,
    )
    if result.skipped < 0:
        raise AssertionError(
            f"sectioned parse counted {rows + len(quarantine)} records in {len(lines)} lines"
        )
    return result


def _seen_in(dmesg: pd.DataFrame, syslog: pd.DataFrame, tolerance_s: float = 2.0) -> pd.Series:
    """Rows of a dmesg section that a syslog section already holds (same message, within 2 s:
    syslog times are whole seconds and the boot start is estimated from them)."""
    seen: dict[str, list[pd.Timestamp]] = {}
    for ts, msg in zip(syslog["ts"], syslog["message"], strict=True):
        seen.setdefault(msg, []).append(ts)
    flags = [
        any(abs((ts - other).total_seconds()) <= tolerance_s for other in seen.get(msg, ()))
        if not pd.isna(ts)
        else False
        for ts, msg in zip(dmesg["ts"], dmesg["message"], strict=True)
    ]
    return pd.Series(flags, index=dmesg.index, dtype=bool)


def _concat(frames: list[pd.DataFrame], table: str) -> pd.DataFrame:
    frames = [f for f in frames if len(f)]
    if not frames:
        return empty_frame(TABLES[table])
    return conform(pd.concat(frames, ignore_index=True), TABLES[table])
