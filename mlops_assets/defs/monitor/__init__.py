"""Monitor domain: scoring with the champion, incidents (drift is merged in here too)."""

import dagster as dg

from mlops_assets.defs.monitor.drift import drift_report, retrain_on_drift
from mlops_assets.defs.monitor.incidents import incidents
from mlops_assets.defs.monitor.scoring import anomaly_scores

defs = dg.Definitions(assets=[anomaly_scores, incidents, drift_report], sensors=[retrain_on_drift])
