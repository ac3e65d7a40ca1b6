"""``journalctl -o json`` -> journal_entries, fast and memory-bounded.

Fast path: the input is cut into ~8 MB blocks on line boundaries; each block's ordinary lines go
through ``pyarrow.json`` with an explicit all-string schema (unknown fields ignored). Lines that
pyarrow cannot take are parsed by the stdlib ``json`` instead: lines that do not look like one
JSON object, and - found by bisecting a block pyarrow rejects -
lines with other oddities (a number where a string belongs, broken JSON). MESSAGE as an ARRAY OF
BYTE VALUES (journald's form for non-UTF-8 / control characters, found by a memchr-speed literal
search) is rewritten in place as the decoded string - the array is longer than its text, so it
nearly always fits - and stays on the fast path; a rewrite that does not fit takes the stdlib path.
So a 1% share of odd lines costs ~1% extra, not a switch to a slow parser.

Memory: each block is converted at once to numpy columns (Python strings, low-cardinality ones
shared per distinct value) and its Arrow memory is released; the blocks' arrays are concatenated
(pointer copies) into one pandas frame at the end: no per-block frames, no pandas concat or sort.

Field mapping: ts <- __REALTIME_TIMESTAMP (µs since epoch, UTC); priority <- PRIORITY (0-7, else
null); unit <- _SYSTEMD_UNIT or UNIT; identifier <- SYSLOG_IDENTIFIER or _COMM; pid <- _PID;
boot_id <- _BOOT_ID; cursor <- __CURSOR (kept so collection can resume exactly).
Quarantine reasons: ``invalid_json``, ``not_an_object``, ``missing_timestamp``, ``bad_timestamp``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from mlops_assets.lib.contracts.tables import ParseResult
from mlops_assets.lib.parsing.arrow_util import (
    constant_strings,
    int_array,
    int_values,
    nullable_ints,
    objects,
    string_series,
)
from mlops_assets.lib.parsing.jsonl import in_line_order, iter_json_lines
from mlops_assets.lib.parsing.records import Quarantine, build_result

FIELDS = (
    "__REALTIME_TIMESTAMP",
    "PRIORITY",
    "_SYSTEMD_UNIT",
    "UNIT",
    "SYSLOG_IDENTIFIER",
    "_COMM",
    "_PID",
    "MESSAGE",
    "_BOOT_ID",
    "__CURSOR",
)
_SCHEMA = pa.schema([(f, pa.string()) for f in FIELDS])
# Lines the fast path must not see: byte-array MESSAGE, in the file's spacing (compact ``-o json``
# or the spaced form of older journalctl); a line written otherwise is still isolated by bisection.
_BYTE_ARRAY_MESSAGE = {False: b'"MESSAGE":[', True: b'"MESSAGE" : ['}
_MAX_USEC = 10**17


def parse_journal_json(data: bytes, host: str) -> ParseResult:
    """Parse ``journalctl -o json`` output (one JSON object per line) of one host."""
    quarantine = Quarantine(host, "journal")
    notes: dict[str, Any] = {}
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    first_line = data[: min(data.find(b"\n") % (len(data) + 1), 65536)]
    literal = _BYTE_ARRAY_MESSAGE[b'" : "' in first_line]
    blocks: list[dict[str, np.ndarray]] = []
    records_in = skipped = slow_lines = 0
    for jb in iter_json_lines(data, _SCHEMA, (literal,), repair=_message_bytes_as_text):
        parts = [_columns(t, idx, jb.raw, quarantine) for idx, t in jb.tables]
        slow_rows: list[dict[str, Any]] = []
        for i, raw in jb.odd:
            if not raw.strip():
                skipped += 1
                continue
            row = _slow_row(raw, i + 1, quarantine)
            if row is not None:
                slow_rows.append(row)
        if slow_rows:
            slow_lines += len(slow_rows)
            slow = pa.Table.from_pylist([{f: r[f] for f in FIELDS} for r in slow_rows], schema=_SCHEMA)
            line_idx = np.array([r["line_no"] - 1 for r in slow_rows], dtype=np.int64)
            parts.append(_columns(slow, line_idx, jb.raw, quarantine))
        if parts:
            blocks.append(in_line_order(parts))
        records_in += jb.block.n_lines
    if slow_lines:
        notes["stdlib_json_lines"] = slow_lines
    frame = _frame(blocks, host) if blocks else pd.DataFrame()
    return build_result("journal", "journal_entries", frame, quarantine, records_in, skipped, notes=notes)


def _columns(
    table: pa.Table, line_idx: np.ndarray, raw_of: Callable[[int], bytes], q: Quarantine
) -> dict[str, np.ndarray]:
    """One pyarrow table -> the contract's columns as numpy arrays; bad timestamps quarantined.

    Converting each ~8 MB block at once keeps only Python strings alive (no Arrow copy of the
    whole input next to them); low-cardinality columns share one Python object per distinct value.
    """
    ts_raw = table.column("__REALTIME_TIMESTAMP")
    usec, bad = int_values(int_array(ts_raw, lo=0, hi=_MAX_USEC))
    if bad.any():
        missing = pc.is_null(ts_raw).to_numpy(zero_copy_only=False)
        for i in np.flatnonzero(bad):
            reason = "missing_timestamp" if missing[i] else "bad_timestamp"
            q.add(int(line_idx[i]) + 1, reason, raw_of(int(line_idx[i])))
        keep = ~bad
        table, usec, line_idx = table.filter(pa.array(keep)), usec[keep], line_idx[keep]
    pid, pid_null = int_values(int_array(table.column("_PID"), lo=0))
    prio, prio_null = int_values(int_array(table.column("PRIORITY"), lo=0, hi=7))
    unit = pc.coalesce(table.column("_SYSTEMD_UNIT"), table.column("UNIT"))
    ident = pc.coalesce(table.column("SYSLOG_IDENTIFIER"), table.column("_COMM"))
    return {
        "usec": usec,
        "unit": objects(unit, low_cardinality=True),
        "identifier": objects(ident, low_cardinality=True),
        "pid": pid,
        "pid_null": pid_null,
        "priority": prio,
        "priority_null": prio_null,
        "message": objects(table.column("MESSAGE")),
        "boot_id": objects(table.column("_BOOT_ID"), low_cardinality=True),
        "cursor": objects(table.column("__CURSOR")),
        "line_no": np.asarray(line_idx, dtype=np.int64) + 1,
    }


def _frame(blocks: list[dict[str, np.ndarray]], host: str) -> pd.DataFrame:
    """All blocks' columns -> the contract frame (concatenation of pointers, no string copies)."""

    def cat(key: str) -> np.ndarray:
        arrays = [b.pop(key) for b in blocks]  # pop: each block's arrays are freed as we go
        return arrays[0] if len(arrays) == 1 else np.concatenate(arrays)

    usec = cat("usec")
    n = len(usec)
    return pd.DataFrame(
        {
            "ts": pd.Series(pd.to_datetime(usec * 1000, unit="ns", utc=True)),
            "host": constant_strings(host, n),
            "unit": string_series(cat("unit")),
            "identifier": string_series(cat("identifier")),
            "pid": nullable_ints((cat("pid"), cat("pid_null")), "Int64"),
            "priority": nullable_ints((cat("priority"), cat("priority_null")), "Int8"),
            "message": string_series(cat("message")),
            "template_id": constant_strings(None, n),  # mined later
            "boot_id": string_series(cat("boot_id")),
            "cursor": string_series(cat("cursor")),
        },
        copy=False,
    )


def _message_bytes_as_text(line: bytes) -> bytes | None:
    """The line with its byte-array MESSAGE replaced by the decoded JSON string (the same text
    ``_text`` gives), so pyarrow can read it; None when the array is not plain byte values."""
    for literal in _BYTE_ARRAY_MESSAGE.values():
        start = line.find(literal)
        if start >= 0:
            break
    else:
        return None
    open_at = start + len(literal) - 1
    close_at = line.find(b"]", open_at)
    if close_at < 0:
        return None
    try:  # bytes() refuses anything but ints in 0..255
        text = bytes(json.loads(line[open_at : close_at + 1])).decode("utf-8", errors="replace")
    except (ValueError, TypeError):
        return None
    return line[:open_at] + json.dumps(text, ensure_ascii=False).encode("utf-8") + line[close_at + 1 :]


def _text(value: Any) -> str | None:
    """journald field value -> text: strings as is, byte arrays decoded (invalid UTF-8 replaced)."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, list):
        try:  # bytes() checks every element is an int in 0..255 (in C)
            return bytes(value).decode("utf-8", errors="replace")
        except (TypeError, ValueError):
            pass  # not a byte array: keep the JSON text below
    return json.dumps(value)


def _slow_row(raw: bytes, line_no: int, q: Quarantine) -> dict[str, Any] | None:
    """stdlib-json parse of one odd line; quarantines and returns None when it is unusable."""
    try:
        obj = json.loads(raw.decode("utf-8", errors="replace"))
    except (ValueError, RecursionError):
        q.add(line_no, "invalid_json", raw)
        return None
    if not isinstance(obj, dict):
        q.add(line_no, "not_an_object", raw)
        return None
    ts = obj.get("__REALTIME_TIMESTAMP")
    if ts is None:
        q.add(line_no, "missing_timestamp", raw)
        return None
    ts_text = str(ts).strip()
    if not ts_text.isdigit() or len(ts_text) > 17 or int(ts_text) > _MAX_USEC:
        q.add(line_no, "bad_timestamp", raw)
        return None
    row = {f: _text(obj.get(f)) for f in FIELDS}
    row["__REALTIME_TIMESTAMP"] = ts_text
    row["line_no"] = line_no
    return row
