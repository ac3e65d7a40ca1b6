"""Newline-delimited JSON at C speed with a per-line escape hatch (shared by journal and docker).

The input is cut into ~16 MB blocks on line boundaries. Lines that pyarrow cannot take are found
with numpy on the bytes around each newline (a line must start with "{" and end with "}") and with
caller-given byte patterns (e.g. journald's MESSAGE byte arrays); they are blanked to spaces (which
pyarrow skips) and handed back for a stdlib ``json`` parse. A block pyarrow still rejects is
bisected until the offending lines are isolated, so a 1% share of odd lines costs ~1% extra
instead of a switch to a slow parser for the whole file.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.json as pajson

BLOCK_BYTES = 16 << 20
_MIN_BISECT_LINES = 32
_OPEN, _CLOSE, _CR = ord("{"), ord("}"), ord("\r")


@dataclass
class JsonBlock:
    """Result of one block: pyarrow tables with their global 0-based line indices, and odd lines."""

    tables: list[tuple[np.ndarray, pa.Table]]
    odd: list[tuple[int, bytes]]  # (global 0-based line index, raw line) - blank lines included
    block: _Block = field(repr=False)
    base: int = 0

    def raw(self, global_idx: int) -> bytes:
        return self.block.line(global_idx - self.base)


def iter_json_lines(
    data: bytes, schema: pa.Schema, odd_patterns: tuple[re.Pattern[bytes], ...] = ()
) -> Iterator[JsonBlock]:
    """Parse ``data`` block by block; every line ends up in exactly one table row or in ``odd``."""
    options = pajson.ParseOptions(explicit_schema=schema, unexpected_field_behavior="ignore")
    base = 0
    for chunk in _blocks(data):
        block = _Block(chunk)
        fast, odd = _classify(block, odd_patterns)
        blanked = bytearray(chunk)  # odd lines become spaces: pyarrow skips whitespace-only lines
        for i in odd:
            blanked[int(block.starts[i]) : int(block.ends[i])] = b" " * int(block.ends[i] - block.starts[i])
        tables = [(idx + base, t) for idx, t in _parse_fast(blanked, block, fast, odd, options)]
        del blanked
        yield JsonBlock(tables, [(i + base, block.line(i)) for i in sorted(odd)], block, base)
        base += block.n_lines


class _Block:
    """One ~16 MB slice of the input and the byte range of each of its lines."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        arr = np.frombuffer(data, dtype=np.uint8)
        self.arr = arr
        self.newlines = np.flatnonzero(arr == 10)
        n = len(self.newlines) + (0 if data.endswith(b"\n") or not data else 1)
        self.n_lines = n
        self.starts = np.concatenate(([0], self.newlines + 1))[:n]
        self.ends = np.concatenate((self.newlines, [len(arr)]))[:n]

    def line(self, i: int) -> bytes:
        return self.data[int(self.starts[i]) : int(self.ends[i])]


def _blocks(data: bytes) -> list[bytes]:
    """Slices of ~BLOCK_BYTES ending on a newline (the last one may be unterminated)."""
    out = []
    start = 0
    while start < len(data):
        end = data.find(b"\n", min(start + BLOCK_BYTES, len(data)) - 1)
        end = len(data) if end < 0 else end + 1
        out.append(data[start:end])
        start = end
    return out


def _classify(block: _Block, odd_patterns: tuple[re.Pattern[bytes], ...]) -> tuple[np.ndarray, set[int]]:
    """Indices of lines for pyarrow, and the set of odd lines (see the module docstring).

    A line is odd when it does not start with "{", does not end with "}" (CR allowed) or holds a
    caller pattern; the first two are checked with numpy on the bytes around each newline.
    """
    if block.n_lines == 0:
        return np.arange(0), set()
    arr, starts, ends = block.arr, block.starts, block.ends
    nonempty = ends > starts
    first = arr[np.minimum(starts, len(arr) - 1)]
    last = arr[np.maximum(ends - 1, 0)]
    before_cr = arr[np.maximum(ends - 2, 0)]
    good_end = (last == _CLOSE) | ((last == _CR) & (before_cr == _CLOSE) & (ends - starts >= 2))
    bad = ~nonempty | (first != _OPEN) | ~good_end
    hits = [m.start() for pattern in odd_patterns for m in pattern.finditer(block.data)]
    if hits:
        bad[np.searchsorted(block.newlines, np.array(hits, dtype=np.int64))] = True
    return np.flatnonzero(~bad), set(np.flatnonzero(bad).tolist())


def _parse_fast(
    blanked: bytearray, block: _Block, idx: np.ndarray, odd: set[int], options: pajson.ParseOptions
) -> list[tuple[np.ndarray, pa.Table]]:
    """pyarrow on the lines ``idx``; a rejected range is bisected, tiny rejected ranges go to ``odd``."""
    if len(idx) == 0:
        return []
    lo, hi = int(block.starts[idx[0]]), int(block.ends[idx[-1]])
    try:
        table = pajson.read_json(pa.BufferReader(memoryview(blanked)[lo:hi]), parse_options=options)
        table.validate(full=True)  # pyarrow.json does not check UTF-8 inside strings; this does
        if table.num_rows == len(idx):
            return [(idx, table)]
    except pa.ArrowException:  # ArrowInvalid, or a wrapped UTF-8 error for invalid bytes in a string
        pass  # some line in this range is not what the schema says: narrow it down below
    if len(idx) <= _MIN_BISECT_LINES:
        odd.update(idx.tolist())
        return []
    mid = len(idx) // 2
    return _parse_fast(blanked, block, idx[:mid], odd, options) + _parse_fast(
        blanked, block, idx[mid:], odd, options
    )
