"""drift_report: champion's training features vs the latest hours, and retraining when drift persists."""

import json
from datetime import UTC, datetime, timedelta

import dagster as dg
import pandas as pd

from mlops_assets.defs.jobs import train_and_deploy_job
from mlops_assets.defs.model.resources import ModelRegistryResource
from mlops_assets.defs.partitions import window_of
from mlops_assets.defs.tags import stage_tags
from mlops_assets.lib.monitor.drift import RetrainPolicy, append_history, compute_drift, score_shift
from mlops_assets.lib.registry import aliases as registry
from mlops_assets.lib.storage.partition_store import atomic_write_text, exists, read_bytes
from mlops_assets.resources import StorageResource

DRIFT_KEY = dg.AssetKey("drift_report")
HISTORY = ("drift", "history.json")


class DriftConfig(dg.Config):
    # A whole daily cycle: GPU load is diurnal, so a few night hours vs a full-day reference would
    # read as drift (measured on the demo: 6 h gave a 0.29 drift share with nothing changed).
    current_hours: int = 24
    share_threshold: float = 0.3  # dataset drift when at least this share of features drifted
    feature_threshold: float = 0.2  # normed Wasserstein / Jensen-Shannon distance per feature
    consecutive: int = 3  # K drifted evaluations in a row before retraining
    cooldown_hours: float = 12.0


def _keys_between(keys: list[str], first: str, last: str) -> list[str]:
    lo, hi = window_of(first)[0], window_of(last)[0]
    return [k for k in keys if lo <= window_of(k)[0] <= hi]


def champion_reference(store, uri: str, model_name: str) -> tuple[str, list[str]]:
    """(champion version, hour keys it was trained on) from the registry's data_range tag."""
    version = registry.alias_version(uri, registry.CHAMPION, model_name)
    if version is None:
        raise RuntimeError("no champion model yet: materialize anomaly_model and deployed_model first")
    tags = registry.client(uri).get_model_version(model_name, version).tags
    if "data_range" not in tags:
        raise RuntimeError(f"champion v{version} has no data_range tag: retrain it with this code version")
    first, last = tags["data_range"].split("..")
    keys = sorted({k for h in store.hosts("features") for k in store.keys("features", h)})
    return version, _keys_between(keys, first, last)


def last_training_time(instance: dg.DagsterInstance) -> datetime | None:
    event = instance.get_latest_materialization_event(dg.AssetKey("anomaly_model"))
    return datetime.fromtimestamp(event.timestamp, UTC) if event else None


@dg.asset(
    key=DRIFT_KEY,
    deps=["window_features", "anomaly_scores", "deployed_model"],
    group_name="monitor",
    kinds={"evidently", "html"},
    owners=["team:ml-platform"],
    description="Evidently DataDriftPreset: the champion's training features vs the latest hours, plus the "
    "anomaly-score distribution and rate. Recommends retraining when drift persists (K in a row, cooldown).",
    check_specs=[
        dg.AssetCheckSpec(
            "feature_drift",
            asset=DRIFT_KEY,
            description="Share of drifted features stays below the threshold (WARN).",
        )
    ],
    op_tags=stage_tags("monitor"),
)
def drift_report(
    context: dg.AssetExecutionContext,
    config: DriftConfig,
    storage: StorageResource,
    model_registry: ModelRegistryResource,
):
    store = storage.store()
    version, ref_keys = champion_reference(store, model_registry.tracking_uri, model_registry.model_name)
    all_keys = sorted({k for h in store.hosts("features") for k in store.keys("features", h)})
    cur_keys = all_keys[-config.current_hours :]
    reference = store.read_many("features", keys=ref_keys)
    current = store.read_many("features", keys=cur_keys)
    now = datetime.now(UTC)
    html_path = storage.path("reports", "drift", f"{now:%Y%m%dT%H%M%S}.html")
    summary = compute_drift(
        reference,
        current,
        share_threshold=config.share_threshold,
        feature_threshold=config.feature_threshold,
        html_path=html_path,
    )
    latest_path = storage.path("reports", "drift", "latest.html")
    atomic_write_text(latest_path, read_bytes(html_path).decode("utf-8"))

    scores_ref = store.read_many("scores", keys=ref_keys)
    scores_cur = store.read_many("scores", keys=cur_keys)
    shift = score_shift(
        scores_ref.get("score", pd.Series(dtype=float)), scores_cur.get("score", pd.Series(dtype=float))
    )
    anomaly_rate = float(scores_cur["is_anomaly"].mean()) if len(scores_cur) else float("nan")

    history_path = storage.path(*HISTORY)
    evaluation = {
        "at": now.isoformat(),
        "dataset_drift": summary.dataset_drift,
        "drift_share": summary.drift_share,
        "champion_version": version,
        "current": f"{cur_keys[0]}..{cur_keys[-1]}",
    }
    history_json = append_history(
        read_bytes(history_path).decode() if exists(history_path) else None, evaluation
    )
    atomic_write_text(history_path, history_json)
    policy = RetrainPolicy(config.consecutive, timedelta(hours=config.cooldown_hours))
    retrain, reason = policy.decide(json.loads(history_json), last_training_time(context.instance), now)

    per_feature = summary.per_feature.sort_values("value", ascending=False)
    yield dg.MaterializeResult(
        metadata={
            "drift_share": summary.drift_share,
            "dataset_drift": summary.dataset_drift,
            "drifted_features": dg.MetadataValue.json(summary.drifted),
            "per_feature": dg.MetadataValue.table(
                records=[
                    dg.TableRecord({k: (bool(v) if k == "drifted" else v) for k, v in r.items()})
                    for r in per_feature.to_dict(orient="records")
                ],
                schema=dg.TableSchema(
                    columns=[
                        dg.TableColumn("feature", "string"),
                        dg.TableColumn("method", "string"),
                        dg.TableColumn("value", "float"),
                        dg.TableColumn("threshold", "float"),
                        dg.TableColumn("drifted", "bool"),
                    ]
                ),
            ),
            "report": dg.MetadataValue.path(html_path),
            "report_latest": dg.MetadataValue.path(latest_path),
            "champion_version": version,
            "reference_rows": summary.reference_rows,
            "current_rows": summary.current_rows,
            "current_window": evaluation["current"],
            "anomaly_rate": anomaly_rate,
            **{k: float(v) for k, v in shift.items()},
            "retrain_recommended": retrain,
            "retrain_reason": reason,
            "evaluation_at": evaluation["at"],
        }
    )
    yield dg.AssetCheckResult(
        check_name="feature_drift",
        passed=not summary.dataset_drift,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={
            "drift_share": summary.drift_share,
            "threshold": config.share_threshold,
            "drifted_features": dg.MetadataValue.json(summary.drifted[:20]),
        },
    )


@dg.asset_sensor(
    asset_key=DRIFT_KEY,
    name="retrain_on_drift",
    default_status=dg.DefaultSensorStatus.RUNNING,
    job=train_and_deploy_job,
)
def retrain_on_drift(context: dg.SensorEvaluationContext, asset_event: dg.EventLogEntry):
    """Request training + gated deployment when a drift evaluation recommends it (once per evaluation)."""
    mat = asset_event.asset_materialization
    md = mat.metadata if mat else {}
    if not md.get("retrain_recommended") or not md["retrain_recommended"].value:
        reason = md["retrain_reason"].value if "retrain_reason" in md else "no recommendation"
        return dg.SkipReason(f"no retraining: {reason}")
    return dg.RunRequest(
        run_key=f"drift-retrain-{md['evaluation_at'].value}",
        tags={
            "mlops_assets/trigger": "drift",
            "mlops_assets/drift_reason": str(md["retrain_reason"].value)[:200],
        },
    )
