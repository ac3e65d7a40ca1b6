"""Masking of variable tokens, the first and cheapest step of template mining.

Every run of "token characters" that contains an ASCII digit or two slashes becomes ``<*>``: numbers,
hex ids, IPs, ports, UUIDs, timestamps, PCI addresses, versions, sizes with units, quoted ids, and file
paths / URL paths (``/var/lib/app/data.db``; one slash as in ``I/O`` or ``samples/s`` is a word).
Token characters are everything except whitespace and the separators ``= , ( ) [ ] { } " ' < > : ;``,
so ``uid=0`` keeps its key (``uid=<*>``) and ``12:01:01`` becomes ``<*>:<*>:<*>``. Masking first means
the clustering step only sees the few DISTINCT masked strings instead of every line (DESIGN.md §5).

The same pattern runs in two engines that agree byte for byte (tested): Python ``re`` for one message
and pyarrow's RE2 kernel for whole batches (one C++ pass, no per-line Python work). Classes are spelled
out in ASCII because ``\\s``/``\\d`` differ between the two engines on non-ASCII text. Large batches
are masked in slices on a small thread pool (RE2 releases the GIL); a row's result does not depend on
the slicing (tested).
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

WILDCARD = "<*>"
_TOKEN_CHAR = r"[^ \t\n\r\f\x0b=,()\[\]{}\"'<>:;]"
# A run starts at its first token character (leftmost match, greedy), so either branch masks it whole.
MASK_PATTERN = f"{_TOKEN_CHAR}*[0-9]{_TOKEN_CHAR}*|{_TOKEN_CHAR}*/{_TOKEN_CHAR}*/{_TOKEN_CHAR}*"
PARALLEL_MIN_ROWS = 200_000
_THREADS = max(1, min(4, os.cpu_count() or 1))
_MASK_RE = re.compile(MASK_PATTERN)


def mask_message(msg: str | None) -> str:
    """Mask one message (None, e.g. a journal entry without MESSAGE, masks to the empty string)."""
    return "" if msg is None else _MASK_RE.sub(WILDCARD, _to_text(msg))


def _as_string_array(messages: Sequence[object] | pd.Series | np.ndarray | pa.Array) -> pa.Array:
    """Arrow string array of ``messages``; nulls (None/NaN) become "", other non-str values str()."""
    if isinstance(messages, pa.ChunkedArray):
        messages = messages.combine_chunks()
    if isinstance(messages, pa.Array):
        arr = messages if pa.types.is_string(messages.type) else pc.cast(messages, pa.string())
    else:
        try:
            arr = pa.array(messages, type=pa.string(), from_pandas=True)
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            coerced = [
                None if m is None or (isinstance(m, float) and m != m) else _to_text(m) for m in messages
            ]
            arr = pa.array(coerced, type=pa.string())
    return pc.fill_null(arr, "") if arr.null_count else arr


def _to_text(value: object) -> str:
    if isinstance(value, bytes | bytearray):
        return bytes(value).decode("utf-8", errors="replace")
    return str(value)


def mask_array(
    messages: Sequence[object] | pd.Series | np.ndarray | pa.Array, *, min_rows: int = PARALLEL_MIN_ROWS
) -> pa.Array | pa.ChunkedArray:
    """Vectorised :func:`mask_message` over a batch (RE2 in C++, sliced over threads from ``min_rows``)."""
    arr = _as_string_array(messages)
    if _THREADS == 1 or len(arr) < max(min_rows, 2):
        return _mask(arr)
    step = -(-len(arr) // _THREADS)
    slices = [arr.slice(start, step) for start in range(0, len(arr), step)]
    with ThreadPoolExecutor(len(slices)) as pool:
        return pa.chunked_array(list(pool.map(_mask, slices)), type=pa.string())


def _mask(arr: pa.Array) -> pa.Array:
    return pc.replace_substring_regex(arr, pattern=MASK_PATTERN, replacement=WILDCARD)


def distinct_masked(
    messages: Sequence[object] | pd.Series | np.ndarray | pa.Array, *, min_rows: int = PARALLEL_MIN_ROWS
) -> tuple[list[str], np.ndarray]:
    """Distinct masked strings in first-appearance order and, per message, the index into them.

    First-appearance order makes clustering (and therefore template ids) deterministic for a given
    input order, in every process.
    """
    encoded = pc.dictionary_encode(mask_array(messages, min_rows=min_rows))
    if isinstance(encoded, pa.ChunkedArray):
        # chunks have their own dictionaries: unify them (first-appearance order is kept)
        encoded = encoded.unify_dictionaries()
        dictionary = encoded.chunk(0).dictionary if encoded.num_chunks else pa.array([], pa.string())
        chunks = [c.indices.to_numpy(zero_copy_only=False) for c in encoded.chunks]
        indices = np.concatenate(chunks).astype(np.int64, copy=False) if chunks else np.empty(0, np.int64)
        return dictionary.to_pylist(), indices
    indices = encoded.indices.to_numpy(zero_copy_only=False).astype(np.int64, copy=False)
    return encoded.dictionary.to_pylist(), indices
