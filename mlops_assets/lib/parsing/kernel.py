"""Kernel log -> kernel_events: GPU faults (NVRM Xid), OOM kills, hung tasks, other NVRM lines.

Accepted forms (auto-detected per file): ``journalctl -k -o json`` lines, ``dmesg --time-format
iso`` (optionally with ``--decode`` facility/level prefix), journal short-iso kernel lines,
``dmesg --ctime`` (``[Sun Feb 23 16:24:18 2025] …``), bracketed daemon logs such as fabric manager
(``[Feb 25 2025 13:59:45] [INFO] …``), raw /dev/kmsg records and pstore/dmesg dumps.

Syslog kernel lines as in ``/var/log/kern.log`` or ``journalctl -k -o short``
(``Mon DD HH:MM:SS host kernel: [ 123.4] NVRM: Xid …``, month names of any locale in months.py)
get their year by syslog_time.py's rule (``year``, a journalctl banner, ``reference``, now); their
``[ 123.4]`` seconds-since-boot prefix is stripped from the message and tells when that boot began
(wall time - uptime; a smaller uptime than the line before starts a new boot), reported in
``notes["boot_times"]``.

Relative timestamps (kmsg ``6,3964,206764307,-;``, ``[    2.608284]``) are seconds since boot: with
``boot_time``, or when the file's syslog lines show a single boot, they become absolute; otherwise
the line is quarantined as ``relative_timestamp_only`` - a Xid with a made-up time would land in
the wrong window. Lines with
no timestamp at all continue the previous record (multi-line messages, kmsg dictionary lines) and
are counted as skipped; before any record they are quarantined as ``no_timestamp``. Times printed
without a zone (ctime, bracketed) are read as UTC (``notes["timezone"]``).
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

import pandas as pd

from mlops_assets.lib.contracts.tables import ParseResult
from mlops_assets.lib.parsing.decode import decode_lines
from mlops_assets.lib.parsing.gpu_values import normalise_pci
from mlops_assets.lib.parsing.journal import parse_journal_json
from mlops_assets.lib.parsing.months import LC_ALL_FIX, month_number
from mlops_assets.lib.parsing.records import Quarantine, build_result
from mlops_assets.lib.parsing.syslog_time import SHORT_PREFIX_RE, SHORT_RE, with_years

XID_RE = re.compile(r"NVRM: Xid \((?P<pci>[^)]*)\):\s*(?P<xid>\d+)(?:,\s*pid=['\"]?(?P<pid>\d+))?")
OOM_RE = re.compile(r"Out of memory|oom-kill|invoked oom-killer|Memory cgroup out of memory|oom_reaper")
OOM_PID_RE = re.compile(r"Killed process (\d+)|oom_reaper: reaped process (\d+)|pid=(\d+)")
HUNG_RE = re.compile(r"blocked for more than \d+ seconds|hung_task")
HUNG_PID_RE = re.compile(r"task (?:\S+):(\d+) blocked")

_ISO = r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(?:[.,]\d{1,9})?(?:Z|[+-]\d{2}:?\d{2})?"
ISO_RE = re.compile(rf"^(?:\w+\s*:\s*\w+\s*:\s*)?(?P<ts>{_ISO})\s+(?P<msg>.*)$")
SHORT_ISO_KERNEL_RE = re.compile(r"^\S+\s+kernel:\s?(?P<msg>.*)$")
CTIME_RE = re.compile(
    r"^\[(?P<ts>[A-Z][a-z]{2} [A-Z][a-z]{2} +\d{1,2} \d{2}:\d{2}:\d{2} \d{4})\]\s?(?P<msg>.*)$"
)
BRACKET_RE = re.compile(r"^\[(?P<ts>[A-Z][a-z]{2} +\d{1,2} \d{4} \d{2}:\d{2}:\d{2})\]\s?(?P<msg>.*)$")
KMSG_RE = re.compile(r"^(?P<pri>\d+),(?P<seq>\d+),(?P<usec>\d+),[^;]*;(?P<msg>.*)$")
RELATIVE_RE = re.compile(r"^(?:<(?P<pri>\d+)>)?\[\s*(?P<sec>\d+\.\d+)\]\s?(?P<msg>.*)$")
STRUCTURAL_RE = re.compile(r"^(#.*|dmesg-\S+:|Panic#\d+ Part\d+|Oops#\d+ Part\d+|-- .*)$")
UPTIME_RE = re.compile(r"^\[\s*(?P<sec>\d+\.\d+)\]\s?(?P<msg>.*)$")
NO_ZONE_NOTE = "times without zone (ctime, bracketed) read as UTC"


def classify(message: str) -> dict[str, Any]:
    """kind, xid, pci_bus, pid of one kernel message."""
    m = XID_RE.search(message)
    if m:
        pid = m.group("pid")
        return {
            "kind": "xid",
            "xid": int(m.group("xid")),
            "pci_bus": normalise_pci(m.group("pci")),
            "pid": int(pid) if pid else None,
        }
    if OOM_RE.search(message):
        p = OOM_PID_RE.search(message)
        pid = next((g for g in p.groups() if g), None) if p else None
        return {"kind": "oom", "xid": None, "pci_bus": None, "pid": int(pid) if pid else None}
    if HUNG_RE.search(message):
        p = HUNG_PID_RE.search(message)
        return {"kind": "hung_task", "xid": None, "pci_bus": None, "pid": int(p.group(1)) if p else None}
    if "NVRM:" in message or "fallen off the bus" in message:
        return {"kind": "nvrm", "xid": None, "pci_bus": normalise_pci(message), "pid": None}
    return {"kind": "other", "xid": None, "pci_bus": None, "pid": None}


def parse_kernel(
    data: bytes,
    host: str,
    boot_time: datetime | None = None,
    year: int | None = None,
    reference: datetime | None = None,
) -> ParseResult:
    """Parse any supported kernel log form of one host (see module docstring)."""
    head = data.lstrip()[:1]
    if head == b"{":
        return _from_journal_json(data, host)
    return _from_text(data, host, boot_time, year, reference)


def _from_journal_json(data: bytes, host: str) -> ParseResult:
    res = parse_journal_json(data, host)
    table = res.table
    kinds = pd.DataFrame(
        [classify(m) if isinstance(m, str) else classify("") for m in table["message"].tolist()]
    )
    out = pd.DataFrame({"ts": table["ts"], "host": host, "message": table["message"]})
    if len(kinds):
        out = pd.concat([out, kinds], axis=1)
    q = res.quarantine.assign(source="kernel")
    quarantine = Quarantine(host, "kernel")
    for row in q.itertuples():
        quarantine.add(int(row.line_no), str(row.reason), str(row.raw))
    return build_result(
        "kernel", "kernel_events", out, quarantine, res.records_in, res.skipped, notes=res.notes
    )


def _from_text(
    data: bytes, host: str, boot_time: datetime | None, year: int | None, reference: datetime | None
) -> ParseResult:
    lines, notes = decode_lines(data)
    q = Quarantine(host, "kernel")
    rows: list[dict[str, Any]] = []
    skipped = continuations = 0
    last: str | None = None  # "table" | "quarantine": where the previous record went
    boot = None
    if boot_time is not None:
        boot = pd.Timestamp(boot_time)
        boot = boot.tz_localize("UTC") if boot.tzinfo is None else boot.tz_convert("UTC")
    for no, line in enumerate(lines, start=1):
        stripped = line.strip()
        if not stripped or STRUCTURAL_RE.match(stripped):
            skipped += 1
            continue
        if (syslog := _syslog_row(line, no, notes)) is not None:
            if syslog.get("reason"):
                q.add(no, syslog["reason"], line)
                last = "quarantine"
            else:
                rows.append({"host": host, **syslog})
                last = "table"
            continue
        ts, msg, reason = _timestamp(line, boot, notes)
        if ts is None and msg is None:  # no timestamp at all
            if last is not None:  # part of the previous record (kept with it or quarantined with it)
                if last == "table":
                    rows[-1]["message"] += "\n" + stripped
                skipped, continuations = skipped + 1, continuations + 1
            else:
                q.add(no, "no_timestamp", line)
            continue
        if ts is None and reason == "relative_timestamp_only":
            rows.append(
                {
                    "ts": None,
                    "host": host,
                    "message": msg,
                    "_rel_only": _seconds(line),
                    "_line": no,
                    "_raw": line,
                    **classify(msg),
                }
            )
            last = "table"
            continue
        if ts is None:
            q.add(no, reason, line)
            last = "quarantine"
            continue
        rows.append({"ts": ts, "host": host, "message": msg, **classify(msg)})
        last = "table"
    if continuations:
        notes["continuation_lines"] = continuations
    rows = _finish(rows, q, data, year, reference, notes)
    return build_result("kernel", "kernel_events", rows, q, len(lines), skipped, notes=notes)


def _syslog_row(line: str, no: int, notes: dict[str, Any]) -> dict[str, Any] | None:
    """A kern.log line as a pending row (year assigned later), a quarantine reason, or None."""
    m = SHORT_RE.match(line) or SHORT_PREFIX_RE.match(line)
    if m is None:
        return None
    month = month_number(m.group("mon"))
    if month is None:
        notes["fix"] = f"month name {m.group('mon')!r} not in any covered locale: {LC_ALL_FIX}"
        return {"reason": "unknown_month_name"}
    kernel = m.groupdict().get("ident") == "kernel"
    msg = m.group("msg") if kernel else line[m.end("host") :].strip()
    uptime = None
    if (u := UPTIME_RE.match(msg)) is not None:
        uptime, msg = float(u.group("sec")), u.group("msg")
    row = {"ts": None, "message": msg, "_md": (month, int(m.group("day")), m.group("time")), **classify(msg)}
    row.update({"_uptime": uptime, "_line": no, "_raw": line})
    return row


def _seconds(line: str) -> float:
    if m := KMSG_RE.match(line):
        return int(m.group("usec")) / 1e6
    m = RELATIVE_RE.match(line)
    return float(m.group("sec")) if m else 0.0


def _finish(
    rows: list[dict[str, Any]],
    q: Quarantine,
    data: bytes,
    year: int | None,
    reference: datetime | None,
    notes: dict[str, Any],
) -> list[dict[str, Any]]:
    """Years for syslog rows, boot times from their uptimes, absolute times for relative-only rows."""
    dated = [r for r in rows if "_md" in r]
    if dated:
        dated_ids = {id(r) for r in dated}
        kept = {id(r) for r in with_years(dated, q, data, year, reference, notes)}
        rows = [r for r in rows if id(r) not in dated_ids or id(r) in kept]
    boots: list[pd.Timestamp] = []
    current: int | None = None  # boot the next rows belong to (None: not known yet)
    prev = None
    for r in rows:
        up = r.get("_uptime", r.get("_rel_only"))
        if up is not None and prev is not None and up < prev:
            current = None  # uptime went back: a new boot began
        if r.get("_uptime") is not None and r["ts"] is not None and current is None:
            boots.append((r["ts"] - pd.Timedelta(seconds=r["_uptime"])).floor("s"))
            current = len(boots) - 1
        r["_boot_k"] = current
        prev = up if up is not None else prev
    if boots:
        notes["boot_times"] = [b.isoformat() for b in boots]
    out = []
    for r in rows:
        if "_rel_only" in r:
            k = r.get("_boot_k")
            if k is None and len(boots) == 1:
                k = 0
            if k is None:
                q.add(r["_line"], "relative_timestamp_only", r["_raw"])
                continue
            r["ts"] = boots[k] + pd.Timedelta(seconds=r["_rel_only"])
            notes["relative_to_boot_time"] = "boot start from the file's syslog uptimes"
        for key in ("_md", "_uptime", "_line", "_raw", "_rel_only", "_boot_k"):
            r.pop(key, None)
        out.append(r)
    return out


def _timestamp(
    line: str, boot: pd.Timestamp | None, notes: dict[str, Any]
) -> tuple[pd.Timestamp | None, str | None, str]:
    """(ts, message, quarantine_reason); (None, None, "") when the line has no timestamp at all."""
    if m := ISO_RE.match(line):
        ts = pd.to_datetime(m.group("ts").replace(",", "."), utc=True, errors="coerce", format="ISO8601")
        msg = m.group("msg")
        if k := SHORT_ISO_KERNEL_RE.match(msg):
            msg = k.group("msg")
        return (None, msg, "bad_timestamp") if pd.isna(ts) else (ts, msg, "")
    for regex, fmt in ((CTIME_RE, "%a %b %d %H:%M:%S %Y"), (BRACKET_RE, "%b %d %Y %H:%M:%S")):
        if m := regex.match(line):
            notes["timezone"] = NO_ZONE_NOTE
            try:
                ts = pd.Timestamp(datetime.strptime(re.sub(" +", " ", m.group("ts")), fmt), tz="UTC")
            except ValueError:
                return None, m.group("msg"), "bad_timestamp"
            return ts, m.group("msg"), ""
    seconds = None
    if m := KMSG_RE.match(line):
        seconds, msg = int(m.group("usec")) / 1e6, m.group("msg")
    elif m := RELATIVE_RE.match(line):
        seconds, msg = float(m.group("sec")), m.group("msg")
    if seconds is None:
        return None, None, ""
    if boot is None:
        return None, msg, "relative_timestamp_only"
    notes["relative_to_boot_time"] = str(boot)
    return boot + pd.Timedelta(seconds=seconds), msg, ""
