"""pyarrow -> pandas conversions that keep the contract dtypes without per-row Python work.

Low-cardinality string columns (unit, identifier, boot id, stream) are dictionary-encoded first so
that a million rows share a few hundred Python string objects instead of creating a million.
Integer columns stay in Arrow (int64 + validity) until the single conversion at the end.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc


def objects(col: pa.ChunkedArray | pa.Array, low_cardinality: bool = False) -> np.ndarray:
    """Arrow string (or dictionary<string>) column -> object array of ``str`` with ``pd.NA`` for null.

    ``low_cardinality`` dictionary-encodes first, so repeated values share one Python object.
    """
    chunks = col.chunks if isinstance(col, pa.ChunkedArray) else [col]
    parts = []
    for chunk in chunks:
        if pa.types.is_dictionary(chunk.type) or low_cardinality:
            encoded = chunk if pa.types.is_dictionary(chunk.type) else pc.dictionary_encode(chunk)
            values = np.array(encoded.dictionary.to_pylist() + [pd.NA], dtype=object)
            idx = encoded.indices.fill_null(len(values) - 1).to_numpy(zero_copy_only=False)
            parts.append(values[idx])
        else:
            obj = chunk.to_numpy(zero_copy_only=False)
            if chunk.null_count:
                obj = np.where(pc.is_null(chunk).to_numpy(zero_copy_only=False), pd.NA, obj)
            parts.append(obj.astype(object, copy=False))
    if not parts:
        return np.array([], dtype=object)
    return parts[0] if len(parts) == 1 else np.concatenate(parts)


def strings(col: pa.ChunkedArray | pa.Array, low_cardinality: bool = False) -> pd.Series:
    """Arrow string (or dictionary<string>) column -> pandas ``string`` (python storage, the contract)."""
    return string_series(objects(col, low_cardinality))


def string_series(obj: np.ndarray) -> pd.Series:
    """Object array of ``str``/``pd.NA`` -> pandas ``string`` series (no copy of the objects)."""
    if len(obj) == 0:
        return pd.Series([], dtype="string")
    return pd.Series(pd.arrays.StringArray(obj), copy=False)


def constant_strings(value: str | None, n: int) -> pd.Series:
    """``n`` times ``value`` (None -> NA) as a pandas ``string`` series, one shared object, no scan."""
    one = pd.arrays.StringArray(np.array([pd.NA if value is None else value], dtype=object))
    return pd.Series(one.take(np.zeros(n, dtype=np.intp)), copy=False)


def int_array(col: pa.ChunkedArray | pa.Array, lo: int | None = None, hi: int | None = None) -> pa.Array:
    """Arrow string/number column -> int64 array; non-numeric or out-of-range values -> null."""
    if isinstance(col, pa.ChunkedArray):
        col = col.combine_chunks()
    if pa.types.is_string(col.type) or pa.types.is_large_string(col.type):
        try:  # the normal case: every value is a plain integer - one C cast, no regex
            col = pc.cast(col, pa.int64())
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            trimmed = pc.utf8_trim_whitespace(col)
            ok = pc.match_substring_regex(trimmed, r"^-?[0-9]{1,18}$")
            col = pc.cast(pc.if_else(ok, trimmed, pa.scalar(None, pa.string())), pa.int64())
    col = pc.cast(col, pa.int64())
    out_of_range = None
    if lo is not None:
        out_of_range = pc.less(col, lo)
    if hi is not None:
        above = pc.greater(col, hi)
        out_of_range = above if out_of_range is None else pc.or_(out_of_range, above)
    if out_of_range is not None and pc.any(out_of_range).as_py():
        col = pc.if_else(out_of_range, pa.scalar(None, pa.int64()), col)
    return col


def int_values(col: pa.ChunkedArray | pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """Arrow integer column (nulls allowed) -> (int64 values with 0 for null, null mask)."""
    mask = pc.is_null(col).to_numpy(zero_copy_only=False)
    values = pc.fill_null(col, 0).to_numpy(zero_copy_only=False)
    return np.asarray(values, dtype=np.int64), np.asarray(mask, dtype=bool)


def nullable_ints(col: pa.ChunkedArray | pa.Array | tuple[np.ndarray, np.ndarray], dtype: str) -> pd.Series:
    """Arrow integer column, or (values, mask), -> pandas nullable ``dtype`` (``Int8`` … ``Int64``)."""
    values, mask = col if isinstance(col, tuple) else int_values(col)
    return pd.Series(pd.arrays.IntegerArray(values.astype(dtype.lower(), copy=False), mask), copy=False)


def ints(
    col: pa.ChunkedArray | pa.Array, dtype: str, lo: int | None = None, hi: int | None = None
) -> pd.Series:
    """Arrow string/number column -> nullable integer; non-numeric or out-of-range values -> null."""
    return nullable_ints(int_array(col, lo, hi), dtype)
