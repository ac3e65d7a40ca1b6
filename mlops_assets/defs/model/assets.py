"""anomaly_model (train + own-history held-out evaluation + MLflow registration) and deployed_model.

The candidate is registered in MLflow but only becomes ``champion`` through deployed_model, which
runs after the blocking checks on anomaly_model (checks.py) and re-verifies their verdict itself.
"""

import json
import os
from typing import Any

import dagster as dg
import mlflow

from mlops_assets.defs.model.candidate import degrade, metrics_markdown
from mlops_assets.defs.model.heldout_data import heldout_from_storage, read_training, serving_check, split_of
from mlops_assets.defs.model.plots import inline_png, score_plot_png
from mlops_assets.defs.model.resources import ModelRegistryResource
from mlops_assets.defs.schema import column_schema
from mlops_assets.defs.tags import stage_tags
from mlops_assets.lib.detect.model import ModelParams, train
from mlops_assets.lib.detect.scoring import score
from mlops_assets.lib.evaluate.evaluate import evaluate_candidate
from mlops_assets.lib.evaluate.gates import gate_results
from mlops_assets.lib.evaluate.heldout import cold_start_reason, without_hosts, young_hosts
from mlops_assets.lib.features.registry import feature_registry_frame
from mlops_assets.lib.registry import aliases as registry
from mlops_assets.lib.registry.serving import log_pyfunc, serving_example, unwrap
from mlops_assets.lib.storage.partition_store import atomic_write_bytes, atomic_write_text, read_bytes
from mlops_assets.lib.templates.state import load_template_miner
from mlops_assets.resources import StorageResource

OWNERS = ["team:ml-platform"]
MODEL_KEY = dg.AssetKey("anomaly_model")


class TrainConfig(dg.Config):
    train_days: float = float(os.getenv("MLOPS_TRAIN_DAYS", "7"))
    holdout_days: float = float(os.getenv("MLOPS_HOLDOUT_DAYS", "1"))  # newest days, never trained on
    min_train_days: float = float(os.getenv("MLOPS_MIN_TRAIN_DAYS", "1"))  # cold start below this
    overlay_seed: int = int(os.getenv("MLOPS_OVERLAY_SEED", "1234"))
    overlay_per_kind: int = 0  # overlaid faults per kind; 0 = one per host
    top_k_templates: int = 40
    n_estimators: int = 100
    degrade: str = ""  # "" | "shuffle" | "threshold:<value>": a deliberately bad candidate (gate tests)


def evaluation_path(storage: StorageResource, version: str) -> str:
    return storage.path("model", "evaluations", f"v{version}.json")


def _cold_start(context, storage: StorageResource, reason: str, split) -> dg.MaterializeResult:
    mlflow.end_run()  # the resource opened a run; nothing is logged for a candidate that was not trained
    path = storage.path("model", "evaluations", "cold_start.json")
    atomic_write_text(path, json.dumps({"cold_start": reason, "history_days": split.history_days}, indent=1))
    context.log.warning(reason)
    return dg.MaterializeResult(
        metadata={
            "model_version": "none",
            "cold_start": reason,
            "evaluation_path": dg.MetadataValue.path(path),
            "history_days": dg.MetadataValue.json(split.history_days),
        }
    )


@dg.asset(
    key=MODEL_KEY,
    deps=["window_features", "log_templates"],
    group_name="model",
    kinds={"mlflow", "sklearn"},
    owners=OWNERS,
    description="IsolationForest window anomaly detector trained on the hosts' own history BEFORE the "
    "held-out newest days, judged on those days (faults overlaid on copies of their raw logs for recall, "
    "the unmodified days for false alarms, operator labels) against the champion or the health-rules "
    "baseline, tracked and registered in MLflow as `log-anomaly-detector` (pyfunc).",
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
    split = split_of(store, holdout_days=config.holdout_days, train_days=config.train_days)
    reason = cold_start_reason(split, min_train_days=config.min_train_days, holdout_days=config.holdout_days)
    if reason:
        return _cold_start(context, storage, reason, split)
    young = young_hosts(split, min_train_days=config.min_train_days, holdout_days=config.holdout_days)
    if young:  # trained and judged on the hosts with history; the young ones stay health-only
        context.log.warning(f"left out of training and gates (health rules only): {young}")
        split = without_hosts(split, set(young))
    keys = split.train_keys()
    features, counts = read_training(store, split)
    miner = load_template_miner(storage.root)
    params = ModelParams(top_k_templates=config.top_k_templates, n_estimators=config.n_estimators)
    model = train(features, counts, params)
    model.training["health_only_reasons"] = {**young, **model.training["health_only_reasons"]}
    model.training["health_only_hosts"] = sorted(model.training["health_only_reasons"])
    if config.degrade:
        model = degrade(model, features, counts, params, config.degrade)
    data, notes = heldout_from_storage(
        store, storage.root, split, miner, seed=config.overlay_seed, per_kind=config.overlay_per_kind or None
    )
    for note in notes:
        context.log.warning(note)
    champion_version = registry.alias_version(uri, registry.CHAMPION, model_registry.model_name)
    champ_model = (
        unwrap(registry.load_version(uri, champion_version, model_registry.model_name))
        if champion_version is not None
        else None
    )

    mlf = mlflow_tracking  # dagster-mlflow MlFlow: the active run of this Dagster run
    try:
        mlf.log_params(
            {
                **{k: v for k, v in model.training["params"].items()},
                "train_days": config.train_days,
                "holdout_days": config.holdout_days,
                "degrade": config.degrade or "none",
                "threshold": model.threshold,
                "n_columns": len(model.columns),
                **data.params,
            }
        )
        mlf.log_metrics(
            {"train_alarm_groups": model.training["alarm_groups"], "train_rows": model.training["rows"]}
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
        mlf.log_text(data.labels.to_csv(index=False), "overlay_labels.csv")
        mlf.set_tags({"template_state_version": miner.state_version, "data_range": f"{keys[0]}..{keys[-1]}"})
        mlflow.set_registry_uri(uri)  # process-global: never register into whatever store was set before
        example = serving_example(model, data.clean_features, data.clean_counts)
        info = log_pyfunc(model, example, registered_model_name=model_registry.model_name)
        diff, served_non_finite = serving_check(info.model_uri, store, split, miner)
        evaluation = evaluate_candidate(
            model,
            data,
            score,
            reference_model=champ_model,
            reference_version=champion_version,
            schema_diff=diff,
            serving_non_finite=served_non_finite,
        )
        metrics = {f"heldout_{k}": float(v) for k, v in evaluation["challenger"].items() if _number(v)}
        metrics |= {f"reference_{k}": float(v) for k, v in evaluation["reference"].items() if _number(v)}
        mlf.log_metrics(metrics)
        run = mlflow.active_run()
        run_id, experiment_id = run.info.run_id, run.info.experiment_id
    finally:
        mlflow.end_run()  # explicitly: the dagster-mlflow end hook is unreliable
    version = str(info.registered_model_version)
    client = registry.client(uri)
    for k, v in {
        "dagster_run_id": context.run_id,
        "data_range": f"{keys[0]}..{keys[-1]}",
        "holdout_range": data.params["holdout_range"],
        "code_version": os.getenv("MLOPS_CODE_VERSION", "dev"),
        "template_state_version": miner.state_version,
        "threshold": f"{model.threshold:.6f}",
    }.items():
        client.set_model_version_tag(model_registry.model_name, version, k, v)

    png_path = storage.path("model", "plots", f"v{version}_heldout_scores.png")
    png = score_plot_png(
        score(model, data.overlay_features, data.overlay_counts), model.threshold, data.labels
    )
    atomic_write_bytes(png_path, png)
    evaluation |= {
        "version": version,
        "run_id": run_id,
        "threshold": model.threshold,
        "training": model.training,
        "score_plot": png_path,
        "train_range": f"{keys[0]}..{keys[-1]}",
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
            "gate_data": "own-history",
            "train_range": f"{keys[0]}..{keys[-1]}",
            "holdout_range": data.params["holdout_range"],
            "score_plot": dg.MetadataValue.path(png_path),
            "score_over_time": inline_png(png, f"v{version} held-out scores"),
            "metrics": dg.MetadataValue.md(
                metrics_markdown(
                    evaluation["challenger"], evaluation["reference"], evaluation["reference_kind"]
                )
            ),
            "gates": dg.MetadataValue.json({k: bool(v["passed"]) for k, v in gates.items()}),
            "threshold": model.threshold,
            "training_rows": model.training["rows"],
            "dagster/row_count": model.training["rows"],
            "dagster/column_schema": column_schema(((c, "float64") for c in model.columns), "model"),
            "dropped_zero_variance": dg.MetadataValue.json(model.dropped),
            "template_state_version": miner.state_version,
            "health_only_hosts": dg.MetadataValue.json(model.training["health_only_reasons"]),
        }
    )


def _number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and v is not None


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
    ev = load_evaluation(eval_path)
    if "cold_start" in ev:
        current = registry.alias_version(
            model_registry.tracking_uri, registry.CHAMPION, model_registry.model_name
        )
        context.log.warning(f"no model promoted: {ev['cold_start']}")
        return dg.MaterializeResult(
            metadata={
                "champion": current or "none",
                "action": "none",
                "why_no_champion": ev["cold_start"] if current is None else "",
                "cold_start": ev["cold_start"],
                "alerting": "health rules only" if current is None else f"champion v{current}",
            }
        )
    gates = gate_results(ev)
    failed = sorted(k for k, v in gates.items() if not v["passed"])
    if failed:
        raise RuntimeError(
            f"v{version} failed gates {failed} (see {eval_path}); the champion alias was not moved"
        )
    move = registry.promote(model_registry.tracking_uri, version, model_registry.model_name)
    return dg.MaterializeResult(
        metadata={
            "champion": move.champion or "none",
            "previous": move.previous or "none",
            "action": move.action,
            "model_uri": f"models:/{model_registry.model_name}@{registry.CHAMPION}",
            "mlflow_run": registry.run_link(model_registry.tracking_uri, "", ev["run_id"]),
            "gate_data": ev.get("gate_data", "own-history"),
            "metrics": dg.MetadataValue.md(
                metrics_markdown(ev["challenger"], ev.get("reference"), ev.get("reference_kind", "reference"))
            ),
            "gates": dg.MetadataValue.json({k: bool(v["passed"]) for k, v in gates.items()}),
            "score_over_time": inline_png(read_bytes(ev["score_plot"]), f"v{version} held-out scores"),
            "health_only_hosts": dg.MetadataValue.json(ev["training"].get("health_only_reasons", {})),
        }
    )
