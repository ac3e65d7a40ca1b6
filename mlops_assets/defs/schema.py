"""``dagster/column_schema`` with a description for every column (lib/contracts/descriptions.py)."""

from __future__ import annotations

from collections.abc import Iterable

import dagster as dg
import pandas as pd

from mlops_assets.lib.contracts.descriptions import describe
from mlops_assets.lib.features.registry import FEATURES


def _feature_docs() -> dict[str, str]:
    return {f.name: f"{f.description} ({f.unit}; from {f.source})" for f in FEATURES}


def table_schema(df: pd.DataFrame, table: str) -> dg.TableSchema:
    """The frame's columns and dtypes, each with the contract's description of that column."""
    return column_schema(((str(c), str(t)) for c, t in df.dtypes.items()), table)


def column_schema(columns: Iterable[tuple[str, str]], table: str) -> dg.TableSchema:
    """Columns given as (name, dtype); feature and template columns are described from the registry."""
    cols = list(columns)
    docs = describe(table, [c for c, _ in cols], _feature_docs() if table in ("features", "model") else None)
    return dg.TableSchema(columns=[dg.TableColumn(c, t, description=docs.get(c)) for c, t in cols])
