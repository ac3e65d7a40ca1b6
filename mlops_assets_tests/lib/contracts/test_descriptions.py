"""Every column of every contract table (and every window feature) has a description for the UI."""

from mlops_assets.defs.schema import column_schema
from mlops_assets.lib.contracts.descriptions import DESCRIPTIONS, describe
from mlops_assets.lib.contracts.tables import TABLES
from mlops_assets.lib.features.registry import FEATURE_NAMES


def test_every_contract_column_is_described() -> None:
    missing = {t: [c for c in cols if not DESCRIPTIONS.get(t, {}).get(c)] for t, cols in TABLES.items()}
    assert not {t: m for t, m in missing.items() if m}, missing


def test_feature_and_model_columns_are_described_from_the_registry() -> None:
    cols = [
        ("host", "string"),
        ("window_start", "datetime64[ns, UTC]"),
        *((f, "float64") for f in FEATURE_NAMES),
    ]
    schema = column_schema(cols, "features")
    assert all(c.description for c in schema.columns), [c.name for c in schema.columns if not c.description]
    model = column_schema(
        [("tpl__T1", "float64"), ("tpl_new", "float64"), ("gpu_temp_max", "float64")], "model"
    )
    assert [bool(c.description) for c in model.columns][:2] == [True, True]
    assert describe("scores", ["not_a_column"]) == {}
