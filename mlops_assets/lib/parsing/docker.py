"""Container output -> docker_lines: json-file driver archives and ``docker logs --timestamps``.

json-file (``{"log","stream","time"}`` per line, 1-9 digit fractions) goes through the shared
block-wise pyarrow reader (jsonl.py) and column-wise timestamp/level conversion. ``docker logs``
text is parsed line by line: a line without docker's RFC 3339 prefix continues the previous record
(a traceback printed in one write) and is counted as skipped; before any record it is quarantined
as ``no_timestamp``. Plain ``docker logs`` (collected without ``--timestamps``) has no docker time
at all: the application's own leading timestamp is used when there is one (``[2023-05-02T16:54:17Z
INFO …``, ``22-10-11 14:04:23 DEBUG …``; ``notes["ts_source"] = "message"``), otherwise the line is
quarantined as ``no_timestamp`` - a record without a time cannot be placed in a window.
``template_id`` stays null: template mining is a later step.
"""

from __future__ import annotations

import json
import re
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from mlops_assets.lib.contracts import ParseResult
from mlops_assets.lib.parsing.arrow_util import strings
from mlops_assets.lib.parsing.decode import decode_lines
from mlops_assets.lib.parsing.docker_events import parse_docker_events
from mlops_assets.lib.parsing.jsonl import iter_json_lines
from mlops_assets.lib.parsing.levels import infer_level, infer_levels
from mlops_assets.lib.parsing.records import Quarantine, build_result

__all__ = ["parse_docker_events", "parse_docker_json_file", "parse_docker_logs"]

_SCHEMA = pa.schema([("log", pa.string()), ("stream", pa.string()), ("time", pa.string())])
_RFC3339 = r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?(?:Z|[+-]\d{2}:\d{2})?"
DOCKER_TS_RE = re.compile(rf"^(?P<ts>{_RFC3339}) ?(?P<msg>.*)$")
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
APP_TS_RE = re.compile(
    r"^\W{0,3}(?P<iso>\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(?:[.,]\d{1,9})?(?:Z|[+-]\d{2}:?\d{2})?)"
    r"|^\W{0,3}(?P<yy>\d{2}-\d{2}-\d{2} \d{2}:\d{2}:\d{2})"
)


def docker_time_ns(times: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """RFC 3339 strings with 0-9 fraction digits -> int64 ns since epoch (INT64 min = unparseable).

    Docker always writes ``YYYY-MM-DDTHH:MM:SS[.fffffffff]Z``; that layout is parsed by fixed
    slices (pyarrow's strptime has no fraction directive). Anything else (an offset, a missing Z,
    garbage) goes through a regex + pandas path, so odd rows cost extra, never correctness.
    """
    if isinstance(times, pa.ChunkedArray):
        times = times.combine_chunks()
    invalid = np.iinfo(np.int64).min
    n = len(times)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    length = pc.utf8_length(times)
    dot_or_z = pc.utf8_slice_codeunits(times, 19, 20)
    frac = pc.utf8_slice_codeunits(times, 20, -1)
    standard = pc.and_(
        pc.and_(pc.ends_with(times, "Z"), pc.less_equal(length, 30)),
        pc.or_(
            pc.equal(dot_or_z, "Z"),
            pc.and_(pc.equal(dot_or_z, "."), pc.match_substring_regex(frac, r"^\d+$")),
        ),
    )
    standard = pc.fill_null(standard, False)
    sec = pc.strptime(
        pc.utf8_slice_codeunits(times, 0, 19), format="%Y-%m-%dT%H:%M:%S", unit="s", error_is_null=True
    )
    digits = pc.if_else(pc.equal(dot_or_z, "Z"), "0", frac)
    digits = pc.if_else(standard, pc.utf8_rpad(digits, 9, "0"), "0")
    ns = pc.add(pc.multiply(pc.cast(sec, pa.int64()), 1_000_000_000), pc.cast(digits, pa.int64()))
    ok = pc.and_(standard, pc.is_valid(ns))
    out = pc.if_else(ok, ns, invalid).to_numpy(zero_copy_only=False).copy()
    odd = ~pc.fill_null(ok, False).to_numpy(zero_copy_only=False) & pc.is_valid(times).to_numpy(
        zero_copy_only=False
    )
    if odd.any():
        raw = pd.Series(np.asarray(times.to_pylist(), dtype=object)[odd])
        parsed = pd.to_datetime(
            raw.where(raw.str.match(_RFC3339 + "$"), None), utc=True, errors="coerce", format="ISO8601"
        )
        out[odd] = np.where(parsed.isna(), invalid, parsed.astype("int64"))
    return out


def parse_docker_json_file(data: bytes, host: str, container: str) -> ParseResult:
    """Parse a json-file driver log (``/var/lib/docker/containers/<id>/<id>-json.log``)."""
    q = Quarantine(host, "docker_logs")
    frames: list[pd.DataFrame] = []
    slow: list[dict[str, Any]] = []
    records_in = skipped = 0
    for jb in iter_json_lines(data, _SCHEMA):
        for idx, table in jb.tables:
            frames.append(_json_frame(table, idx, jb.raw, q))
        for i, raw in jb.odd:
            if not raw.strip():
                skipped += 1
                continue
            try:
                obj = json.loads(raw.decode("utf-8", errors="replace"))
            except (ValueError, RecursionError):
                q.add(i + 1, "invalid_json", raw)
                continue
            if not isinstance(obj, dict):
                q.add(i + 1, "not_an_object", raw)
                continue
            slow.append(
                {k: None if obj.get(k) is None else str(obj.get(k)) for k in ("log", "stream", "time")}
            )
            slow[-1]["_line"] = i
        records_in += jb.block.n_lines
    if slow:
        table = pa.Table.from_pylist(
            [{k: r[k] for k in ("log", "stream", "time")} for r in slow], schema=_SCHEMA
        )
        lines = {r["_line"]: r for r in slow}
        frames.append(
            _json_frame(table, np.array([r["_line"] for r in slow]), lambda i: json.dumps(lines[i]), q)
        )
    frames = [f for f in frames if len(f)]
    table = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    if len(frames) > 1:
        table = table.sort_values("line_no", kind="stable", ignore_index=True)
    if len(table):
        table["host"], table["container"] = host, container
    return build_result("docker", "docker_lines", table, q, records_in, skipped)


def _json_frame(table: pa.Table, idx: np.ndarray, raw_of: Any, q: Quarantine) -> pd.DataFrame:
    ns = docker_time_ns(table.column("time"))
    bad = ns == np.iinfo(np.int64).min
    if bad.any():
        missing = pc.is_null(table.column("time")).to_numpy(zero_copy_only=False)
        for i in np.flatnonzero(bad):
            q.add(
                int(idx[i]) + 1, "missing_timestamp" if missing[i] else "bad_timestamp", raw_of(int(idx[i]))
            )
        table, ns, idx = table.filter(pa.array(~bad)), ns[~bad], idx[~bad]
    log = pc.utf8_rtrim(table.column("log"), characters="\r\n")
    return pd.DataFrame(
        {
            "ts": pd.to_datetime(ns, unit="ns", utc=True),
            "stream": strings(table.column("stream"), low_cardinality=True),
            "message": strings(log),
            "level": pd.Series(infer_levels(log), dtype="string"),
            "line_no": idx + 1,
        }
    )


def parse_docker_logs(data: bytes, host: str, container: str, stream: str) -> ParseResult:
    """Parse ``docker logs [--timestamps]`` output of one container stream (stdout or stderr)."""
    lines, notes = decode_lines(data)
    q = Quarantine(host, "docker_logs")
    timestamped = any(DOCKER_TS_RE.match(line) for line in lines[:200] if line.strip())
    rows: list[dict[str, Any]] = []
    skipped = continuations = 0
    for no, line in enumerate(lines, start=1):
        if not line.strip():
            skipped += 1
            continue
        ts, msg = _line_ts(line, timestamped)
        if ts is not None:
            rows.append({"ts": ts, "message": msg})
        elif rows:
            rows[-1]["message"] += "\n" + line
            skipped, continuations = skipped + 1, continuations + 1
        else:
            q.add(no, "no_timestamp", line)
    if not timestamped:
        notes["ts_source"] = "message (no docker timestamps: collected without --timestamps)"
    if continuations:
        notes["continuation_lines"] = continuations
    for r in rows:
        r.update(
            host=host, container=container, stream=stream, level=infer_level(_ANSI.sub("", r["message"]))
        )
    return build_result("docker-logs", "docker_lines", rows, q, len(lines), skipped, notes=notes)


def _line_ts(line: str, timestamped: bool) -> tuple[pd.Timestamp | None, str]:
    if timestamped:
        m = DOCKER_TS_RE.match(line)
        if m is None:
            return None, line
        ts = pd.to_datetime(m.group("ts"), utc=True, errors="coerce", format="ISO8601")
        return (None, line) if pd.isna(ts) else (ts, m.group("msg"))
    m = APP_TS_RE.match(_ANSI.sub("", line))
    if m is None:
        return None, line
    text = m.group("iso") or ("20" + m.group("yy"))
    ts = pd.to_datetime(text.replace(",", "."), utc=True, errors="coerce", format="ISO8601")
    return (None, line) if pd.isna(ts) else (ts, line)
