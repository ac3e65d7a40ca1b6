"""Health domain: deterministic GPU/host health events per host-hour (no model involved)."""

import dagster as dg

from mlops_assets.defs.health.assets import health_events

defs = dg.Definitions(assets=[health_events])
