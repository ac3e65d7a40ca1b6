"""conform() gives every contract column, with the null of its dtype where the frame lacks it."""

from __future__ import annotations

import pandas as pd
import pytest

from mlops_assets.lib.contracts.tables import TABLES, conform, schema_mismatches


@pytest.mark.parametrize("name", sorted(TABLES))
def test_a_frame_with_one_column_conforms_to_every_contract(name: str) -> None:
    schema = TABLES[name]
    first = next(iter(schema))
    out = conform(pd.DataFrame({first: pd.Series([None, None])}), schema)
    assert schema_mismatches(out, schema) == []
    rest = out.drop(columns=[first])
    flags = [c for c, t in schema.items() if t == "bool" and c != first]
    assert len(out) == 2 and rest.drop(columns=flags).isna().all().all()
    assert not rest[flags].any().any()  # a plain bool flag cannot be null: missing means not set
