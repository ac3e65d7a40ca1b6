"""pyarrow -> pandas conversions that keep the contract dtypes without per-row Python work.

Low-cardinality string columns (unit, identifier, boot id, stream) are dictionary-encoded first so
that a million rows share a few hundred Python string objects instead of creating a million.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc


def strings(col: pa.ChunkedArray | pa.Array, low_cardinality: bool = False) -> pd.Series:
    """Arrow string column -> pandas ``string`` (python storage, the contract's dtype)."""
    if isinstance(col, pa.ChunkedArray):
        col = col.combine_chunks() if col.num_chunks != 1 else col.chunk(0)
    if len(col) == 0:
        return pd.Series([], dtype="string")
    if low_cardinality:
        encoded = pc.dictionary_encode(col)
        values = np.array(encoded.dictionary.to_pylist() + [None], dtype=object)
        idx = encoded.indices.fill_null(len(values) - 1).to_numpy(zero_copy_only=False)
        obj = values[idx]
    else:
        obj = col.to_numpy(zero_copy_only=False)
    obj = np.where(pd.isna(obj), pd.NA, obj) if col.null_count else obj
    return pd.Series(pd.arrays.StringArray(obj.astype(object)))


def ints(
    col: pa.ChunkedArray | pa.Array, dtype: str, lo: int | None = None, hi: int | None = None
) -> pd.Series:
    """Arrow string/number column -> nullable integer; non-numeric or out-of-range values -> null."""
    if pa.types.is_string(col.type) or pa.types.is_large_string(col.type):
        try:  # the normal case: every value is a plain integer - one C cast, no regex
            col = pc.cast(col, pa.int64())
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            trimmed = pc.utf8_trim_whitespace(col)
            ok = pc.match_substring_regex(trimmed, r"^-?[0-9]{1,18}$")
            col = pc.cast(pc.if_else(ok, trimmed, pa.scalar(None, pa.string())), pa.int64())
    values = pc.cast(col, pa.int64()).to_numpy(zero_copy_only=False)
    values = np.asarray(values, dtype=np.float64)
    mask = np.isnan(values)
    if lo is not None:
        mask |= values < lo
    if hi is not None:
        mask |= values > hi
    out = np.where(mask, 0, values).astype(dtype.lower())
    return pd.Series(pd.arrays.IntegerArray(out, mask))
