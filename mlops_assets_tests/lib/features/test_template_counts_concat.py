"""Template counts of several ranges concatenate without widening dtypes, and all-empty stays typed."""

import pandas as pd

from mlops_assets.lib.features.template_counts import concat_template_counts, empty_template_counts


def test_empty_parts_are_skipped_and_dtypes_kept() -> None:
    one = pd.DataFrame(
        {
            "host": pd.array(["h"], dtype="string"),
            "window_start": pd.to_datetime(["2026-11-01T00:00Z"], utc=True).astype("datetime64[ns, UTC]"),
            "template_id": pd.array(["t1"], dtype="string"),
            "count": pd.array([3], dtype="int64"),
        }
    )
    out = concat_template_counts([empty_template_counts(), one, empty_template_counts()])
    assert len(out) == 1 and out["count"].tolist() == [3]
    assert dict(out.dtypes) == dict(empty_template_counts().dtypes)


def test_all_empty_is_the_typed_empty_table() -> None:
    out = concat_template_counts([empty_template_counts(), empty_template_counts()])
    assert out.empty and list(out.columns) == ["host", "window_start", "template_id", "count"]
    assert str(out["window_start"].dtype) == "datetime64[ns, UTC]"
    assert concat_template_counts([]).empty
