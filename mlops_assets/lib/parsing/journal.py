"""``journalctl -o json`` -> journal_entries, fast and memory-bounded.

Fast path: the input is cut into ~16 MB blocks on line boundaries; each block's ordinary lines go
through ``pyarrow.json`` with an explicit all-string schema (unknown fields ignored). Lines that
pyarrow cannot take are found with a few byte regexes and parsed by the stdlib ``json`` instead:
MESSAGE as an ARRAY OF BYTE VALUES (journald's form for non-UTF-8 / control characters), lines
that do not look like one JSON object, and - found by bisecting a block pyarrow rejects - lines
with other oddities (a number where a string belongs, broken JSON). So a 1% share of odd lines
costs ~1% extra, not a switch to a slow parser.

Field mapping: ts <- __REALTIME_TIMESTAMP (µs since epoch, UTC); priority <- PRIORITY (0-7, else
null); unit <- _SYSTEMD_UNIT or UNIT; identifier <- SYSLOG_IDENTIFIER or _COMM; pid <- _PID;
boot_id <- _BOOT_ID; cursor <- __CURSOR (kept so collection can resume exactly).
Quarantine reasons: ``invalid_json``, ``not_an_object``, ``missing_timestamp``, ``bad_timestamp``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from mlops_assets.lib.contracts import ParseResult
from mlops_assets.lib.parsing.arrow_util import ints, strings
from mlops_assets.lib.parsing.jsonl import iter_json_lines
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
# Lines the fast path must not see: byte-array MESSAGE, not starting with "{", not ending with "}".
_BYTE_ARRAY_MESSAGE = re.compile(rb'"MESSAGE"\s*:\s*\[')


def parse_journal_json(data: bytes, host: str) -> ParseResult:
    """Parse ``journalctl -o json`` output (one JSON object per line) of one host."""
    quarantine = Quarantine(host, "journal")
    notes: dict[str, Any] = {}
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    frames: list[pd.DataFrame] = []
    slow_rows: list[dict[str, Any]] = []
    records_in = skipped = 0
    for jb in iter_json_lines(data, _SCHEMA, (_BYTE_ARRAY_MESSAGE,)):
        for idx, table in jb.tables:
            frames.append(_frame(table, idx, jb.raw, quarantine))
        for i, raw in jb.odd:
            if not raw.strip():
                skipped += 1
                continue
            row = _slow_row(raw, i + 1, quarantine)
            if row is not None:
                slow_rows.append(row)
        records_in += jb.block.n_lines
    if slow_rows:
        frames.append(_slow_frame(slow_rows))
        notes["stdlib_json_lines"] = len(slow_rows)
    frames = [f for f in frames if len(f)]
    table = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    if len(frames) > 1:
        table = table.sort_values("line_no", kind="stable", ignore_index=True)
    if len(table):
        table["host"] = host
    return build_result("journal", "journal_entries", table, quarantine, records_in, skipped, notes=notes)


def _frame(
    table: pa.Table, line_idx: np.ndarray, raw_of: Callable[[int], bytes] | None, q: Quarantine
) -> pd.DataFrame:
    """Typed frame of one pyarrow table; rows without a usable timestamp are quarantined."""
    ts_raw = table.column("__REALTIME_TIMESTAMP")
    usec = ints(ts_raw, "Int64", lo=0, hi=10**17)
    bad = usec.isna().to_numpy()
    if bad.any():
        missing = pc.is_null(ts_raw).to_numpy(zero_copy_only=False)
        for i in np.flatnonzero(bad):
            reason = "missing_timestamp" if missing[i] else "bad_timestamp"
            raw = raw_of(int(line_idx[i])) if raw_of is not None else b""
            q.add(int(line_idx[i]) + 1, reason, raw)
        keep = pa.array(~bad)
        table, usec, line_idx = table.filter(keep), usec[~bad].reset_index(drop=True), line_idx[~bad]
    return pd.DataFrame(
        {
            "ts": pd.to_datetime(usec.to_numpy(dtype=np.int64) * 1000, unit="ns", utc=True),
            "unit": strings(
                pc.coalesce(table.column("_SYSTEMD_UNIT"), table.column("UNIT")), low_cardinality=True
            ),
            "identifier": strings(
                pc.coalesce(table.column("SYSLOG_IDENTIFIER"), table.column("_COMM")), low_cardinality=True
            ),
            "pid": ints(table.column("_PID"), "Int64", lo=0),
            "priority": ints(table.column("PRIORITY"), "Int8", lo=0, hi=7),
            "message": strings(table.column("MESSAGE")),
            "boot_id": strings(table.column("_BOOT_ID"), low_cardinality=True),
            "cursor": strings(table.column("__CURSOR")),
            "line_no": line_idx + 1,
        }
    )


def _text(value: Any) -> str | None:
    """journald field value -> text: strings as is, byte arrays decoded (invalid UTF-8 replaced)."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, list) and all(isinstance(b, int) and 0 <= b <= 255 for b in value):
        return bytes(value).decode("utf-8", errors="replace")
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
    if not ts_text.isdigit() or len(ts_text) > 17:
        q.add(line_no, "bad_timestamp", raw)
        return None
    row = {f: _text(obj.get(f)) for f in FIELDS}
    row["__REALTIME_TIMESTAMP"] = ts_text
    row["line_no"] = line_no
    return row


def _slow_frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """Same columns as ``_frame`` for the stdlib-parsed rows (goes through the same converters)."""
    table = pa.Table.from_pylist([{f: r[f] for f in FIELDS} for r in rows], schema=_SCHEMA)
    line_no = np.array([r["line_no"] for r in rows], dtype=np.int64)
    q = Quarantine("", "")  # timestamps were validated in _slow_row: nothing can land here
    return _frame(table, line_no - 1, None, q)
