"""journalctl's other output modes -> journal_entries: ``-o export``, ``-o short-iso``, ``-o short``.

These are import formats (archives, bug reports), far smaller than the live JSON feed, so they are
parsed line by line in Python. Text modes carry no priority, unit, boot id or cursor: those stay
null. ``short`` has no year and no zone: the year is taken from ``year`` or inferred (latest year
that does not put the file in the future; Dec -> Jan rolls it over) and reported in
``notes["year_inferred"]``; times without zone are read as UTC (``notes["timezone"]``).
Lines starting with whitespace continue the previous message (journalctl indents multi-line
messages); ``-- Boot … --`` / ``-- No entries --`` markers are structural and counted as skipped.
"""

from __future__ import annotations

import re
import struct
from datetime import UTC, datetime
from typing import Any

import pandas as pd

from mlops_assets.lib.contracts.tables import ParseResult
from mlops_assets.lib.parsing.decode import decode_lines
from mlops_assets.lib.parsing.records import Quarantine, build_result

_IDENT = r"(?P<ident>[^\s\[:]+)(?:\[(?P<pid>\d+)\])?:\s?(?P<msg>.*)$"
SHORT_ISO_RE = re.compile(
    r"^(?P<ts>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:[.,]\d{1,9})?(?:Z|[+-]\d{2}:?\d{2})?)\s+(?P<host>\S+)\s+"
    + _IDENT
)
SHORT_RE = re.compile(
    r"^(?P<mon>[A-Z][a-z]{2})\s+(?P<day>\d{1,2})\s+(?P<time>\d{2}:\d{2}:\d{2}(?:\.\d{1,6})?)\s+(?P<host>\S+)\s+"
    + _IDENT
)
_MARKER_RE = re.compile(r"^-- .* --$")
_MONTHS = {m: i for i, m in enumerate("Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split(), start=1)}
NO_ZONE_NOTE = "times without zone read as UTC (journalctl prints the host's local time)"


def _row(ts: pd.Timestamp, m: re.Match[str]) -> dict[str, Any]:
    pid = m.group("pid")
    return {
        "ts": ts,
        "identifier": m.group("ident"),
        "pid": int(pid) if pid else None,
        "message": m.group("msg"),
    }


def _text_result(kind: str, data: bytes, host: str, parse_line: Any, notes: dict[str, Any]) -> ParseResult:
    """Shared loop: blank/marker lines skipped, indented lines continue the previous message."""
    lines, decode_notes = decode_lines(data)
    notes.update(decode_notes)
    q = Quarantine(host, "journal")
    rows: list[dict[str, Any]] = []
    skipped = continuations = 0
    for no, line in enumerate(lines, start=1):
        if not line.strip() or _MARKER_RE.match(line.strip()):
            skipped += 1
        elif line[:1] in (" ", "\t") and rows:
            rows[-1]["message"] += "\n" + line.strip()
            skipped += 1
            continuations += 1
        else:
            row, reason = parse_line(line)
            if row is None:
                q.add(no, reason, line)
            else:
                rows.append(row)
    if continuations:
        notes["continuation_lines"] = continuations
    for r in rows:
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

    return _text_result("journal-short-iso", data, host, parse_line, notes)


def parse_journal_short(data: bytes, host: str, year: int | None = None) -> ParseResult:
    """``journalctl -o short`` / syslog: ``Oct 11 20:46:22 host ident[pid]: msg`` (no year, no zone)."""
    lines_preview = data[:200_000].decode("utf-8", errors="replace").split("\n")
    inferred = year is None
    if year is None:
        year = _infer_year(lines_preview)
    notes: dict[str, Any] = {"timezone": NO_ZONE_NOTE, "year": year}
    if inferred:
        notes["year_inferred"] = year
    state = {"year": year, "month": 0}

    def parse_line(line: str) -> tuple[dict[str, Any] | None, str]:
        m = SHORT_RE.match(line)
        if m is None or m.group("mon") not in _MONTHS:
            return None, "unrecognised_line"
        month = _MONTHS[m.group("mon")]
        if state["month"] == 12 and month == 1:
            state["year"] += 1  # the log crossed New Year
        state["month"] = month
        try:
            ts = pd.Timestamp(
                f"{state['year']}-{month:02d}-{int(m.group('day')):02d} {m.group('time')}", tz="UTC"
            )
        except ValueError:
            return None, "bad_timestamp"
        return _row(ts, m), ""

    return _text_result("journal-short", data, host, parse_line, notes)


def _infer_year(lines: list[str]) -> int:
    """Latest year such that the first dated line is not in the future (logs are read after the fact)."""
    now = datetime.now(UTC)
    for line in lines:
        m = SHORT_RE.match(line)
        if m and m.group("mon") in _MONTHS:
            month, day = _MONTHS[m.group("mon")], int(m.group("day"))
            return now.year if (month, day) <= (now.month, now.day) else now.year - 1
    return now.year


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
