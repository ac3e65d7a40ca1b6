"""Column-wise value conversion for nvidia-smi output (CSV strings or XML texts).

Vectorised with pyarrow.compute so 700k rows convert in well under a second: units are stripped
(``45 %``, ``1024 MiB``, ``250.00 W``, ``1410 MHz``), bracketed states (``[N/A]``,
``[Not Supported]``, ``[GPU is lost]``) and ``N/A`` become null, throttle bitmasks in hex become int.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from mlops_assets.lib.contracts.tables import GPU_SAMPLES

_NUMBER = r"^-?[0-9]+(\.[0-9]+)?$"
_UNIT_SUFFIX = r"\s*(%|MiB|MB|GiB|W|MHz|C|°C)$"
_PCI_RE = re.compile(r"(?:PCI:)?([0-9A-Fa-f]{4,8}):([0-9A-Fa-f]{2}):([0-9A-Fa-f]{2})(?:\.[0-9A-Fa-f])?")


def normalise_pci(text: str) -> str | None:
    """First PCI address in ``text`` as ``dddd:bb:dd`` lowercase (the form of kernel Xid lines).

    nvidia-smi prints ``00000000:3B:00.0``; NVRM prints ``PCI:0000:3b:00``: one form joins both.
    """
    m = _PCI_RE.search(text)
    if m is None:
        return None
    return f"{m.group(1)[-4:]}:{m.group(2)}:{m.group(3)}".lower()


def _clean(col: pa.ChunkedArray | pa.Array) -> pa.ChunkedArray | pa.Array:
    """Trim, strip a unit suffix, null out anything that is not a plain number."""
    s = pc.utf8_trim_whitespace(col)
    s = pc.replace_substring_regex(s, _UNIT_SUFFIX, "")
    ok = pc.match_substring_regex(s, _NUMBER)
    return pc.if_else(ok, s, pa.scalar(None, pa.string()))


def _count_unparseable(col: Any, cleaned: Any, notes: dict[str, Any]) -> None:
    """Values that were neither numbers nor a documented null marker are counted, never hidden."""
    trimmed = pc.utf8_trim_whitespace(col)
    marker = pc.or_(
        pc.match_substring_regex(trimmed, r"^\[.*\]$"), pc.match_substring_regex(trimmed, r"^(N/A|)$")
    )
    odd = pc.and_(pc.is_null(cleaned), pc.invert(pc.fill_null(marker, True)))
    n = pc.sum(pc.cast(pc.fill_null(odd, False), pa.int64())).as_py() or 0
    if n:
        notes["unparseable_values"] = notes.get("unparseable_values", 0) + n


def column_values(col_name: str, col: pa.ChunkedArray | pa.Array, notes: dict[str, Any]) -> pd.Series:
    """Convert one raw string column to its gpu_samples dtype (``ts`` handled by parse_timestamps)."""
    dtype = GPU_SAMPLES.get(col_name, "string")
    if col_name == "ts":
        return pd.Series(col.to_pylist(), dtype="string")
    if col_name == "throttle_reasons":
        return _hex_ints(col, notes)
    if dtype == "boolean":
        return _booleans(col, notes)
    if pa.types.is_floating(col.type):  # already converted by the CSV reader
        return numeric_series(col.to_numpy(zero_copy_only=False).astype(np.float64), dtype)
    if dtype == "string":
        if _is_dictionary(col):  # few distinct values: clean (and normalise) those only
            return _dictionary_strings(col, normalise_pci if col_name == "pci_bus" else None)
        s = pc.utf8_trim_whitespace(_plain(col))
        null = pc.or_(pc.match_substring_regex(s, r"^\[.*\]$"), pc.match_substring_regex(s, r"^(N/A|)$"))
        s = pc.if_else(null, pa.scalar(None, pa.string()), s)
        if col_name == "pci_bus":
            return pd.Series([normalise_pci(v) if v else None for v in s.to_pylist()], dtype="string")
        return pd.Series(s.to_pandas(), dtype="string")
    try:  # nounits output without null markers: one C cast, no regex
        values = pc.cast(pc.utf8_trim_whitespace(col), pa.float64()).to_numpy(zero_copy_only=False)
    except pa.ArrowInvalid:
        cleaned = _clean(col)
        _count_unparseable(col, cleaned, notes)
        values = pc.cast(cleaned, pa.float64()).to_numpy(zero_copy_only=False)
    return numeric_series(values, dtype)


def _is_dictionary(col: pa.ChunkedArray | pa.Array) -> bool:
    return pa.types.is_dictionary(col.type)


def _plain(col: Any) -> Any:
    """A dictionary-encoded column decoded back to plain strings (other columns unchanged)."""
    return pc.cast(col, pa.string()) if _is_dictionary(col) else col


def _clean_text(v: str | None) -> str | None:
    """nvidia-smi text value: trimmed; ``[N/A]``-style markers, ``N/A`` and empty -> None."""
    if v is None:
        return None
    v = v.strip()
    return None if v in ("", "N/A") or (v.startswith("[") and v.endswith("]")) else v


def _dictionary_strings(col: pa.ChunkedArray | pa.Array, post: Any = None) -> pd.Series:
    """Dictionary-encoded text column -> pandas ``string``; each distinct value is cleaned once
    (and passed through ``post``, e.g. PCI normalisation, when given)."""
    chunks = col.chunks if isinstance(col, pa.ChunkedArray) else [col]
    parts = []
    for chunk in chunks:
        cleaned = [_clean_text(v) for v in chunk.dictionary.to_pylist()]
        if post is not None:
            cleaned = [post(v) if v else None for v in cleaned]
        values = np.array(cleaned + [None], dtype=object)
        idx = chunk.indices.fill_null(len(values) - 1).to_numpy(zero_copy_only=False)
        parts.append(values[idx])
    obj = np.concatenate(parts) if parts else np.array([], dtype=object)
    return pd.Series(obj, dtype="string")


def numeric_series(values: np.ndarray, dtype: str) -> pd.Series:
    """float64 with NaN for null -> nullable ``dtype`` (non-integral values become null for Int*)."""
    mask = np.isnan(values)
    if dtype.startswith("Int"):
        mask |= values != np.floor(np.where(mask, 0.0, values))
        ints = np.where(mask, 0, values).astype(dtype.lower())
        return pd.Series(pd.arrays.IntegerArray(ints, mask))
    return pd.Series(pd.arrays.FloatingArray(values.astype(dtype.lower()), mask))


def _hex_ints(col: Any, notes: dict[str, Any]) -> pd.Series:
    """``0x0000000000000004`` (or decimal) -> Int64; few distinct values, so convert uniques only."""
    s = pc.utf8_trim_whitespace(_plain(col))
    encoded = (
        pc.dictionary_encode(s).combine_chunks()
        if isinstance(s, pa.ChunkedArray)
        else pc.dictionary_encode(s)
    )
    lookup: list[int | None] = []
    odd = 0
    for v in encoded.dictionary.to_pylist():
        try:
            lookup.append(int(v, 16) if v.lower().startswith("0x") else int(v))
        except (ValueError, AttributeError):
            lookup.append(None)
            odd += 0 if (v is None or v.startswith("[") or v in ("N/A", "")) else 1
    if odd:
        notes["unparseable_values"] = notes.get("unparseable_values", 0) + odd
    idx = encoded.indices.to_numpy(zero_copy_only=False)
    table = pd.array(lookup + [None], dtype="Int64")
    idx = np.where(pd.isna(idx), len(lookup), idx).astype(np.int64)
    return pd.Series(table[idx])


_TRUE = frozenset({"yes", "active", "true", "enabled", "1"})
_FALSE = frozenset({"no", "not active", "false", "disabled", "0"})


def _booleans(col: Any, notes: dict[str, Any]) -> pd.Series:
    """``Yes``/``No`` (remapped_rows.pending, retired_pages.pending) -> boolean; markers -> null."""
    s = pc.utf8_lower(pc.utf8_trim_whitespace(_plain(col)))
    encoded = (
        pc.dictionary_encode(s).combine_chunks()
        if isinstance(s, pa.ChunkedArray)
        else pc.dictionary_encode(s)
    )
    lookup: list[bool | None] = []
    odd = 0
    for v in encoded.dictionary.to_pylist():
        value = True if v in _TRUE else False if v in _FALSE else None
        lookup.append(value)
        odd += value is None and not (v is None or v.startswith("[") or v in ("n/a", ""))
    if odd:
        notes["unparseable_values"] = notes.get("unparseable_values", 0) + odd
    idx = encoded.indices.to_numpy(zero_copy_only=False)
    idx = np.where(pd.isna(idx), len(lookup), idx).astype(np.int64)
    return pd.Series(pd.array(lookup + [None], dtype="boolean")[idx])


NULL_MARKERS = [
    f"{pad}{m}"
    for m in ("[N/A]", "[Not Supported]", "N/A", "[Unknown Error]", "[GPU is lost]")
    for pad in ("", " ")
]


def read_csv_columns(
    buf: bytes | memoryview, mapping: dict[int, str], n_columns: int
) -> tuple[pa.Table, list[tuple[int, str]]]:
    """CSV read; rows with a wrong field count are returned as (1-based line, text).

    First try: numeric contract columns parsed by the CSV reader itself (nounits output, null
    markers as null) - no intermediate strings. Values with units make that fail; then every
    column is read as string and converted column-wise. Threaded reading numbers invalid rows as
    None, so a file with invalid rows is read again single-threaded to get their line numbers.
    """
    names = [f"c{i}" for i in range(n_columns)]
    numeric = {f"c{pos}" for pos, col in mapping.items() if GPU_SAMPLES.get(col, "string")[:1] in ("F", "I")}
    numeric -= {f"c{pos}" for pos, col in mapping.items() if col == "throttle_reasons"}
    text = pa.dictionary(pa.int32(), pa.string())  # ts, uuid, name, pstate, bitmask: few distinct values
    low_card = {f"c{pos}" for pos in mapping}
    typed = {n: pa.float64() if n in numeric else text if n in low_card else pa.string() for n in names}
    attempts = [(typed, True)] if numeric else []
    attempts.append(({n: pa.string() for n in names}, False))
    for types, typed in attempts:
        for threads in (True, False):
            bad: list[tuple[int, str]] = []

            def on_invalid(row: Any, bad: list[tuple[int, str]] = bad) -> str:
                bad.append((row.number, row.text))
                return "skip"

            try:
                table = pacsv.read_csv(
                    pa.BufferReader(buf),
                    read_options=pacsv.ReadOptions(
                        column_names=names, use_threads=threads, block_size=1 << 22
                    ),
                    parse_options=pacsv.ParseOptions(quote_char=False, invalid_row_handler=on_invalid),
                    convert_options=pacsv.ConvertOptions(
                        column_types=types,
                        include_columns=[
                            f"c{pos}" for pos in sorted(mapping)
                        ],  # unmapped fields are not read
                        null_values=NULL_MARKERS if typed else [],
                        strings_can_be_null=False,
                        quoted_strings_can_be_null=False,
                    ),
                )
            except pa.ArrowInvalid:
                if typed:
                    break  # units or odd values in a numeric column: read everything as strings
                raise
            if not bad:
                return table, bad
        else:
            return table, bad
    raise AssertionError("unreachable: the all-string read cannot fail on conversion")
