"""Parse domain: parsed_* assets with quality checks, and the log template miner."""

import dagster as dg

from mlops_assets.defs.parse.assets import parse_assets
from mlops_assets.defs.parse.templates import log_templates

defs = dg.Definitions(assets=[*parse_assets, log_templates])
