"""Ingest domain: raw_* collection assets and the host discovery / new-data sensors."""

import dagster as dg

from mlops_assets.defs.ingest.assets import raw_logs
from mlops_assets.defs.ingest.sensors import ingest_sensors

defs = dg.Definitions(assets=[raw_logs], sensors=ingest_sensors)
