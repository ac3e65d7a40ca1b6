"""Time stamps without a year (syslog, ``journalctl -o short``) and journalctl's structural lines.

Year inference (stated in every result's notes): the reference is, in order, an explicit year, the
``end at``/``ends at`` time of a journalctl banner, the caller's ``reference`` (the partition end,
or the file's mtime for a landing folder), else the current time. The LAST dated line gets the
latest year that does not put it more than a day after the reference (so a month "in the future"
rolls back a year); walking back through the file, a month that jumps up by six or more (January
back to December) is the previous year. Times carry no zone and are read as UTC.

Structural lines (skipped, counted): ``-- Logs begin at … --`` / ``-- Journal begins at … --``
banners, ``-- No entries --``, ``-- Reboot --`` and ``-- Boot <id> --`` markers (systemd 255+), and
``-- `` catalog lines of ``journalctl -x``. A reboot marker starts a new boot.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import pandas as pd

from mlops_assets.lib.parsing.months import month_number
from mlops_assets.lib.parsing.records import Quarantine

_IDENT = r"(?P<ident>[^\s\[:]+)(?:\[(?P<pid>\d+)\])?:\s?(?P<msg>.*)$"
# month token: letters of any script (Okt, févr., мая) or CJK "10月" / "10월"; ja pads " 1月"
_MON = r"(?P<mon>[^\W\d_]{3,12}\.?|\d{1,2}[月월])"
SHORT_PREFIX_RE = re.compile(
    rf"^ ?{_MON}\s+(?P<day>\d{{1,2}})\s+(?P<time>\d{{2}}:\d{{2}}:\d{{2}}(?:\.\d{{1,6}})?)\s+(?P<host>\S+)\s+"
)
SHORT_RE = re.compile(SHORT_PREFIX_RE.pattern + _IDENT)
BANNER_RE = re.compile(r"^-- (Logs begin at|Journal begins at|No entries)")
BOOT_RE = re.compile(r"^-- (?:Reboot|Boot (?P<id>[0-9a-f]{32})) --$")
STRUCTURAL_RE = re.compile(r"^-- ")
_BANNER_TIME = re.compile(r"(\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2})")


def banner_reference(lines: list[str]) -> datetime | None:
    """The newest time a journalctl banner names (``end at``/``ends at``) among the first lines."""
    for line in lines[:50]:
        if BANNER_RE.match(line.strip()):
            stamps = _BANNER_TIME.findall(line)
            if stamps:
                y, mo, d, h, mi, s = (int(v) for v in stamps[-1])
                return datetime(y, mo, d, h, mi, s, tzinfo=UTC)
    return None


def assign_years(month_days: list[tuple[int, int]], reference: datetime) -> list[int]:
    """Year of each (month, day) in file order, per the module's rule (see docstring)."""
    if not month_days:
        return []
    ref = reference.astimezone(UTC) if reference.tzinfo else reference.replace(tzinfo=UTC)
    last_m, last_d = month_days[-1]
    limit = (ref.month, ref.day + 1)
    year = ref.year if (last_m, last_d) <= limit else ref.year - 1
    years = [0] * len(month_days)
    years[-1] = year
    for i in range(len(month_days) - 2, -1, -1):
        if month_days[i][0] - month_days[i + 1][0] >= 6:
            year -= 1
        years[i] = year
    return years


def years_from_first(month_days: list[tuple[int, int]], first_year: int) -> list[int]:
    """An explicit year is the year of the first line; later lines roll over at New Year."""
    years, year, prev = [], first_year, None
    for month, _ in month_days:
        if prev is not None and prev - month >= 6:
            year += 1
        years.append(year)
        prev = month
    return years


def resolve_reference(lines: list[str], reference: datetime | None) -> tuple[datetime, str]:
    """(reference time, where it came from) for :func:`assign_years`."""
    banner = banner_reference(lines)
    if banner is not None:
        return banner, "journalctl banner end time"
    if reference is not None:
        return reference, "caller reference (partition end or file mtime)"
    return datetime.now(UTC), "current time"


def short_month(m: re.Match[str]) -> int | None:
    return month_number(m.group("mon"))


def with_years(
    rows: list[dict[str, Any]],
    q: Quarantine,
    data: bytes,
    year: int | None,
    reference: datetime | None,
    notes: dict[str, Any],
) -> list[dict[str, Any]]:
    """Give rows carrying ``_md`` = (month, day, time) their timestamp; impossible dates quarantined."""
    month_days = [(r["_md"][0], r["_md"][1]) for r in rows]
    if year is not None:
        years = years_from_first(month_days, year)
        notes["year"] = year
    else:
        head = data[:8192].decode("utf-8", errors="replace").split("\n")
        ref, origin = resolve_reference(head, reference)
        years = assign_years(month_days, ref)
        notes["year_reference"] = f"{origin}: {ref.isoformat()}"
        if years:
            notes["year_inferred"] = years[0]
    kept = []
    for r, y in zip(rows, years, strict=True):
        month, day, time = r.pop("_md")
        try:
            r["ts"] = pd.Timestamp(f"{y}-{month:02d}-{day:02d} {time}", tz="UTC")
        except ValueError:
            q.add(r["_line"], "bad_timestamp", r["_raw"])
            continue
        kept.append(r)
    return kept
