"""``docker logs [--timestamps]`` text of one container stream -> docker_lines, column-wise.

A line without docker's RFC 3339 prefix continues the previous record (a traceback printed in one
write) and is counted as skipped; before any record it is quarantined as ``no_timestamp``. Plain
``docker logs`` (collected without ``--timestamps``) has no docker time at all: the application's
own leading timestamp is used when there is one (``[2023-05-02T16:54:17Z INFO …``, ``22-10-11
14:04:23 DEBUG …``; ``notes["ts_source"] = "message"``), otherwise the line is quarantined as
``no_timestamp`` - a record without a time cannot be placed in a window.
The pipeline parses this per container per hour, so everything is one RE2/Arrow pass per column;
only continuation lines (rare) are visited in Python.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from mlops_assets.lib.contracts.tables import ParseResult
from mlops_assets.lib.parsing.arrow_util import constant_strings, string_series
from mlops_assets.lib.parsing.decode import decode_lines
from mlops_assets.lib.parsing.docker_time import DOCKER_TS_RE, INVALID_NS, RFC3339, docker_time_ns
from mlops_assets.lib.parsing.levels import infer_levels
from mlops_assets.lib.parsing.records import Quarantine, build_result

_ANSI = r"\x1b\[[0-9;]*[A-Za-z]"
APP_TS_RE = re.compile(
    r"^\W{0,3}(?P<iso>\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(?:[.,]\d{1,9})?(?:Z|[+-]\d{2}:?\d{2})?)"
    r"|^\W{0,3}(?P<yy>\d{2}-\d{2}-\d{2} \d{2}:\d{2}:\d{2})"
)
_DOCKER_PREFIX = rf"^(?P<ts>{RFC3339}) ?(?P<msg>(?s:.*))$"


def parse_docker_logs(data: bytes, host: str, container: str, stream: str) -> ParseResult:
    """Parse ``docker logs [--timestamps]`` output of one container stream (stdout or stderr)."""
    lines, notes = decode_lines(data)
    q = Quarantine(host, "docker_logs")
    timestamped = any(DOCKER_TS_RE.match(line) for line in lines[:200] if line.strip())
    arr = pa.array(lines, type=pa.string())
    blank = pc.equal(pc.utf8_length(pc.utf8_trim_whitespace(arr)), 0).to_numpy(zero_copy_only=False)
    if timestamped:
        parts = pc.extract_regex(arr, _DOCKER_PREFIX)
        ns = docker_time_ns(pc.struct_field(parts, "ts"))
        msg = pc.if_else(pc.is_valid(parts), pc.struct_field(parts, "msg"), arr)
    else:
        notes["ts_source"] = "message (no docker timestamps: collected without --timestamps)"
        ns = _app_time_ns(_without_ansi(arr, b"\x1b" in data))
        msg = arr
    is_record = (ns != INVALID_NS) & ~blank
    messages = np.asarray(msg.to_numpy(zero_copy_only=False), dtype=object)
    # continuation lines: non-blank, no time; they belong to the closest record above
    owner = (
        np.maximum.accumulate(np.where(is_record, np.arange(len(lines)), -1))
        if len(lines)
        else np.array([], int)
    )
    cont = ~is_record & ~blank
    for no in np.flatnonzero(cont & (owner < 0)):
        q.add(int(no) + 1, "no_timestamp", lines[no])
    attached = np.flatnonzero(cont & (owner >= 0))
    if len(attached):
        notes["continuation_lines"] = len(attached)
        for head in np.unique(owner[attached]):  # rare: joined in Python
            extra = [lines[i] for i in attached[owner[attached] == head]]
            messages[head] = "\n".join([messages[head], *extra])
    rec = np.flatnonzero(is_record)
    rec_messages = messages[rec]
    clean = _without_ansi(pa.array(rec_messages, type=pa.string()), b"\x1b" in data)
    n = len(rec)
    frame = pd.DataFrame(
        {
            "ts": pd.Series(pd.to_datetime(ns[rec], unit="ns", utc=True)),
            "host": constant_strings(host, n),
            "container": constant_strings(container, n),
            "stream": constant_strings(stream, n),
            "message": string_series(rec_messages.astype(object)),
            "level": string_series(infer_levels(clean)),
            "template_id": constant_strings(None, n),
        },
        copy=False,
    )
    skipped = int(blank.sum()) + len(attached)
    return build_result("docker-logs", "docker_lines", frame, q, len(lines), skipped, notes=notes)


def _without_ansi(arr: pa.Array, has_escape: bool) -> pa.Array:
    """ANSI colour codes removed (one RE2 pass, skipped when the input has no ESC byte at all)."""
    return pc.replace_substring_regex(arr, _ANSI, "") if has_escape else arr


def _app_time_ns(arr: pa.Array) -> np.ndarray:
    """The application's own leading timestamp (of ANSI-free text) -> ns, ``INVALID_NS`` if none."""
    if len(arr) == 0:
        return np.zeros(0, dtype=np.int64)
    parts = pc.extract_regex(arr, APP_TS_RE.pattern)
    iso = pc.struct_field(parts, "iso")
    yy = pc.struct_field(parts, "yy")
    text = pc.if_else(pc.greater(pc.utf8_length(iso), 0), iso, pc.binary_join_element_wise("20", yy, ""))
    text = pc.replace_substring(pc.if_else(pc.is_valid(parts), text, None), ",", ".")
    parsed = pd.to_datetime(
        pd.Series(np.asarray(text.to_numpy(zero_copy_only=False), dtype=object)),
        utc=True,
        errors="coerce",
        format="ISO8601",
    )
    return np.where(parsed.isna(), INVALID_NS, parsed.to_numpy(dtype="datetime64[ns]").view(np.int64))
