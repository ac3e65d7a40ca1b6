"""anomaly_model (train + held-out evaluation + MLflow registration) and deployed_model (champion alias).

The candidate is registered in MLflow but only becomes ``champion`` through deployed_model, which
runs after the blocking checks on anomaly_model (checks.py) and re-verifies their verdict itself.
"""

import json
import os
from datetime import timedelta
from typing import Any

import dagster as dg
import mlflow
import numpy as np
import pandas as pd

from mlops_assets.defs.model.plots import inline_png, score_plot_png
from mlops_assets.defs.model.resources import ModelRegistryResource
from mlops_assets.defs.partitions import HOURLY_FMT, window_of
from mlops_assets.defs.schema import column_schema
from mlops_assets.defs.tags import stage_tags
from mlops_assets.lib.detect.model import ModelParams, train
from mlops_assets.lib.detect.scoring import score
from mlops_assets.lib.evaluate.detections import evaluate_detections, gate_results
from mlops_assets.lib.features.registry import feature_registry_frame
from mlops_assets.lib.registry import aliases as registry
from mlops_assets.lib.registry.serving import log_pyfunc, schema_differences, serving_example, unwrap
from mlops_assets.lib.storage.partition_store import atomic_write_bytes, atomic_write_text, read_bytes
from mlops_assets.lib.templates.state import load_template_miner
from mlops_assets.resources import StorageResource
from mlops_assets.simulate.heldout import simulate_heldout

OWNERS = ["team:ml-platform"]
MODEL_KEY = dg.AssetKey("anomaly_model")


class TrainConfig(dg.Config):
    train_days: float = float(os.getenv("MLOPS_TRAIN_DAYS", "7"))
    eval_seed: int = int(os.getenv("MLOPS_EVAL_SEED", "1234"))
    eval_hosts: int = 2
    eval_hours: int = 24
    eval_gpus: int = 8
    top_k_templates: int = 40
    n_estimators: int = 100


def training_keys(store, days: float) -> list[str]:
    """Hour keys of the last ``days`` days ending at the newest stored features partition."""
    keys = sorted({k for h in store.hosts("features") for k in store.keys("features", h)})
    if not keys:
        raise FileNotFoundError("no window_features partitions in storage: materialize window_features first")
    newest, _ = window_of(keys[-1])
    oldest = (newest - timedelta(days=days) + timedelta(hours=1)).strftime(HOURLY_FMT)
    return [k for k in keys if k >= oldest]


def metrics_markdown(challenger: dict, champion: dict | None) -> str:
    rows = ["| metric | challenger | champion |", "|---|---|---|"]
    for k in (
        "event_recall",
        "min_event_recall_by_fault",
        "false_alarms_per_host_day",
        "median_minutes_to_detect",
        "window_precision",
        "window_recall",
        "window_f1",
    ):
        c = champion.get(k) if champion else None
        fmt = lambda v: "-" if v is None else f"{v:.3f}"  # noqa: E731
        rows.append(f"| {k} | {fmt(challenger.get(k))} | {fmt(c)} |")
    return "\n".join(rows)


def evaluation_path(storage: StorageResource, version: str) -> str:
    return storage.path("model", "evaluations", f"v{version}.json")


@dg.asset(
    key=MODEL_KEY,
    deps=["window_features", "log_templates"],
    group_name="model",
    kinds={"mlflow", "sklearn"},
    owners=OWNERS,
    description="IsolationForest window anomaly detector trained on the last N days of all hosts' features, "
    "evaluated on a held-out labelled simulated period (different seed) against the champion, tracked "
    "and registered in MLflow as `log-anomaly-detector` (pyfunc).",
    op_tags=stage_tags("train"),
)
def anomaly_model(
    context: dg.AssetExecutionContext,
    config: TrainConfig,
    storage: StorageResource,
    model_registry: ModelRegistryResource,
    mlflow_tracking: dg.ResourceParam[Any],
) -> dg.MaterializeResult:
    store = storage.store()
    uri = model_registry.tracking_uri
    keys = training_keys(store, config.train_days)
    features = store.read_many("features", keys=keys)
    counts = store.read_many("template_counts", keys=keys)
    if counts.empty:
        counts = pd.DataFrame(
            {
                "host": pd.Series(dtype="string"),
                "window_start": pd.Series(dtype="datetime64[ns, UTC]"),
                "template_id": pd.Series(dtype="string"),
                "count": pd.Series(dtype="int64"),
            }
        )
    miner = load_template_miner(storage.root)
    params = ModelParams(top_k_templates=config.top_k_templates, n_estimators=config.n_estimators)
    model = train(features, counts, params)

    ev_f, ev_c, labels = simulate_heldout(
        miner, seed=config.eval_seed, hosts=config.eval_hosts, hours=config.eval_hours, gpus=config.eval_gpus
    )
    challenger_scores = score(model, ev_f, ev_c)
    challenger = evaluate_detections(challenger_scores, labels)
    champion_version = registry.alias_version(uri, registry.CHAMPION, model_registry.model_name)
    champion = None
    if champion_version is not None:
        champ_model = unwrap(registry.load_version(uri, champion_version, model_registry.model_name))
        champion = evaluate_detections(score(champ_model, ev_f, ev_c), labels)

    mlf = mlflow_tracking  # dagster-mlflow MlFlow: the active run of this Dagster run
    try:
        mlf.log_params(
            {
                **{k: v for k, v in model.training["params"].items()},
                "train_days": config.train_days,
                "eval_seed": config.eval_seed,
                "threshold": model.threshold,
                "n_columns": len(model.columns),
            }
        )
        mlf.log_metrics(
            {
                f"heldout_{k}": float(v)
                for k, v in challenger.items()
                if isinstance(v, int | float) and v is not None
            }
        )
        mlf.log_metrics(
            {"train_alarm_groups": model.training["alarm_groups"], "train_rows": model.training["rows"]}
        )
        if champion:
            mlf.log_metrics(
                {
                    f"champion_{k}": float(v)
                    for k, v in champion.items()
                    if isinstance(v, int | float) and v is not None
                }
            )
        mlf.log_dict(
            {
                "columns": model.columns,
                "dropped_zero_variance": model.dropped,
                "vocabulary": model.vocabulary,
            },
            "features.json",
        )
        mlf.log_text(feature_registry_frame().to_csv(index=False), "feature_registry.csv")
        mlf.log_text(miner.to_json(), "template_miner.json")
        mlf.set_tags({"template_state_version": miner.state_version, "data_range": f"{keys[0]}..{keys[-1]}"})
        mlflow.set_registry_uri(uri)  # process-global: never register into whatever store was set before
        example = serving_example(model, ev_f, ev_c)
        info = log_pyfunc(model, example, registered_model_name=model_registry.model_name)
        run = mlflow.active_run()
        run_id, experiment_id = run.info.run_id, run.info.experiment_id
    finally:
        mlflow.end_run()  # explicitly: the dagster-mlflow end hook is unreliable
    version = str(info.registered_model_version)
    client = registry.client(uri)
    for k, v in {
        "dagster_run_id": context.run_id,
        "data_range": f"{keys[0]}..{keys[-1]}",
        "code_version": os.getenv("MLOPS_CODE_VERSION", "dev"),
        "template_state_version": miner.state_version,
        "threshold": f"{model.threshold:.6f}",
    }.items():
        client.set_model_version_tag(model_registry.model_name, version, k, v)

    png_path = storage.path("model", "plots", f"v{version}_heldout_scores.png")
    png = score_plot_png(challenger_scores, model.threshold, labels)
    atomic_write_bytes(png_path, png)
    signature_cols = mlflow.models.get_model_info(info.model_uri).signature.inputs.input_names()
    diff = schema_differences(model, signature_cols)
    evaluation = {
        "version": version,
        "run_id": run_id,
        "challenger": {k: v for k, v in challenger.items() if k != "events"},
        "events": challenger["events"],
        "champion": {k: v for k, v in champion.items() if k != "events"} if champion else None,
        "champion_version": champion_version,
        "nan_scores": int(np.isnan(challenger_scores["score"]).sum()),
        "schema_diff": diff,
        "threshold": model.threshold,
        "training": model.training,
        "score_plot": png_path,
    }
    eval_path = evaluation_path(storage, version)
    atomic_write_text(eval_path, json.dumps(evaluation, default=str, indent=1))
    gates = gate_results(evaluation)
    return dg.MaterializeResult(
        metadata={
            "model_version": version,
            "mlflow_run": dg.MetadataValue.text(registry.run_link(uri, experiment_id, run_id)),
            "mlflow_tracking_uri": uri,
            "model_uri": f"models:/{model_registry.model_name}/{version}",
            "evaluation_path": dg.MetadataValue.path(eval_path),
            "score_plot": dg.MetadataValue.path(png_path),
            "score_over_time": inline_png(png, f"v{version} held-out scores"),
            "metrics": dg.MetadataValue.md(metrics_markdown(challenger, champion)),
            "gates": dg.MetadataValue.json({k: bool(v["passed"]) for k, v in gates.items()}),
            "threshold": model.threshold,
            "training_rows": model.training["rows"],
            "dagster/row_count": model.training["rows"],
            "dagster/column_schema": column_schema(((c, "float64") for c in model.columns), "model"),
            "dropped_zero_variance": dg.MetadataValue.json(model.dropped),
            "template_state_version": miner.state_version,
        }
    )


def latest_candidate(instance: dg.DagsterInstance) -> tuple[str, str]:
    """(version, evaluation path) of the latest anomaly_model materialization."""
    event = instance.get_latest_materialization_event(MODEL_KEY)
    if event is None or event.asset_materialization is None:
        raise RuntimeError("anomaly_model was never materialized: train a model first")
    md = event.asset_materialization.metadata
    return str(md["model_version"].value), str(md["evaluation_path"].value)


def load_evaluation(path: str) -> dict:
    return json.loads(read_bytes(path))


@dg.asset(
    key="deployed_model",
    deps=[MODEL_KEY],
    group_name="deploy",
    kinds={"mlflow"},
    owners=OWNERS,
    description="Moves the `champion` alias to the newest anomaly_model version when every blocking gate "
    "passed; the replaced champion stays reachable as alias `previous` (`mlops-assets rollback`).",
    op_tags=stage_tags("train"),
    automation_condition=dg.AutomationCondition.eager()
    & dg.AutomationCondition.all_deps_blocking_checks_passed(),
)
def deployed_model(
    context: dg.AssetExecutionContext, model_registry: ModelRegistryResource
) -> dg.MaterializeResult:
    version, eval_path = latest_candidate(context.instance)
    gates = gate_results(load_evaluation(eval_path))
    failed = sorted(k for k, v in gates.items() if not v["passed"])
    if failed:
        raise RuntimeError(
            f"v{version} failed gates {failed} (see {eval_path}); the champion alias was not moved"
        )
    move = registry.promote(model_registry.tracking_uri, version, model_registry.model_name)
    ev = load_evaluation(eval_path)
    return dg.MaterializeResult(
        metadata={
            "champion": move.champion or "none",
            "previous": move.previous or "none",
            "action": move.action,
            "model_uri": f"models:/{model_registry.model_name}@{registry.CHAMPION}",
            "mlflow_run": registry.run_link(model_registry.tracking_uri, "", ev["run_id"]),
            "metrics": dg.MetadataValue.md(metrics_markdown(ev["challenger"], ev.get("champion"))),
            "gates": dg.MetadataValue.json({k: bool(v["passed"]) for k, v in gates.items()}),
            "score_over_time": inline_png(read_bytes(ev["score_plot"]), f"v{version} held-out scores"),
        }
    )
