"""MLflow resources: dagster-mlflow's tracking resource (experiment created with an explicit
artifact location first, so nothing lands in ./mlruns) and a registry resource for alias moves."""

import dagster as dg
from dagster_mlflow.resources import CONFIG_SCHEMA, MlFlow

from mlops_assets.environment import settings
from mlops_assets.lib.registry.aliases import MODEL_NAME, ensure_experiment

EXPERIMENT = "log-anomaly-detector"


class ModelRegistryResource(dg.ConfigurableResource):
    """Where the registry lives and which registered model the pipeline deploys and scores with."""

    tracking_uri: str
    artifact_root: str
    model_name: str = MODEL_NAME
    experiment: str = EXPERIMENT


@dg.resource(config_schema={**CONFIG_SCHEMA, "artifact_root": dg.Field(dg.StringSource)})
def mlflow_tracking_with_artifacts(context: dg.InitResourceContext):
    """dagster-mlflow's ``mlflow_tracking`` after creating the experiment at ``artifact_root``.

    The run it starts must be ENDED by the asset (``mlflow.end_run()``): the
    ``end_mlflow_on_run_finished`` hook is unreliable (dagster #21872).
    """
    cfg = context.resource_config
    if not cfg.get("mlflow_tracking_uri"):
        raise ValueError("mlflow resource needs mlflow_tracking_uri (MLFLOW_TRACKING_URI)")
    ensure_experiment(cfg["mlflow_tracking_uri"], cfg["experiment_name"], cfg["artifact_root"])
    mlf = MlFlow(context)
    yield mlf
    mlf.cleanup_on_error()


def mlflow_resources(tracking_uri: str | None = None, artifact_root: str | None = None) -> dict:
    s = settings()
    uri, root = tracking_uri or s.mlflow_tracking_uri, artifact_root or s.mlflow_artifact_root
    return {
        "mlflow_tracking": mlflow_tracking_with_artifacts.configured(
            {"experiment_name": EXPERIMENT, "mlflow_tracking_uri": uri, "artifact_root": root}
        ),
        "model_registry": ModelRegistryResource(tracking_uri=uri, artifact_root=root),
    }
