"""Tell which log format a file is, and parse it with the matching parser.

Detection looks at the first meaningful lines only (blank and ``#`` comment lines and journalctl's
``-- … --`` banners ignored), so it is cheap on large files. It answers None rather than guess: e.g. plain ``docker logs`` output without
``--timestamps`` is free text that no rule can recognise - pass ``kind="docker-logs"`` explicitly.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from mlops_assets.lib.contracts.tables import ParseResult
from mlops_assets.lib.parsing.decode import decode_text, split_lines
from mlops_assets.lib.parsing.docker import DOCKER_TS_RE, parse_docker_json_file, parse_docker_logs
from mlops_assets.lib.parsing.docker_events import TEXT_RE as DOCKER_EVENT_TEXT_RE
from mlops_assets.lib.parsing.docker_events import parse_docker_events
from mlops_assets.lib.parsing.gpu import parse_gpu_csv
from mlops_assets.lib.parsing.gpu_header import FAILURE_RE, header_mapping, split_fields
from mlops_assets.lib.parsing.gpu_query_text import LOG_MARKER, parse_gpu_query_text
from mlops_assets.lib.parsing.gpu_table import is_table, parse_gpu_table
from mlops_assets.lib.parsing.gpu_xml import parse_gpu_xml
from mlops_assets.lib.parsing.journal import parse_journal_json
from mlops_assets.lib.parsing.journal_text import (
    SHORT_ISO_RE,
    parse_journal_export,
    parse_journal_short,
    parse_journal_short_iso,
)
from mlops_assets.lib.parsing.kernel import BRACKET_RE, CTIME_RE, ISO_RE, KMSG_RE, RELATIVE_RE, parse_kernel
from mlops_assets.lib.parsing.months import LC_ALL_FIX, month_number
from mlops_assets.lib.parsing.syslog_time import SHORT_RE, STRUCTURAL_RE

KINDS: tuple[str, ...] = (
    "gpu",
    "gpu-xml",
    "gpu-query-text",
    "gpu-table",
    "nvidia-bug-report",
    "journal",
    "journal-export",
    "journal-short-iso",
    "journal-short",
    "kernel",
    "docker",
    "docker-logs",
    "docker-events",
)
_SAMPLE_LINES = 20
_DMESG_ISO_COMMA = re.compile(r"^(?:\w+\s*:\s*\w+\s*:\s*)?\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2},\d+")


def _sample(data: bytes) -> list[str]:
    text, _ = decode_text(data[:65536])
    lines = [
        ln
        for ln in split_lines(text)
        if ln.strip() and not ln.lstrip().startswith("#") and not STRUCTURAL_RE.match(ln.strip())
    ]
    return lines[:_SAMPLE_LINES]


def _json_kind(lines: list[str]) -> str | None:
    objs = []
    for line in lines:
        try:
            obj = json.loads(line)
        except ValueError:
            continue
        if isinstance(obj, dict):
            objs.append(obj)
    if not objs:
        return None
    keys = set().union(*objs)
    if "__REALTIME_TIMESTAMP" in keys or "__CURSOR" in keys:
        kernel = all(o.get("_TRANSPORT") == "kernel" or o.get("SYSLOG_IDENTIFIER") == "kernel" for o in objs)
        return "kernel" if kernel else "journal"
    if {"log", "time"} <= keys:
        return "docker"
    if ("Action" in keys or "status" in keys) and ("timeNano" in keys or "time" in keys):
        return "docker-events"
    return None


def detect_kind(data: bytes) -> str | None:
    """The parser kind for ``data`` (one of KINDS), or None when no rule recognises it."""
    from mlops_assets.lib.parsing.bugreport import is_sectioned

    if is_sectioned(data[:4096]):
        return "nvidia-bug-report"
    lines = _sample(data)
    if not lines:
        return None
    first = lines[0].lstrip("\ufeff").strip()
    if first == LOG_MARKER:
        return "gpu-query-text"
    if is_table(lines):
        return "gpu-table"
    if (
        first.startswith("<?xml")
        or first.startswith("<nvidia_smi_log")
        or first.startswith("<!DOCTYPE nvidia")
    ):
        return "gpu-xml"
    if first.startswith("{"):
        return _json_kind(lines)
    if first.startswith(("__CURSOR=", "__REALTIME_TIMESTAMP=")):
        return "journal-export"
    if header_mapping(split_fields(first)) is not None:
        return "gpu"
    if first.startswith("dmesg-") or any(
        r.match(first) for r in (CTIME_RE, BRACKET_RE, KMSG_RE, RELATIVE_RE)
    ):
        return "kernel"
    if _DMESG_ISO_COMMA.match(first):
        return "kernel"
    if DOCKER_EVENT_TEXT_RE.match(first):
        return "docker-events"
    iso = [SHORT_ISO_RE.match(ln) for ln in lines]
    if iso[0] is not None:
        idents = {m.group("ident") for m in iso if m is not None}
        return "kernel" if idents == {"kernel"} else "journal-short-iso"
    short = [SHORT_RE.match(ln) for ln in lines]
    if short[0] is not None:
        idents = {m.group("ident") for m in short if m is not None}
        return "kernel" if idents == {"kernel"} else "journal-short"
    if DOCKER_TS_RE.match(first) and re.match(r"^\S+T\S+(Z|[+-]\d{2}:\d{2}) ", first):
        return "docker-logs"
    if ISO_RE.match(first):
        return "kernel"
    if FAILURE_RE.search(first):  # an nvidia-smi log that starts with a failure line (no sample yet)
        return "gpu"
    return None


def _parsers() -> dict[str, Callable[..., ParseResult]]:
    return {
        "gpu": lambda d, host, **kw: parse_gpu_csv(d, host),
        "gpu-xml": lambda d, host, **kw: parse_gpu_xml(d, host),
        "gpu-query-text": lambda d, host, **kw: parse_gpu_query_text(d, host),
        "gpu-table": lambda d, host, **kw: parse_gpu_table(d, host),
        "nvidia-bug-report": lambda d, host, **kw: _sectioned(d, host, kw),
        "journal": lambda d, host, **kw: parse_journal_json(d, host),
        "journal-export": lambda d, host, **kw: parse_journal_export(d, host),
        "journal-short-iso": lambda d, host, **kw: parse_journal_short_iso(d, host),
        "journal-short": lambda d, host, **kw: parse_journal_short(
            d, host, year=kw.get("year"), reference=kw.get("reference")
        ),
        "kernel": lambda d, host, **kw: parse_kernel(
            d, host, boot_time=kw.get("boot_time"), year=kw.get("year"), reference=kw.get("reference")
        ),
        "docker": lambda d, host, **kw: parse_docker_json_file(d, host, kw.get("container", "unknown")),
        "docker-logs": lambda d, host, **kw: parse_docker_logs(
            d, host, kw.get("container", "unknown"), kw.get("stream", "stdout")
        ),
        "docker-events": lambda d, host, **kw: parse_docker_events(d, host),
    }


def _sectioned(data: bytes, host: str, kw: dict[str, Any]) -> ParseResult:
    from mlops_assets.lib.parsing.bugreport import parse_sectioned

    return parse_sectioned(data, host, boot_time=kw.get("boot_time"), reference=kw.get("reference"))


def unknown_months(data: bytes) -> list[str]:
    """Month tokens of syslog-style lines in the sample that no covered locale knows."""
    tokens = [m.group("mon") for m in (SHORT_RE.match(ln) for ln in _sample(data)) if m is not None]
    return sorted({t for t in tokens if month_number(t) is None})


class UnknownKindError(ValueError):
    """The kind could not be told from the data (auto) or is not a known kind name."""


def parse_any(data: bytes, kind: str = "auto", host: str = "unknown", **kw: Any) -> ParseResult:
    """Parse ``data`` as ``kind`` (``auto``: detect_kind). kw: container, stream, year, boot_time,
    reference (datetime the year of yearless syslog lines is inferred from; default now).

    Raises UnknownKindError for an unknown kind name, or when ``auto`` cannot tell the format
    (including syslog lines whose month names no covered locale knows: the message names LC_ALL=C).
    """
    if kind == "auto":
        detected = detect_kind(data)
        if detected is None:
            raise UnknownKindError(
                "cannot tell the log format from the first lines; pass --kind (one of "
                + ", ".join(KINDS)
                + ")"
            )
        kind = detected
        if kind in ("journal-short", "kernel") and (odd := unknown_months(data)):
            raise UnknownKindError(
                f"syslog-style lines with month names {', '.join(odd[:5])} of a locale not covered: {LC_ALL_FIX}"
            )
    parsers = _parsers()
    if kind not in parsers:
        raise UnknownKindError(f"unknown kind {kind!r}; expected auto or one of {', '.join(KINDS)}")
    return parsers[kind](data, host, **kw)
