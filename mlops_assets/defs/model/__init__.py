"""Model domain: training + own-history evaluation in MLflow, blocking gates, champion deployment,
and the operator-label job."""

import dagster as dg

from mlops_assets.defs.model.assets import anomaly_model, deployed_model
from mlops_assets.defs.model.checks import model_checks
from mlops_assets.defs.model.labels import label_job
from mlops_assets.defs.model.resources import mlflow_resources

__all__ = ["anomaly_model", "defs", "deployed_model", "label_job", "model_checks"]

defs = dg.Definitions(
    assets=[anomaly_model, deployed_model],
    asset_checks=model_checks,
    jobs=[label_job],
    resources=mlflow_resources(),
)
