"""anomaly_scores: score one host-hour with the champion and keep the evidence behind each alarm."""

import json
from collections.abc import Iterator
from datetime import timedelta

import dagster as dg
import pandas as pd

from mlops_assets.defs.fan_out import fan_out
from mlops_assets.defs.model.resources import ModelRegistryResource
from mlops_assets.defs.partitions import (
    FLEET_BACKFILL,
    HOURLY_FMT,
    fail_range_step,
    host_hour_partitions,
    host_hours,
    light_range_results,
    window_of,
)
from mlops_assets.defs.schema import table_schema
from mlops_assets.defs.tags import stage_tags
from mlops_assets.lib.contracts.tables import SCORES, conform
from mlops_assets.lib.detect.model import TrainedModel
from mlops_assets.lib.detect.scoring import score
from mlops_assets.lib.registry import aliases as registry
from mlops_assets.lib.registry.serving import unwrap
from mlops_assets.lib.storage.partition_store import PartitionStore, exists
from mlops_assets.lib.templates.state import load_template_miner
from mlops_assets.lib.triage.redact import cut_raw
from mlops_assets.resources import StorageResource

EVIDENCE_TABLE = "score_evidence"
MAX_LINES = 5
_CACHE: dict[tuple[str, str], TrainedModel] = {}


def champion(reg: ModelRegistryResource) -> tuple[TrainedModel, str]:
    """The champion model (cached per process by version); raises when nothing was deployed yet."""
    version = registry.alias_version(reg.tracking_uri, registry.CHAMPION, reg.model_name)
    if version is None:
        raise RuntimeError(
            f"no {reg.model_name}@champion in {reg.tracking_uri}: materialize anomaly_model + deployed_model"
        )
    key = (reg.tracking_uri, version)
    if key not in _CACHE:
        _CACHE[key] = unwrap(registry.load_version(reg.tracking_uri, version, reg.model_name))
    return _CACHE[key], version


def _lines_in(df: pd.DataFrame, start: pd.Timestamp, end: pd.Timestamp, mask: pd.Series) -> list[str]:
    sel = df[(df["ts"] >= start) & (df["ts"] < end) & mask]
    # cut_raw drops the word cut at 300 chars: half a secret no longer matches a redaction rule
    return [cut_raw(m, 300) for m in sel["message"].astype("string").fillna("").tolist()]


def evidence(
    windows: pd.DataFrame, counts: pd.DataFrame, tables: dict[str, pd.DataFrame], miner, window: str = "1min"
) -> pd.DataFrame:
    """Per anomalous window: templates (top by count) and sample log lines (kernel, journal <= warning, errors)."""
    rows = []
    width = pd.Timedelta(window)
    for w in windows.itertuples(index=False):
        start = pd.Timestamp(w.window_start)
        c = (
            counts[counts["window_start"] == start].sort_values("count", ascending=False).head(5)
            if len(counts)
            else counts
        )
        templates = [
            {
                "template_id": None if pd.isna(t) else str(t),
                "template": (miner.template_of(str(t)) if not pd.isna(t) else "<new: no known template>"),
                "count": int(n),
            }
            for t, n in zip(c.get("template_id", []), c.get("count", []), strict=False)
        ]
        k, j, d = tables["kernel_events"], tables["journal_entries"], tables["docker_lines"]
        lines = (
            _lines_in(k, start, start + width, pd.Series(True, index=k.index))
            + _lines_in(j, start, start + width, pd.to_numeric(j["priority"], errors="coerce").fillna(6) <= 4)
            + _lines_in(
                d,
                start,
                start + width,
                d["level"].isin(["error", "critical", "warning"]) | (d["stream"] == "stderr"),
            )
        )
        rows.append(
            {
                "host": w.host,
                "window_start": start,
                "templates": json.dumps(templates),
                "sample_lines": json.dumps(lines[:MAX_LINES]),
            }
        )
    return pd.DataFrame(rows, columns=["host", "window_start", "templates", "sample_lines"])


def previous_hour(store: PartitionStore, host: str, hour: str) -> tuple[pd.DataFrame, pd.DataFrame] | None:
    """The host's previous hour of features and template counts, when materialized (else None).

    Context only: the sustained term of the first windows of an hour averages over the end of the
    previous hour, so scoring hour by hour gives the scores of scoring the day at once.
    """
    start, _ = window_of(hour)
    prev = (start - timedelta(hours=1)).strftime(HOURLY_FMT)
    if not (exists(store.path("features", host, prev)) and exists(store.path("template_counts", host, prev))):
        return None
    return store.read("features", host, prev), store.read("template_counts", host, prev)


def score_host_hour(
    store: PartitionStore, storage: StorageResource, model: TrainedModel, version: str, host: str, hour: str
) -> dict[str, object]:
    """Scores + evidence of one host-hour with the champion, written to storage; returns its metadata."""
    for table in ("features", "template_counts"):
        if not exists(store.path(table, host, hour)):
            raise FileNotFoundError(f"{table} for {host} {hour} missing: materialize window_features first")
    feats, counts = store.read("features", host, hour), store.read("template_counts", host, hour)
    prev = previous_hour(store, host, hour)
    context_rows = 0 if prev is None else len(prev[0])
    if prev is not None:
        feats_in = pd.concat([prev[0], feats], ignore_index=True)
        counts_in = pd.concat([c for c in (prev[1], counts) if len(c)] or [counts], ignore_index=True)
    else:
        feats_in, counts_in = feats, counts
    scored = score(model, feats_in, counts_in, model_version=version)
    scores = conform(scored.iloc[context_rows:].reset_index(drop=True), SCORES)
    store.write("scores", host, hour, scores)
    flagged = scores[scores["is_anomaly"]]
    ev = pd.DataFrame(columns=["host", "window_start", "templates", "sample_lines"])
    if len(flagged):
        tables = {t: store.read(t, host, hour) for t in ("kernel_events", "journal_entries", "docker_lines")}
        ev = evidence(flagged, counts, tables, load_template_miner(storage.root))
    store.write(EVIDENCE_TABLE, host, hour, ev)
    return {
        "dagster/row_count": len(scores),
        "dagster/column_schema": table_schema(scores, "scores"),
        "anomalous_windows": len(flagged),
        "max_score": float(scores["score"].max()) if len(scores) else 0.0,
        "model_version": version,
        "context_windows": context_rows,
        "coverage": model.coverage(host),
    }


@dg.asset(
    key="anomaly_scores",
    deps=["window_features", "deployed_model"],
    partitions_def=host_hour_partitions,
    group_name="monitor",
    kinds={"mlflow", "parquet"},
    owners=["team:ml-platform"],
    description="Anomaly score per window with the champion model (`models:/log-anomaly-detector@champion`); "
    "anomalous windows carry their top features, templates and sample log lines.",
    op_tags=stage_tags("score"),
    backfill_policy=FLEET_BACKFILL,
)
def anomaly_scores(
    context: dg.AssetExecutionContext, storage: StorageResource, model_registry: ModelRegistryResource
) -> Iterator[dg.MaterializeResult | dg.AssetMaterialization]:
    store = storage.store()
    model, version = champion(model_registry)
    done = fan_out(
        context,
        host_hours(context),
        lambda host, hour: score_host_hour(store, storage, model, version, host, hour),
    )
    if context.has_partition_key:
        ((metadata),) = done.results.values()
        yield dg.MaterializeResult(metadata=metadata)
        return
    # Range step: each host-hour's figures on its own event; the schema once (partitions.range_results).
    light = ("dagster/row_count", "anomalous_windows", "max_score", "context_windows", "coverage")
    hosts = sorted({h for h, _ in done.results})
    yield from light_range_results(
        context,
        dg.AssetKey("anomaly_scores"),
        done,
        light,
        extra={
            "model_version": version,
            "health_only_hosts": dg.MetadataValue.json(
                {h: model.coverage(h) for h in hosts if not model.knows(h)}
            ),
        },
    )
    fail_range_step(done)
