"""Which formats a landing-folder file may be in, told per file, and its lines' effective times.

A landing folder (sources/directory.py) names files by source (``journal.json``, ``kernel.json``,
``nvidia-smi.csv``, ``docker/events.json``, ``docker/logs/*.stdout``) but users copy in what they
have: a ``journalctl -o short`` export, a kern.log, ``docker events`` text. Each file's format is
detected from its head; one a source does not accept is refused with a message naming the file,
the format seen and the fix - never read as the default format (a short-format journal read as
JSON became invalid_json rows in the 1970 hour). The format travels with each window as a
``<member>.format`` bundle member (raw.FORMAT_SUFFIX) so the parser never has to guess from a slice.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np

from mlops_assets.lib.parsing.detect import detect_kind
from mlops_assets.lib.parsing.journal_text import SHORT_ISO_RE
from mlops_assets.lib.parsing.line_times import HEADER, NONE, gpu_line_times, text_line_times
from mlops_assets.lib.parsing.syslog_time import SHORT_RE, STRUCTURAL_RE

_DOCKER_LOG_LINE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?(?:Z|[+-]\d{2}:\d{2}) ")
# source -> detected formats it accepts -> the parser kind its windows are parsed with
ACCEPTED: dict[str, dict[str, str]] = {
    "gpu": {"gpu": "gpu"},
    "journal": {
        "journal-json": "journal",
        "journal-short": "journal-short",
        "journal-short-iso": "journal-short-iso",
    },
    "kernel": {
        "journal-json": "kernel",
        "kernel": "kernel",
        "journal-short": "kernel",
        "journal-short-iso": "kernel",
    },
    "docker_events": {"docker-events": "docker-events"},
    "docker_logs": {"docker-logs": "docker-logs", "docker": "docker"},
}
# the layout's own format per source: windows in it carry no format member (the SSH path's shape)
DEFAULT_KIND = {
    "gpu": "gpu",
    "journal": "journal",
    "kernel": "kernel",
    "docker_events": "docker-events",
    "docker_logs": "docker-logs",
}
YEARLESS = {"journal-short", "kernel"}  # kinds whose text may hold yearless syslog lines
FIXES = {
    "journal": "export with `journalctl -o json` (or -o short-iso / -o short)",
    "kernel": "export with `journalctl -k -o json` or `dmesg --time-format iso`, or copy /var/log/kern.log",
    "gpu": "sample with `nvidia-smi --query-gpu=timestamp,... --format=csv`",
    "docker_events": "export with `docker events --format '{{json .}}'` (or the default text output)",
    "docker_logs": "export with `docker logs --timestamps NAME`",
}


class UnsupportedFormatError(ValueError):
    """A landing file is in a format its source does not accept (the message names file and fix)."""


def file_format(head: bytes, source: str) -> str | None:
    """The detected format of a file from its first 64 KiB ("empty" for no records at all)."""
    lines = [ln.strip() for ln in head.decode("utf-8", "replace").split("\n")[:200]]
    if all(not ln or STRUCTURAL_RE.match(ln) for ln in lines):
        return "empty"
    kind = detect_kind(head)
    first = next(ln for ln in lines if ln and not STRUCTURAL_RE.match(ln))
    if source == "docker_logs" and _DOCKER_LOG_LINE.match(first):  # app output may look like syslog
        return "docker-logs"
    if kind in ("journal", "kernel") and head.lstrip()[:1] == b"{":
        return "journal-json"
    if kind == "kernel" and source == "journal":  # a short export whose first lines are all kernel
        return (
            "journal-short-iso"
            if SHORT_ISO_RE.match(first)
            else "journal-short"
            if SHORT_RE.match(first)
            else kind
        )
    return kind


def check_format(path: str, head: bytes, source: str) -> str:
    """The parser kind for this file's windows, or UnsupportedFormatError naming what was seen."""
    fmt = file_format(head, source)
    if fmt == "empty":
        return DEFAULT_KIND[source]
    if fmt in ACCEPTED[source]:
        return ACCEPTED[source][fmt]
    first = next((ln for ln in head.split(b"\n") if ln.strip()), b"")[:100]
    seen = f"format {fmt!r}" if fmt else f"an unrecognised format (first line {first!r})"
    raise UnsupportedFormatError(
        f"{path}: {source} file is in {seen}, which the {source} source does not accept "
        f"(accepted: {', '.join(ACCEPTED[source])}); {FIXES[source]}"
    )


def no_wall_clock(path: str, kind: str) -> str:
    return (
        f"{path}: {kind} file in which no line carries a wall-clock time (e.g. dmesg seconds since "
        "boot); export with `dmesg --time-format iso` or `journalctl -k -o short-iso`"
    )


@dataclass
class LineIndex:
    """A file's lines (with their line ends), each line's effective time, and its header line."""

    lines: list[bytes]
    eff: np.ndarray  # int64 ns; lines without their own time inherit the time of the line before
    header_of: np.ndarray | None  # gpu: index (into headers) of the header governing each line
    headers: list[bytes]
    info: dict[str, str]

    def window(self, start_ns: int, end_ns: int) -> tuple[list[int], bytes]:
        """(indices, bytes) of the lines with start <= eff < end (header lines re-emitted)."""
        idx = np.flatnonzero((self.eff >= start_ns) & (self.eff < end_ns)).tolist()
        if self.header_of is None:
            return idx, b"".join(self.lines[i] for i in idx)
        out, current = [], None
        for i in idx:
            if self.header_of[i] != current:
                current = int(self.header_of[i])
                out.append(self.headers[current])
            out.append(self.lines[i])
        if not idx and self.headers:
            out.append(self.headers[0])
        return idx, b"".join(out)


def index_lines(data: bytes, kind: str, path: str, mtime: datetime) -> LineIndex:
    """Split ``data`` into lines and give each its effective time (see module docstring)."""
    lines = data.splitlines(keepends=True)
    if lines and not lines[-1].endswith(b"\n"):
        lines[-1] += b"\n"  # a truncated last line still ends up in exactly one slice
    bare = [ln.rstrip(b"\r\n") for ln in lines]
    info: dict[str, str] = {}
    headers: list[bytes] = []
    header_of = None
    if kind == "gpu":
        own = gpu_line_times(bare)
        is_header = own == HEADER
        headers = [lines[i] for i in np.flatnonzero(is_header)]
        header_of = np.maximum(np.cumsum(is_header) - 1, 0)
        keep = ~is_header
        lines = [ln for ln, k in zip(lines, keep, strict=True) if k]
        own, header_of = own[keep], header_of[keep]
    else:
        own, info = text_line_times(bare, mtime.astimezone(UTC))
    known = own != NONE
    if (
        len(own)
        and not known.any()
        and any(ln.strip() and not STRUCTURAL_RE.match(ln.strip().decode("utf-8", "replace")) for ln in bare)
    ):
        raise UnsupportedFormatError(no_wall_clock(path, kind))
    # effective time: own time, else the time of the last line before that had one (first: the first known)
    first = own[known][0] if known.any() else 0
    pos = np.where(known, np.arange(len(own)), -1)
    np.maximum.accumulate(pos, out=pos)
    eff = np.where(pos >= 0, own[np.maximum(pos, 0)], first).astype(np.int64)
    return LineIndex(lines, eff, header_of, headers, info)


def format_member(kind: str, source: str, fmt: str, first_year: int | None) -> bytes | None:
    """Contents of the ``<member>.format`` bundle member (None: the layout's own format, which the
    parser reads without a hint - the shape SSH collection produces)."""
    if kind == DEFAULT_KIND[source] and fmt in (
        "journal-json",
        "gpu",
        "docker-events",
        "docker-logs",
        "empty",
    ):
        return None
    if kind in YEARLESS and first_year is not None:
        return f"{kind};year={first_year}".encode()
    return kind.encode()


def parse_format_member(data: bytes) -> tuple[str, dict[str, int]]:
    """``b"journal-short;year=2025"`` -> ("journal-short", {"year": 2025})."""
    kind, *opts = data.decode("ascii", "replace").strip().split(";")
    kw = {}
    for opt in opts:
        key, _, value = opt.partition("=")
        if key == "year" and re.fullmatch(r"\d{4}", value):
            kw["year"] = int(value)
    return kind, kw
