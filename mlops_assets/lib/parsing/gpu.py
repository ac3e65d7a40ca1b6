"""nvidia-smi ``--query-gpu`` CSV -> gpu_samples (+ gpu_errors events for nvidia-smi failures).

Fast path: lines that are not samples (headers, blank lines, failure messages) are rare, so they are
found with one regex over the bytes and cut out; the remaining sample lines of each header segment
go through pyarrow's CSV reader as strings and are converted column-wise (units stripped, ``[N/A]``
-> null). Column mapping is driven by the header (gpu_header.py), so any field order or subset and
headers with units (``utilization.gpu [%]``) work; a sample whose first field is text (``name``
first) is still a sample when it has the header's field count. A file without any header is read
in GPU_QUERY_FIELDS (or GPU_BASE_FIELDS) order when its rows have exactly that many fields
(``--format=csv,noheader``).

Timestamps like ``2026/11/23 14:00:05.123`` carry no zone: they are the host's local time and are
read as UTC (stated in ``notes["timezone"]``); ISO timestamps with a zone are converted to UTC.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from typing import Any

import numpy as np
import pandas as pd

from mlops_assets.lib.contracts.tables import GPU_ERRORS, GPU_SAMPLES, ParseResult, conform, empty_frame
from mlops_assets.lib.parsing.arrow_util import constant_strings
from mlops_assets.lib.parsing.gpu_header import (
    DERIVED,
    FAILURE_RE,
    NOHEADER_LAYOUTS,
    header_mapping,
    split_fields,
)
from mlops_assets.lib.parsing.gpu_time import parse_timestamps
from mlops_assets.lib.parsing.gpu_values import (
    column_values,
    normalise_pci,
    read_csv_columns,
)
from mlops_assets.lib.parsing.records import Quarantine, build_result

_NOT_A_SAMPLE_START = re.compile(rb"\n(?=[^0-9])")


def _special_lines(data: bytes) -> list[tuple[int, int]]:
    """(start, end) byte ranges of lines that do not start with a digit: headers, failures, blanks.

    Samples start with a timestamp or an index, so in a normal file only headers are returned;
    one regex finds them without a Python loop over 700k lines (numpy: an input-sized temporary).
    """
    starts = [m.start() + 1 for m in _NOT_A_SAMPLE_START.finditer(data)]
    if data and not data[:1].isdigit():
        starts.insert(0, 0)
    if starts and starts[-1] == len(data):
        starts.pop()  # the "line" after the final newline does not exist
    out = []
    for start in starts:
        end = data.find(b"\n", start)
        out.append((start, len(data) if end < 0 else end))
    return out


class _Segment:
    """Sample lines under one header: their text and original 1-based line numbers."""

    def __init__(self, header: list[str] | None, mapping: dict[int, str] | None) -> None:
        self.header = header
        self.mapping = mapping
        self.pieces: list[tuple[int, int]] = []  # byte ranges of consecutive sample lines in the input
        self.line_nos: list[int] = []  # original line number of the first line of each piece
        self.n_lines: list[int] = []  # lines in each piece (the last one may be unterminated)

    def add(self, start: int, end: int, line_no: int, n_lines: int) -> None:
        self.pieces.append((start, end))
        self.line_nos.append(line_no)
        self.n_lines.append(n_lines)


def parse_gpu_csv(data: bytes, host: str) -> ParseResult:
    """Parse ``nvidia-smi --query-gpu=... --format=csv[,nounits]`` output of one host."""
    quarantine = Quarantine(host, "gpu")
    notes: dict[str, Any] = {"timezone": "timestamps without zone read as UTC (nvidia-smi prints local time)"}
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        data = data.decode("utf-16", errors="replace").encode("utf-8")
        notes["encoding"] = "utf-16"
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    if not data.isascii():  # pyarrow refuses invalid UTF-8: repair it (U+FFFD) and say so
        try:
            data.decode("utf-8")
        except UnicodeDecodeError:
            text = data.decode("utf-8", errors="replace")
            notes["invalid_bytes"] = text.count("\ufffd")
            data = text.encode("utf-8")
    if b"\r" in data:  # pyarrow's CSV reader ends a row at a lone CR too: keep LF as the only terminator
        data = data.replace(b"\r\n", b"\n").replace(b"\r", b" ")
    if b"\x00" in data:
        notes["nul_bytes"] = data.count(b"\x00")
        data = data.replace(b"\x00", b"")
    segments, errors, skipped, counts, records_in = _segment(data, quarantine)
    notes.update({k: v for k, v in counts.items() if v})
    unterminated = records_in if data and not data.endswith(b"\n") else None
    parsed = (_parse_segment(s, data, quarantine, notes, unterminated) for s in segments)
    frames = [f for f in parsed if f is not None]
    table = pd.concat(frames, ignore_index=True) if len(frames) > 1 else (frames or [pd.DataFrame()])[0]
    last_ts = _last_ts_before(table, errors)
    events = _errors_frame(errors, host, last_ts)
    if len(table):  # contract column order, so build_result need not copy it through conform
        table["host"] = constant_strings(host, len(table))
        table = table[[c for c in GPU_SAMPLES if c in table.columns]]
    return build_result(
        "gpu",
        "gpu_samples",
        table,
        quarantine,
        records_in,
        skipped + len(errors),
        events=events,
        notes=notes,
    )


def _segment(data: bytes, quarantine: Quarantine):
    """Cut special lines out; return header segments, failure lines, skipped count, records_in."""
    total_lines = data.count(b"\n") + (0 if data.endswith(b"\n") or not data else 1)
    segments: list[_Segment] = []
    errors: list[tuple[int, str]] = []
    counts = {"repeated_headers": 0, "header_changes": 0, "blank_lines": 0}
    skipped = 0
    current = _Segment(None, None)
    segments.append(current)
    line_starts_seen = 0  # line number of `pos`
    pos = 0
    for start, end in _special_lines(data):
        if start > pos:
            n_piece = data.count(b"\n", pos, start)
            current.add(pos, start, line_starts_seen + 1, n_piece)
            line_starts_seen += n_piece
        line_no = line_starts_seen + 1
        text = data[start:end].rstrip(b"\r").decode("utf-8", errors="replace")
        pos = end + 1  # past the newline
        line_starts_seen += 1
        fields = split_fields(text)
        if not text.strip():
            skipped += 1
            counts["blank_lines"] += 1
        elif current.header is not None and fields == current.header:
            skipped += 1
            counts["repeated_headers"] += 1
        elif (mapping := header_mapping(fields)) is not None:
            skipped += 1
            if current.header is not None:
                counts["header_changes"] += 1
            current = _Segment(fields, mapping)
            segments.append(current)
        elif text.lstrip()[:1].isdigit():  # a sample indented by whitespace: still a sample
            current.add(start, min(end + 1, len(data)), line_no, 1)
        elif FAILURE_RE.search(text):
            errors.append((line_no, text))
        elif current.header is not None and len(fields) == len(current.header):
            current.add(start, min(end + 1, len(data)), line_no, 1)  # first field is text (name, uuid)
        else:
            quarantine.add(line_no, "not_a_sample", text)
    if pos < len(data):  # the rest of the file: its lines are all the lines not seen yet
        current.add(pos, len(data), line_starts_seen + 1, total_lines - line_starts_seen)
    return segments, errors, skipped, counts, total_lines


def _parse_segment(
    seg: _Segment, data: bytes, quarantine: Quarantine, notes: dict[str, Any], unterminated_line: int | None
) -> pd.DataFrame | None:
    """Read one segment's sample lines with pyarrow and convert them to contract columns."""
    if not seg.pieces:
        return None
    view = memoryview(data)
    if len(seg.pieces) == 1:  # the common case: no copy of the input at all
        buf: bytes | memoryview = view[seg.pieces[0][0] : seg.pieces[0][1]]
    else:
        buf = b"".join(
            view[a:b] if data[b - 1 : b] == b"\n" else bytes(view[a:b]) + b"\n" for a, b in seg.pieces
        )
    starts = seg.line_nos  # first original line of each piece; pieces hold consecutive lines
    piece_lines = seg.n_lines
    offsets = [0]
    for n in piece_lines:
        offsets.append(offsets[-1] + n)

    def original_line(k: int) -> int:  # k: 1-based line in buf
        i = bisect_right(offsets, k - 1) - 1
        return starts[i] + (k - 1 - offsets[i])

    header, mapping = seg.header, seg.mapping
    first_fields = split_fields(bytes(buf[:65536]).split(b"\n", 1)[0].decode("utf-8", errors="replace"))
    if header is None:
        if len(first_fields) not in NOHEADER_LAYOUTS:
            for k, text in enumerate(bytes(buf).split(b"\n")[: offsets[-1]], start=1):
                quarantine.add(original_line(k), "no_header", text.rstrip(b"\r"))
            return None
        header = list(NOHEADER_LAYOUTS[len(first_fields)])
        mapping = header_mapping(header)
        notes["assumed_header"] = f"{len(header)} GPU_QUERY_FIELDS (file has no header)"
    assert mapping is not None
    table, bad = read_csv_columns(buf, mapping, len(header))
    last_line = offsets[-1]
    for k, text in bad:
        truncated = original_line(k) == unterminated_line
        quarantine.add(original_line(k), "truncated_row" if truncated else "field_count", text)
    kept = np.arange(1, last_line + 1)
    if bad:
        kept = kept[~np.isin(kept, np.array([k for k, _ in bad]))]
    piece = np.searchsorted(np.array(offsets), kept - 1, side="right") - 1
    kept_line_nos = np.array(starts)[piece] + (kept - 1 - np.array(offsets)[piece])
    out: dict[str, Any] = {}
    ts_raw = table.column(next(f"c{p}" for p, c in mapping.items() if c == "ts"))
    out["ts"] = parse_timestamps(ts_raw)
    for pos, col in mapping.items():
        if col != "ts":
            out[col] = column_values(col, table.column(f"c{pos}"), notes)
    for col, source in DERIVED.items():
        if source in out:
            out[col] = out[source]
    out["line_no"] = kept_line_nos
    df = pd.DataFrame(out, copy=False)
    bad_ts = df["ts"].isna().to_numpy()
    if bad_ts.any():
        raw = ts_raw.to_pylist()
        for i in bad_ts.nonzero()[0]:
            quarantine.add(int(kept_line_nos[i]), "bad_timestamp", _line(buf, int(kept[i])) or str(raw[i]))
        df = df[~bad_ts].reset_index(drop=True)
    return df


def _line(buf: bytes | memoryview, k: int) -> str:
    """Text of the k-th (1-based) line of ``buf`` (only used for the rare quarantined rows)."""
    lines = bytes(buf).split(b"\n", k)
    return lines[k - 1].decode("utf-8", errors="replace") if len(lines) >= k else ""


def _last_ts_before(table: pd.DataFrame, errors: list[tuple[int, str]]) -> list[pd.Timestamp | None]:
    """Per failure line: ts of the last sample line above it in the file (None when none)."""
    if table.empty or not errors:
        return [None] * len(errors)
    order = table.sort_values("line_no", kind="stable")
    line_nos = order["line_no"].to_numpy()
    idx = np.searchsorted(line_nos, np.array([n for n, _ in errors]), side="left") - 1
    ts = order["ts"]
    return [ts.iloc[i] if i >= 0 else None for i in idx]


def _errors_frame(errors: list[tuple[int, str]], host: str, last_ts: list[Any]) -> pd.DataFrame:
    if not errors:
        return empty_frame(GPU_ERRORS)
    rows = [
        {"ts": ts, "host": host, "pci_bus": normalise_pci(text), "message": text}
        for (_, text), ts in zip(errors, last_ts, strict=True)
    ]
    return conform(pd.DataFrame(rows), GPU_ERRORS)
