"""Per-line timestamps of a raw log file, so a landing folder can be cut into hourly windows.

Every format the parsers read is covered; a line without a time of its own (continuations,
nvidia-smi failure lines, kmsg/dmesg seconds-since-boot) gets NONE and the caller attaches it to
the line before. Yearless syslog lines follow syslog_time.py's year rule with the caller's
reference (the file's mtime). nvidia-smi CSV header lines are HEADER, and the timestamp column is
found from the header, so any ``--query-gpu`` field order slices correctly.
"""

from __future__ import annotations

import calendar
import re
from datetime import datetime

import numpy as np
import pandas as pd

from mlops_assets.lib.parsing.gpu_header import timestamp_position
from mlops_assets.lib.parsing.months import month_number
from mlops_assets.lib.parsing.syslog_time import SHORT_PREFIX_RE, assign_years, resolve_reference

NONE, HEADER = -1, -2
_REALTIME = re.compile(rb'"__REALTIME_TIMESTAMP"\s*[:=]\s*"?(\d{10,17})')
_NANO = re.compile(rb'"timeNano"\s*:\s*(\d+)')
_SEC = re.compile(rb'"time"\s*:\s*(\d{9,11})\b')
_JSON_ISO = re.compile(rb'"time"\s*:\s*"([^"]+)"')
_ISO = re.compile(
    rb"^(?:\w+\s*:\s*\w+\s*:\s*)?(\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(?:[.,]\d{1,9})?(?:Z|[+-]\d{2}:?\d{2})?)"
)
_CTIME = re.compile(rb"^\[([A-Z][a-z]{2} [A-Z][a-z]{2} +\d{1,2} \d{2}:\d{2}:\d{2} \d{4})\]")
_BRACKET = re.compile(rb"^\[([A-Z][a-z]{2} +\d{1,2} \d{4} \d{2}:\d{2}:\d{2})\]")
_SMI = re.compile(r"^\s*(\d{4})/(\d{2})/(\d{2}) (\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?\s*$")
_SMI_FIRST = re.compile(rb"^(\d{4})/(\d{2})/(\d{2}) (\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?\s*,")


def _ns(ts: pd.Series) -> np.ndarray:
    """UTC timestamps (NaT allowed) -> int64 ns with NONE for NaT."""
    raw = ts.dt.tz_convert("UTC").dt.tz_localize(None).to_numpy(dtype="datetime64[ns]").view(np.int64)
    return np.where(ts.isna().to_numpy(), NONE, raw).astype(np.int64)


def _iso_ns(texts: list[str]) -> np.ndarray:
    if not texts:
        return np.empty(0, dtype=np.int64)
    series = pd.Series(texts).str.replace(",", ".", regex=False)
    return _ns(pd.to_datetime(series, utc=True, errors="coerce", format="ISO8601"))


def text_line_times(lines: list[bytes], reference: datetime) -> tuple[np.ndarray, dict[str, str]]:
    """ns since the epoch per line (NONE when the line has no wall-clock time)."""
    out = np.full(len(lines), NONE, dtype=np.int64)
    iso_idx: list[int] = []
    iso_txt: list[str] = []
    syslog: list[tuple[int, int, int, str]] = []  # (index, month, day, time)
    for i, line in enumerate(lines):
        c = line[:1]
        if c == b"{":
            if m := _REALTIME.search(line):
                out[i] = int(m.group(1)) * 1000
            elif m := _NANO.search(line):
                out[i] = int(m.group(1))
            elif m := _SEC.search(line):
                out[i] = int(m.group(1)) * 10**9
            elif m := _JSON_ISO.search(line):
                iso_idx.append(i)
                iso_txt.append(m.group(1).decode("ascii", "replace"))
        elif c == b"[":
            for regex, fmt in ((_CTIME, "%a %b %d %H:%M:%S %Y"), (_BRACKET, "%b %d %Y %H:%M:%S")):
                if m := regex.match(line):
                    try:
                        when = datetime.strptime(re.sub(" +", " ", m.group(1).decode()), fmt)
                    except ValueError:
                        break
                    out[i] = calendar.timegm(when.timetuple()) * 10**9
                    break
        elif m := _ISO.match(line):
            iso_idx.append(i)
            iso_txt.append(m.group(1).decode("ascii", "replace"))
        elif line[:1].isalpha() or line[:1] == b" ":
            text = line.decode("utf-8", "replace")
            if (s := SHORT_PREFIX_RE.match(text)) and (month := month_number(s.group("mon"))) is not None:
                syslog.append((i, month, int(s.group("day")), s.group("time")))
    out[iso_idx] = _iso_ns(iso_txt)
    info: dict[str, str] = {}
    if syslog:
        head = [ln.decode("utf-8", "replace") for ln in lines[:50]]
        ref, origin = resolve_reference(head, reference)
        years = assign_years([(m, d) for _, m, d, _ in syslog], ref)
        info["year_reference"] = f"{origin}: {ref.isoformat()}"
        stamps = [f"{y}-{m:02d}-{d:02d} {t}" for (_, m, d, t), y in zip(syslog, years, strict=True)]
        ns = pd.to_datetime(pd.Series(stamps), utc=True, errors="coerce", format="%Y-%m-%d %H:%M:%S.%f")
        fallback = pd.to_datetime(pd.Series(stamps), utc=True, errors="coerce", format="%Y-%m-%d %H:%M:%S")
        out[[i for i, *_ in syslog]] = _ns(ns.fillna(fallback))
    return out, info


def gpu_line_times(lines: list[bytes]) -> np.ndarray:
    """nvidia-smi CSV: HEADER for header lines, the sample time (from the header's timestamp
    column, any position) for samples, NONE for failure lines and anything else."""
    out = np.full(len(lines), NONE, dtype=np.int64)
    pos: int | None = None
    for i, line in enumerate(lines):
        first = line[:1]
        if not first[:1].isdigit() and (p := timestamp_position(line)) is not None:
            pos, out[i] = p, HEADER
            continue
        if not pos and (m := _SMI_FIRST.match(line)):  # timestamp first (the sampler's order)
            y, mo, d, h, mi, s = (int(g) for g in m.groups()[:6])
            frac = (m.group(7) or b"").ljust(9, b"0")
            out[i] = calendar.timegm((y, mo, d, h, mi, s)) * 10**9 + int(frac or b"0")
            continue
        fields = line.split(b",")
        k = 0 if pos is None else pos
        if k >= len(fields):
            continue
        text = fields[k].decode("ascii", "replace")
        if m := _SMI.match(text):
            y, mo, d, h, mi, s = (int(g) for g in m.groups()[:6])
            frac = (m.group(7) or "").ljust(9, "0")
            out[i] = calendar.timegm((y, mo, d, h, mi, s)) * 10**9 + int(frac or "0")
        elif _ISO.match(text.strip().encode()):
            out[i] = _iso_ns([text.strip()])[0]
    return out
