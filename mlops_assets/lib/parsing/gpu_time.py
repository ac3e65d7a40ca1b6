"""nvidia-smi timestamps -> UTC, without per-row Python or per-row format guessing.

nvidia-smi prints ``2026/11/23 14:00:05.123`` (local time without zone, read as UTC); all GPUs of
a sample share one text, so each distinct text is parsed once (dictionary encoding). When every
value of a column has that exact layout and one length - the normal case - the digits are read
straight from the Arrow string buffer with numpy (a fixed-width matrix), the date converted with
the civil-calendar formula and checked against the month lengths. Any other column (ISO 8601,
mixed widths, garbage) takes the tolerant path: Arrow strptime, then pandas for the rest.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

_TS_FORMATS = ("%Y/%m/%d %H:%M:%S.%f", "%Y/%m/%d %H:%M:%S")
_NAT = np.iinfo(np.int64).min
_DIGIT_POS = (0, 1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17, 18)
_SEPARATORS = {4: "/", 7: "/", 10: " ", 13: ":", 16: ":"}
_MONTH_DAYS = np.array([0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31])


def parse_timestamps(col: pa.ChunkedArray | pa.Array) -> pd.Series:
    """nvidia-smi's ``2026/11/23 14:00:05.123`` (read as UTC) or ISO 8601 with/without zone -> UTC."""
    arr = col.combine_chunks() if isinstance(col, pa.ChunkedArray) else col
    # all GPUs of one sample share its timestamp: parse each distinct text once
    encoded = arr if pa.types.is_dictionary(arr.type) else pc.dictionary_encode(arr)
    distinct = encoded.dictionary
    values = _fixed_layout_ns(distinct)
    if values is None:
        values = _tolerant_ns(distinct)
    values = np.append(values, _NAT)  # slot for null texts
    idx = encoded.indices.fill_null(len(values) - 1).to_numpy(zero_copy_only=False)
    return pd.Series(pd.to_datetime(values[idx].view("datetime64[ns]"), utc=True))


def _fixed_layout_ns(arr: pa.Array) -> np.ndarray | None:
    """int64 ns (``_NAT`` for impossible dates) when every value is ``YYYY/MM/DD HH:MM:SS[.f+]``
    of one common length; None when the column is anything else."""
    n = len(arr)
    if n == 0 or arr.null_count or not pa.types.is_string(arr.type):
        return None
    offsets = np.frombuffer(arr.buffers()[1], dtype=np.int32)[arr.offset : arr.offset + n + 1]
    width = int(offsets[1] - offsets[0])
    if not (width == 19 or 21 <= width <= 29) or not np.all(np.diff(offsets) == width):
        return None
    raw = np.frombuffer(arr.buffers()[2], dtype=np.uint8)[offsets[0] : offsets[0] + n * width]
    m = raw.reshape(n, width)
    for pos, sep in _SEPARATORS.items():
        if not np.all(m[:, pos] == ord(sep)):
            return None
    frac_pos = list(range(20, width))
    if width > 19 and not np.all(m[:, 19] == ord(".")):
        return None
    digits = m[:, list(_DIGIT_POS) + frac_pos] - np.uint8(ord("0"))  # uint8: below "0" wraps above 9
    if digits.max() > 9:
        return None

    def num(a: int, b: int) -> np.ndarray:
        out = digits[:, a].astype(np.int64)
        for k in range(a + 1, b):
            out = out * 10 + digits[:, k]
        return out

    year, month, day = num(0, 4), num(4, 6), num(6, 8)
    hour, minute, sec = num(8, 10), num(10, 12), num(12, 14)
    frac = num(14, 14 + len(frac_pos)) * 10 ** (9 - len(frac_pos)) if frac_pos else np.zeros(n, np.int64)
    leap = ((year % 4 == 0) & (year % 100 != 0)) | (year % 400 == 0)
    month_ok = (month >= 1) & (month <= 12)
    days_in_month = _MONTH_DAYS[np.where(month_ok, month, 1)] + ((month == 2) & leap)
    valid = month_ok & (day >= 1) & (day <= days_in_month) & (hour < 24) & (minute < 60) & (sec < 60)
    y = year - (month <= 2)
    era = y // 400
    yoe = y - era * 400
    doy = (153 * (month + np.where(month > 2, -3, 9)) + 2) // 5 + day - 1
    days = era * 146097 + yoe * 365 + yoe // 4 - yoe // 100 + doy - 719468
    ns = ((days * 24 + hour) * 60 + minute) * 60 + sec
    ns = ns * 1_000_000_000 + frac
    return np.where(valid, ns, _NAT)


def _tolerant_ns(arr: pa.Array) -> np.ndarray:
    """Any layout: nvidia-smi's via Arrow strptime, the rest (ISO 8601, odd widths) via pandas."""
    trimmed = pc.utf8_trim_whitespace(arr)
    sec = pc.strptime(
        pc.utf8_slice_codeunits(trimmed, 0, 19), format="%Y/%m/%d %H:%M:%S", unit="s", error_is_null=True
    )
    rest = pc.utf8_slice_codeunits(trimmed, 19, 40)
    digits = pc.utf8_slice_codeunits(rest, 1, 40)
    frac_ok = pc.or_(
        pc.equal(rest, ""),
        pc.and_(
            pc.and_(pc.starts_with(rest, "."), pc.ascii_is_decimal(digits)),
            pc.less_equal(pc.utf8_length(digits), 9),
        ),
    )
    frac = pc.cast(pc.if_else(frac_ok, pc.utf8_rpad(digits, 9, "0"), None), pa.int64())
    ns = pc.add(pc.multiply(pc.cast(sec, pa.int64()), 1_000_000_000), frac)
    mask = pc.is_null(ns).to_numpy(zero_copy_only=False)
    values = pc.fill_null(ns, _NAT).to_numpy(zero_copy_only=False).copy()
    if mask.any():
        raw = pd.Series(trimmed.filter(pa.array(mask)).to_pandas(), dtype=object)
        slow = pd.to_datetime(raw, format=_TS_FORMATS[0], errors="coerce", utc=True)
        for fmt in (_TS_FORMATS[1], "ISO8601"):
            missing = slow.isna() & raw.notna()
            if not missing.any():
                break
            slow[missing] = pd.to_datetime(raw[missing], format=fmt, errors="coerce", utc=True)
        values[mask] = slow.astype("datetime64[ns, UTC]").array.asi8
    return values
