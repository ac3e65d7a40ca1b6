"""nvidia-smi timestamps: the fixed-width numpy path agrees with pandas and rejects impossible dates."""

from __future__ import annotations

import pandas as pd
import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from mlops_assets.lib.parsing.gpu_time import parse_timestamps

FMT = "%Y/%m/%d %H:%M:%S"


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.datetimes(
            min_value=pd.Timestamp("1970-01-02").to_pydatetime(),
            max_value=pd.Timestamp("2200-01-01").to_pydatetime(),
        ),
        min_size=1,
        max_size=20,
    ),
    st.sampled_from([0, 3, 6, 9]),
)
def test_fixed_width_path_matches_pandas(stamps: list, digits: int) -> None:
    texts = [
        pd.Timestamp(s).strftime(FMT)
        + (
            f".{pd.Timestamp(s).nanosecond + pd.Timestamp(s).microsecond * 1000:09d}"[: digits + 1]
            if digits
            else ""
        )
        for s in stamps
    ]
    # the same instants read by pandas from the ISO spelling
    expected = pd.to_datetime(pd.Series([t.replace("/", "-") for t in texts]), format="ISO8601", utc=True)
    assert parse_timestamps(pa.array(texts)).tolist() == expected.tolist()


def test_impossible_dates_are_nat_and_other_layouts_use_the_tolerant_path() -> None:
    got = parse_timestamps(
        pa.array(["2024/02/29 23:59:59.999", "2023/02/29 00:00:00.000", "2026/13/01 00:00:00.000"])
    )
    assert got.iloc[0] == pd.Timestamp("2024-02-29 23:59:59.999", tz="UTC")
    assert got.iloc[1:].isna().all()
    mixed = parse_timestamps(pa.array(["2026/11/23 14:00:05", "2026-11-23T15:00:05+01:00", None, "garbage"]))
    assert mixed.iloc[0] == mixed.iloc[1] == pd.Timestamp("2026-11-23 14:00:05", tz="UTC")
    assert mixed.iloc[2:].isna().all()
