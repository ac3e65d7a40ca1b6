"""Newline-delimited JSON at C speed with a per-line escape hatch (shared by journal and docker).

The input is cut into ~8 MB blocks on line boundaries (one copy per block, never of the whole
input). Lines that pyarrow cannot take are found with numpy on the bytes around each newline (a
line must start with "{" and end with "}") and with caller-given byte literals, also found with
numpy (e.g. journald's ``"MESSAGE":[`` byte arrays); they are blanked to spaces in the block
copy (pyarrow skips whitespace-only lines) and handed back for a stdlib ``json`` parse. A block
pyarrow still rejects is bisected until the offending lines are isolated, so a 1% share of odd
lines costs ~1% extra instead of a switch to a slow parser for the whole file.
A literal is only an optimisation: a line it misses (other spacing) is still isolated by bisection.
A caller ``repair`` may instead rewrite such a line into an equivalent one pyarrow accepts; when
that fits in the line's bytes it is written in place (padded with spaces), so the line stays on
the fast path and in file order; ``JsonBlock.raw`` still returns the input bytes.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.json as pajson

BLOCK_BYTES = 8 << 20
_MIN_BISECT_LINES = 32
_READ = pajson.ReadOptions(use_threads=False, block_size=4 << 20)
_WORKERS = 2  # blocks scanned and parsed at once (each single-threaded) while the caller converts
_OPEN, _CLOSE, _CR = ord("{"), ord("}"), ord("\r")
Repair = Callable[[bytes], "bytes | None"]  # odd line -> equivalent line pyarrow accepts, or None


@dataclass
class JsonBlock:
    """Result of one block: pyarrow tables with their global 0-based line indices, and odd lines."""

    tables: list[tuple[np.ndarray, pa.Table]]
    odd: list[tuple[int, bytes]]  # (global 0-based line index, raw line) - blank lines included
    block: _Block = field(repr=False)
    base: int = 0

    def raw(self, global_idx: int) -> bytes:
        """Raw bytes of a line of this block that went to pyarrow (odd lines are in ``odd``)."""
        return self.block.line(global_idx - self.base)


def iter_json_lines(
    data: bytes, schema: pa.Schema, odd_literals: tuple[bytes, ...] = (), repair: Repair | None = None
) -> Iterator[JsonBlock]:
    """Parse ``data`` block by block; every line ends up in exactly one table row or in ``odd``.

    Worker threads scan and parse blocks k+1 and k+2 (numpy and pyarrow release the GIL) while
    the caller converts block k, so the Python-side conversion overlaps the C work on two cores;
    blocks are still handed out in file order.
    """
    options = pajson.ParseOptions(explicit_schema=schema, unexpected_field_behavior="ignore")
    view = memoryview(data)
    ranges = _block_ranges(data)
    bases = [0]
    with ThreadPoolExecutor(max_workers=_WORKERS, thread_name_prefix="jsonl") as pool:

        def submit(k: int) -> Future:
            start, end = ranges[k]
            return pool.submit(_read_block, view[start:end], odd_literals, repair, options)

        pending = deque(submit(k) for k in range(min(_WORKERS, len(ranges))))
        for k in range(len(ranges)):
            block, tables, odd_lines = pending.popleft().result()
            if k + _WORKERS < len(ranges):
                pending.append(submit(k + _WORKERS))
            base = bases[-1]
            bases.append(base + block.n_lines)
            yield JsonBlock(
                [(idx + base, t) for idx, t in tables], [(i + base, raw) for i, raw in odd_lines], block, base
            )


def _read_block(
    data: memoryview, odd_literals: tuple[bytes, ...], repair: Repair | None, options: pajson.ParseOptions
) -> tuple[_Block, list[tuple[np.ndarray, pa.Table]], list[tuple[int, bytes]]]:
    """Classify, repair/blank and parse one block: (block, tables with local line indices, odd lines)."""
    block = _Block(bytearray(data))  # a private copy: odd lines are blanked in it
    bad, hits = _classify(block, odd_literals)
    for i in sorted(hits - bad):
        if repair is None or not _repair_in_place(block, i, repair):
            bad.add(i)
    odd = set(bad)
    odd_lines = [(i, block.line(i)) for i in sorted(odd)]
    for i in odd:  # odd lines become spaces: pyarrow skips whitespace-only lines
        a, b = int(block.starts[i]), int(block.ends[i])
        block.data[a:b] = b" " * (b - a)
    fast = np.setdiff1d(np.arange(block.n_lines), np.fromiter(odd, dtype=np.int64, count=len(odd)))
    tables = _parse_fast(block, fast, odd, options)
    extra = sorted(odd - bad)  # isolated by bisection (not blanked: their bytes are intact)
    if extra:
        odd_lines = sorted(odd_lines + [(i, block.line(i)) for i in extra])
    return block, tables, odd_lines


def _repair_in_place(block: _Block, i: int, repair: Repair) -> bool:
    """Rewrite line ``i`` with the caller's repair when it fits in the line's bytes (padded with
    spaces, which JSON ignores), so the line stays on the fast path and in file order."""
    original = block.line(i)
    fixed = repair(original)
    if fixed is None or len(fixed) > len(original) or b"\n" in fixed:
        return False
    a = int(block.starts[i])
    block.data[a : a + len(original)] = fixed + b" " * (len(original) - len(fixed))
    block.originals[i] = original
    return True


class _Block:
    """One ~8 MB slice of the input (a private copy) and the byte range of each of its lines."""

    def __init__(self, data: bytearray) -> None:
        self.data = data
        self.originals: dict[int, bytes] = {}  # lines repaired in place -> their input bytes
        arr = np.frombuffer(data, dtype=np.uint8)
        self.arr = arr
        self.newlines = np.flatnonzero(arr == 10)
        n = len(self.newlines) + (0 if data.endswith(b"\n") or not data else 1)
        self.n_lines = n
        self.starts = np.concatenate(([0], self.newlines + 1))[:n]
        self.ends = np.concatenate((self.newlines, [len(arr)]))[:n]

    def line(self, i: int) -> bytes:
        """The line as it was in the input (also for a line repaired in place)."""
        if i in self.originals:
            return self.originals[i]
        return bytes(self.data[int(self.starts[i]) : int(self.ends[i])])


def _block_ranges(data: bytes) -> list[tuple[int, int]]:
    """Byte ranges of ~BLOCK_BYTES ending on a newline (the last one may be unterminated)."""
    out = []
    start = 0
    while start < len(data):
        end = data.find(b"\n", min(start + BLOCK_BYTES, len(data)) - 1)
        end = len(data) if end < 0 else end + 1
        out.append((start, end))
        start = end
    return out


def _find_all(arr: np.ndarray, literal: bytes) -> np.ndarray:
    """Offsets of every occurrence of ``literal``: the bytes equal to its last byte (one numpy
    pass), narrowed by comparing the preceding bytes of those candidates only."""
    if not literal:
        return np.zeros(0, dtype=np.int64)
    cand = np.flatnonzero(arr == literal[-1])
    cand = cand[cand >= len(literal) - 1]
    for k in range(1, len(literal)):
        if len(cand) == 0:
            break
        cand = cand[arr[cand - k] == literal[-1 - k]]
    return cand - (len(literal) - 1)


def _classify(block: _Block, odd_literals: tuple[bytes, ...]) -> tuple[set[int], set[int]]:
    """Lines pyarrow must not see, and lines holding a caller literal (see the module docstring).

    A line is bad when it does not start with "{" or does not end with "}" (CR allowed), checked
    with numpy on the bytes around each newline.
    """
    if block.n_lines == 0:
        return set(), set()
    arr, starts, ends = block.arr, block.starts, block.ends
    nonempty = ends > starts
    first = arr[np.minimum(starts, len(arr) - 1)]
    last = arr[np.maximum(ends - 1, 0)]
    before_cr = arr[np.maximum(ends - 2, 0)]
    good_end = (last == _CLOSE) | ((last == _CR) & (before_cr == _CLOSE) & (ends - starts >= 2))
    bad = ~nonempty | (first != _OPEN) | ~good_end
    offsets = np.concatenate([_find_all(arr, literal) for literal in odd_literals] or [np.zeros(0, np.int64)])
    hits = np.searchsorted(block.newlines, offsets)
    return set(np.flatnonzero(bad).tolist()), set(hits.tolist())


def _parse_fast(
    block: _Block, idx: np.ndarray, odd: set[int], options: pajson.ParseOptions
) -> list[tuple[np.ndarray, pa.Table]]:
    """pyarrow on the lines ``idx``; a rejected range is bisected, tiny rejected ranges go to ``odd``."""
    if len(idx) == 0:
        return []
    lo, hi = int(block.starts[idx[0]]), int(block.ends[idx[-1]])
    try:
        table = pajson.read_json(
            pa.BufferReader(memoryview(block.data)[lo:hi]), read_options=_READ, parse_options=options
        )
        table.validate(full=True)  # pyarrow.json does not check UTF-8 inside strings; this does
        if table.num_rows == len(idx):
            return [(idx, table)]
    except pa.ArrowException:  # ArrowInvalid, or a wrapped UTF-8 error for invalid bytes in a string
        pass  # some line in this range is not what the schema says: narrow it down below
    if len(idx) <= _MIN_BISECT_LINES:
        odd.update(idx.tolist())
        return []
    mid = len(idx) // 2
    return _parse_fast(block, idx[:mid], odd, options) + _parse_fast(block, idx[mid:], odd, options)


def in_line_order(parts: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """One block's parts (fast ranges, stdlib rows) merged in file order (pointer copies only)."""
    if len(parts) == 1:
        return parts[0]
    merged = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
    order = np.argsort(merged["line_no"], kind="stable")
    return {k: v[order] for k, v in merged.items()}
