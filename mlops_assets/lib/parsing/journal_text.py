"""journalctl's other output modes -> journal_entries: ``-o export``, ``-o short-iso``, ``-o short``.

These are import formats (archives, bug reports), far smaller than the live JSON feed, so they are
parsed line by line in Python. Text modes carry no priority, unit or cursor: those stay null.
``short`` has no year and no zone and its month names follow the exporting locale (months.py):
the year rule is syslog_time.py's (notes say which reference was used); times are read as UTC.
Lines starting with whitespace continue the previous message (journalctl indents multi-line
messages). Banners, ``-- No entries --`` and boot markers are structural and counted as skipped;
after a ``-- Reboot --`` marker entries get a boot id of their own (the marker's id when systemd
prints ``-- Boot <id> --``, else one derived from host and the boot's first entry time).
"""

from __future__ import annotations

import hashlib
import re
import struct
from datetime import datetime
from typing import Any

import pandas as pd

from mlops_assets.lib.contracts.tables import ParseResult
from mlops_assets.lib.parsing.decode import decode_lines
from mlops_assets.lib.parsing.months import LC_ALL_FIX, month_number
from mlops_assets.lib.parsing.records import Quarantine, build_result
from mlops_assets.lib.parsing.syslog_time import (
    BOOT_RE,
    SHORT_PREFIX_RE,
    SHORT_RE,
    STRUCTURAL_RE,
    with_years,
)

_IDENT = r"(?P<ident>[^\s\[:]+)(?:\[(?P<pid>\d+)\])?:\s?(?P<msg>.*)$"
SHORT_ISO_RE = re.compile(
    r"^(?P<ts>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:[.,]\d{1,9})?(?:Z|[+-]\d{2}:?\d{2})?)\s+(?P<host>\S+)\s+"
    + _IDENT
)
NO_ZONE_NOTE = "times without zone read as UTC (journalctl prints the host's local time)"
__all__ = [
    "SHORT_ISO_RE",
    "SHORT_RE",
    "parse_journal_export",
    "parse_journal_short",
    "parse_journal_short_iso",
]


def _row(ts: pd.Timestamp | None, m: re.Match[str]) -> dict[str, Any]:
    pid = m.group("pid")
    return {
        "ts": ts,
        "identifier": m.group("ident"),
        "pid": int(pid) if pid and len(pid) < 12 else None,
        "message": m.group("msg"),
    }


def boot_id_for(host: str, first_ts: Any) -> str:
    """A stable 32-hex boot id for a boot known only from a ``-- Reboot --`` marker."""
    return hashlib.sha256(f"{host}|{first_ts}".encode()).hexdigest()[:32]


def _text_result(
    kind: str,
    data: bytes,
    host: str,
    parse_line: Any,
    notes: dict[str, Any],
    is_record: re.Pattern[str],
    finish: Any = None,
) -> ParseResult:
    """Shared loop: blank/structural lines skipped, indented lines continue the previous message,
    boot markers start a new boot; ``finish(rows, q)`` completes the rows (e.g. assigns years)."""
    lines, decode_notes = decode_lines(data)
    notes.update(decode_notes)
    q = Quarantine(host, "journal")
    rows: list[dict[str, Any]] = []
    skipped = continuations = 0
    boot, boot_ids = 0, {0: None}
    for no, line in enumerate(lines, start=1):
        stripped = line.strip()
        if not stripped:
            skipped += 1
        elif STRUCTURAL_RE.match(stripped):
            skipped += 1
            if b := BOOT_RE.match(stripped):
                boot += 1
                boot_ids[boot] = b.group("id")
        elif line[:1] in (" ", "\t") and rows and not is_record.match(line):
            rows[-1]["message"] += "\n" + stripped
            skipped += 1
            continuations += 1
        else:
            row, reason = parse_line(line)
            if row is None:
                q.add(no, reason, line)
            else:
                row["_boot"], row["_line"], row["_raw"] = boot, no, line
                rows.append(row)
    if continuations:
        notes["continuation_lines"] = continuations
    if finish is not None:
        rows = finish(rows, q)
    if boot:
        notes["boots"] = boot + 1
    firsts: dict[int, Any] = {}
    for r in rows:
        firsts.setdefault(r["_boot"], r["ts"])
    for r in rows:
        k = r.pop("_boot")
        r.pop("_line", None)
        r.pop("_raw", None)
        known = boot_ids.get(k)
        r["boot_id"] = known if known or k == 0 else boot_id_for(host, firsts[k])
        r["host"] = host
    return build_result(kind, "journal_entries", rows, q, len(lines), skipped, notes=notes)


def parse_journal_short_iso(data: bytes, host: str) -> ParseResult:
    """``journalctl -o short-iso`` (or short-iso-precise): ``2025-01-17T17:10:43+0000 host ident[pid]: msg``."""
    notes: dict[str, Any] = {}

    def parse_line(line: str) -> tuple[dict[str, Any] | None, str]:
        m = SHORT_ISO_RE.match(line)
        if m is None:
            return None, "unrecognised_line"
        text = m.group("ts").replace(",", ".")
        ts = pd.to_datetime(text, utc=True, errors="coerce", format="ISO8601")
        if pd.isna(ts):
            return None, "bad_timestamp"
        if not re.search(r"(Z|[+-]\d{2}:?\d{2})$", text):
            notes["timezone"] = NO_ZONE_NOTE
        return _row(ts, m), ""

    return _text_result("journal-short-iso", data, host, parse_line, notes, SHORT_ISO_RE)


def parse_journal_short(
    data: bytes, host: str, year: int | None = None, reference: datetime | None = None
) -> ParseResult:
    """``journalctl -o short`` / syslog: ``Oct 11 20:46:22 host ident[pid]: msg`` (no year, no zone).

    ``year``: the year of the first line (explicit); else inferred from ``reference`` as in
    syslog_time.py. Month names of the locales in months.py are read; others are quarantined as
    ``unknown_month_name`` and ``notes["fix"]`` names ``LC_ALL=C``.
    """
    notes: dict[str, Any] = {"timezone": NO_ZONE_NOTE}

    def parse_line(line: str) -> tuple[dict[str, Any] | None, str]:
        m = SHORT_RE.match(line) or SHORT_PREFIX_RE.match(line)
        if m is None:
            return None, "unrecognised_line"
        month = month_number(m.group("mon"))
        if month is None:
            notes["fix"] = f"month name {m.group('mon')!r} not in any covered locale: {LC_ALL_FIX}"
            return None, "unknown_month_name"
        if "ident" in m.groupdict():
            row = _row(None, m)
        else:  # dated, but no "ident[pid]:" tag (e.g. "syslogd 1.4.1: restart."): kept whole
            row = {"ts": None, "identifier": None, "pid": None, "message": line[m.end() :]}
        row["_md"] = (month, int(m.group("day")), m.group("time"))
        return row, ""

    def finish(rows: list[dict[str, Any]], q: Quarantine) -> list[dict[str, Any]]:
        return with_years(rows, q, data, year, reference, notes)

    return _text_result("journal-short", data, host, parse_line, notes, SHORT_RE, finish)


def parse_journal_export(data: bytes, host: str) -> ParseResult:
    """``journalctl -o export``: KEY=value lines, binary fields as KEY\\n<u64 LE length><bytes>\\n,
    entries separated by a blank line. One record per entry; line_no is the entry's first line."""
    q = Quarantine(host, "journal")
    rows: list[dict[str, Any]] = []
    entries = 0
    pos, line_no = 0, 1
    n = len(data)
    while pos < n:
        while pos < n and data[pos : pos + 1] == b"\n":  # blank separators
            pos, line_no = pos + 1, line_no + 1
        if pos >= n:
            break
        entries += 1
        start, start_line = pos, line_no
        fields: dict[str, bytes] = {}
        error = None
        while pos < n and data[pos : pos + 1] != b"\n":
            eol = data.find(b"\n", pos)
            eol = n if eol < 0 else eol
            line = data[pos:eol]
            if b"=" in line:
                key, _, value = line.partition(b"=")
                fields[key.decode("utf-8", errors="replace")] = value
                pos, line_no = eol + 1, line_no + 1
            elif eol + 9 <= n:
                (size,) = struct.unpack("<Q", data[eol + 1 : eol + 9])
                value = data[eol + 9 : eol + 9 + size]
                if (
                    size > n
                    or len(value) != size
                    or data[eol + 9 + size : eol + 10 + size] not in (b"\n", b"")
                ):
                    error = "bad_binary_field"
                    break
                fields[line.decode("utf-8", errors="replace")] = value
                line_no += 1 + value.count(b"\n") + data[eol + 1 : eol + 9].count(b"\n") + 1
                pos = eol + 10 + size
            else:
                error = "truncated_entry"
                break
        if error is not None:
            q.add(start_line, error, data[start : start + 4096])
            nxt = data.find(b"\n\n", pos)
            pos = n if nxt < 0 else nxt + 1
            line_no = start_line + data[start:pos].count(b"\n")
            continue
        row = _export_row(fields)
        if row is None:
            q.add(start_line, "missing_timestamp", data[start:pos])
        else:
            rows.append({**row, "host": host})
    return build_result("journal-export", "journal_entries", rows, q, entries, 0)


def _export_row(f: dict[str, bytes]) -> dict[str, Any] | None:
    def text(key: str) -> str | None:
        v = f.get(key)
        return None if v is None else v.decode("utf-8", errors="replace")

    ts = (text("__REALTIME_TIMESTAMP") or "").strip()
    if not ts.isdigit() or len(ts) > 17:
        return None
    prio, pid = (text("PRIORITY") or "").strip(), (text("_PID") or "").strip()
    return {
        "ts": pd.Timestamp(int(ts) * 1000, unit="ns", tz="UTC"),
        "unit": text("_SYSTEMD_UNIT") or text("UNIT"),
        "identifier": text("SYSLOG_IDENTIFIER") or text("_COMM"),
        "pid": int(pid) if pid.isdigit() and len(pid) < 12 else None,
        "priority": int(prio) if prio.isdigit() and int(prio) <= 7 else None,
        "message": text("MESSAGE"),
        "boot_id": text("_BOOT_ID"),
        "cursor": text("__CURSOR"),
    }
