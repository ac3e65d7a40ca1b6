"""mlops_assets: a Dagster code location for anomaly detection on GPU-server logs."""
