"""The servable model: an MLflow pyfunc around :class:`TrainedModel`.

It is what the registry holds, so ``mlflow models serve -m models:/log-anomaly-detector@champion
--env-manager local`` answers a frame of window features (numeric features + ``tpl__<id>`` template
count columns; missing template columns count 0) with score, is_anomaly and the top features.

The signature marks template columns, ``host`` and ``window_start`` OPTIONAL: MLflow drops every
column that is not in the signature before ``predict`` sees it. ``host`` selects the host's own
baselines (without it the pooled fleet ones are used, see lib/detect/model.py); ``window_start`` (UTC, ISO
strings in JSON) tells which windows are consecutive, which the sustained term needs (without it a
batch gets single-window scores, see lib/detect/scoring.py).

The model loads WITHOUT this repository: the pure package (``mlops_assets/lib``, which never imports
dagster) is logged as the model's ``code_paths``, so the pickled classes resolve from the artifact,
and the requirements are the exact versions installed when it was logged (:func:`pinned_requirements`).
A fresh ``pip install -r requirements.txt`` from the artifact is then enough for
``mlflow.pyfunc.load_model`` and ``mlflow models serve`` (tested in a new virtualenv).
"""

from __future__ import annotations

import importlib.metadata
import shutil
import tempfile
from pathlib import Path
from typing import Any

import mlflow.pyfunc
import pandas as pd
from mlflow.models import ModelSignature, infer_signature
from mlflow.types.schema import ColSpec, Schema

from mlops_assets.lib.detect.design_matrix import wide_frame
from mlops_assets.lib.detect.model import TrainedModel
from mlops_assets.lib.detect.scoring import score_wide

OUTPUT_COLUMNS = ("score", "is_anomaly", "top_features")
# What loading and serving the pickled model imports (measured: `import` of this module plus unpickling).
SERVING_DISTRIBUTIONS = (
    "mlflow",
    "numpy",
    "pandas",
    "scikit-learn",
    "scipy",
    "pyarrow",
    "cloudpickle",
    "joblib",
    "threadpoolctl",
)
PACKAGE = Path(__file__).resolve().parents[2]  # .../mlops_assets


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


def pinned_requirements() -> list[str]:
    """``dist==version`` of every distribution the served model imports, as installed now.

    Explicit rather than inferred: mlflow's inference shells out to `uv export`/imports (~20 s a run)
    and would list this repository's package, which a serving host does not have.
    """
    return [f"{d}=={importlib.metadata.version(d)}" for d in SERVING_DISTRIBUTIONS]


def package_subset(dest: Path) -> Path:
    """A copy of ``mlops_assets/__init__.py`` + ``mlops_assets/lib`` (pure: no dagster) under ``dest``."""
    root = dest / "mlops_assets"
    root.mkdir(parents=True)
    shutil.copy2(PACKAGE / "__init__.py", root / "__init__.py")
    shutil.copytree(PACKAGE / "lib", root / "lib", ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    return root


def log_pyfunc(model: TrainedModel, example: pd.DataFrame, registered_model_name: str | None = None) -> Any:
    """Log (and register) the self-contained pyfunc in the active MLflow run; returns mlflow's ModelInfo."""
    with tempfile.TemporaryDirectory(prefix="mlops-serving-") as tmp:
        return mlflow.pyfunc.log_model(
            name="model",
            python_model=AnomalyDetectorModel(model),
            input_example=example,
            signature=signature(model, example),
            registered_model_name=registered_model_name,
            code_paths=[str(package_subset(Path(tmp)))],
            pip_requirements=pinned_requirements(),
        )


def schema_differences(model: TrainedModel, input_names: list[str]) -> list[str]:
    """Serving signature vs training columns (``host`` and ``window_start`` are keys, not features)."""
    served = [c for c in input_names if c not in ("host", "window_start")]
    return [f"serving lacks {c}" for c in model.columns if c not in served] + [
        f"serving has extra {c}" for c in served if c not in model.columns
    ]
