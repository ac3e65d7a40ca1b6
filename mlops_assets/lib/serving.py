"""The servable model: an MLflow pyfunc around :class:`TrainedModel`.

It is what the registry holds, so ``mlflow models serve -m models:/log-anomaly-detector@champion
--env-manager local`` answers a frame of window features (numeric features + ``tpl__<id>`` template
count columns; missing template columns count 0) with score, is_anomaly and the top features.
"""

from __future__ import annotations

from typing import Any

import mlflow.pyfunc
import pandas as pd

from mlops_assets.lib.model import TrainedModel, score_wide

OUTPUT_COLUMNS = ("score", "is_anomaly", "top_features")


class AnomalyDetectorModel(mlflow.pyfunc.PythonModel):
    """Pickled with the fitted pipeline, threshold, vocabulary and robust statistics."""

    def __init__(self, model: TrainedModel) -> None:
        self.model = model

    def predict(self, context: Any, model_input: pd.DataFrame, params: dict[str, Any] | None = None) -> pd.DataFrame:
        frame = model_input if isinstance(model_input, pd.DataFrame) else pd.DataFrame(model_input)
        missing = [c for c in self.model.columns if not c.startswith("tpl") and c not in frame.columns]
        if missing:
            raise ValueError(f"input lacks feature columns {missing[:10]}{'...' if len(missing) > 10 else ''}; "
                             "send the window features the model was trained on (see the model signature)")
        out = score_wide(self.model, frame, explain_all=True)
        return out[list(OUTPUT_COLUMNS)].astype({"score": "float64", "is_anomaly": "bool", "top_features": "str"})


def unwrap(pyfunc_model: Any) -> TrainedModel:
    """The TrainedModel inside a loaded pyfunc (``mlflow.pyfunc.load_model(...)``)."""
    inner = pyfunc_model.unwrap_python_model()
    if not isinstance(inner, AnomalyDetectorModel):
        raise TypeError(f"registered model is a {type(inner).__name__}, expected AnomalyDetectorModel")
    return inner.model
