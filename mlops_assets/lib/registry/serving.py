"""The servable model: an MLflow pyfunc around :class:`TrainedModel`.

It is what the registry holds, so ``mlflow models serve -m models:/log-anomaly-detector@champion
--env-manager local`` answers a frame of window features (numeric features + ``tpl__<id>`` template
count columns; missing template columns count 0) with score, is_anomaly and the top features.

The signature marks template columns, ``host`` and ``window_start`` OPTIONAL: MLflow drops every
column that is not in the signature before ``predict`` sees it. ``host`` selects the host's own
baselines (without it the pooled fleet ones are used, see lib/detect/model.py); ``window_start`` (UTC, ISO
strings in JSON) tells which windows are consecutive, which the sustained term needs (without it a
batch gets single-window scores, see lib/detect/scoring.py).
"""

from __future__ import annotations

from typing import Any

import mlflow.pyfunc
import pandas as pd
from mlflow.models import ModelSignature, infer_signature
from mlflow.types.schema import ColSpec, Schema

from mlops_assets.lib.detect.design_matrix import wide_frame
from mlops_assets.lib.detect.model import TrainedModel
from mlops_assets.lib.detect.scoring import score_wide

OUTPUT_COLUMNS = ("score", "is_anomaly", "top_features")


class AnomalyDetectorModel(mlflow.pyfunc.PythonModel):
    """Pickled with the fitted pipeline, threshold, vocabulary and robust statistics."""

    def __init__(self, model: TrainedModel) -> None:
        self.model = model

    def predict(
        self, context: Any, model_input: pd.DataFrame, params: dict[str, Any] | None = None
    ) -> pd.DataFrame:
        frame = model_input if isinstance(model_input, pd.DataFrame) else pd.DataFrame(model_input)
        missing = [c for c in self.model.columns if not c.startswith("tpl") and c not in frame.columns]
        if missing:
            raise ValueError(
                f"input lacks feature columns {missing[:10]}{'...' if len(missing) > 10 else ''}; "
                "send the window features the model was trained on (see the model signature)"
            )
        out = score_wide(self.model, frame, explain_all=True)
        return out[list(OUTPUT_COLUMNS)].astype(
            {"score": "float64", "is_anomaly": "bool", "top_features": "str"}
        )


def unwrap(pyfunc_model: Any) -> TrainedModel:
    """The TrainedModel inside a loaded pyfunc (``mlflow.pyfunc.load_model(...)``)."""
    inner = pyfunc_model.unwrap_python_model()
    if not isinstance(inner, AnomalyDetectorModel):
        raise TypeError(f"registered model is a {type(inner).__name__}, expected AnomalyDetectorModel")
    return inner.model


def serving_example(
    model: TrainedModel, features: pd.DataFrame, template_counts: pd.DataFrame, rows: int = 5
) -> pd.DataFrame:
    """``host``, ``window_start`` (naive UTC) + the model's columns of the first ``rows`` windows."""
    wide = wide_frame(features.head(rows), template_counts, model.vocabulary)
    example = wide[["host", "window_start", *model.columns]].astype({"host": "str"})
    example["window_start"] = pd.to_datetime(example["window_start"], utc=True).dt.tz_localize(None)
    return example


def signature(model: TrainedModel, example: pd.DataFrame) -> ModelSignature:
    """Inputs: numeric features required; template columns, host, window_start optional."""
    inputs = [ColSpec("string", "host", required=False), ColSpec("datetime", "window_start", required=False)]
    inputs += [ColSpec("double", c, required=not c.startswith("tpl")) for c in model.columns]
    outputs = infer_signature(example, AnomalyDetectorModel(model).predict(None, example)).outputs
    return ModelSignature(inputs=Schema(inputs), outputs=outputs)


def log_pyfunc(model: TrainedModel, example: pd.DataFrame, registered_model_name: str | None = None) -> Any:
    """Log (and register) the pyfunc in the active MLflow run; returns mlflow's ModelInfo."""
    return mlflow.pyfunc.log_model(
        name="model",
        python_model=AnomalyDetectorModel(model),
        input_example=example,
        signature=signature(model, example),
        registered_model_name=registered_model_name,
        # explicit: requirement inference shells out to `uv export`/imports and costs ~20 s per run
        pip_requirements=[f"mlflow=={mlflow.__version__}", "scikit-learn", "pandas", "numpy"],
    )


def schema_differences(model: TrainedModel, input_names: list[str]) -> list[str]:
    """Serving signature vs training columns (``host`` and ``window_start`` are keys, not features)."""
    served = [c for c in input_names if c not in ("host", "window_start")]
    return [f"serving lacks {c}" for c in model.columns if c not in served] + [
        f"serving has extra {c}" for c in served if c not in model.columns
    ]
