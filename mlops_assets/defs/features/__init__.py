"""Features domain: per-host window features and template counts."""

import dagster as dg

from mlops_assets.defs.features.assets import window_features

defs = dg.Definitions(assets=[window_features])
