"""incidents: consecutive anomalous windows of a host merged into incidents with evidence JSON, plus
health incidents (layer "health") from every fatal/critical health event, which need no model."""

import json
import os

import dagster as dg
import numpy as np
import pandas as pd

from mlops_assets.defs.monitor.incident_context import IncidentContext
from mlops_assets.defs.monitor.incident_reports import incident_metadata, write_reports
from mlops_assets.defs.tags import stage_tags
from mlops_assets.lib.contracts.tables import INCIDENTS, conform, empty_frame
from mlops_assets.lib.features.registry import FEATURE_BY_NAME
from mlops_assets.lib.health.incidents import health_incidents
from mlops_assets.lib.monitor.incident_ids import incident_id
from mlops_assets.lib.storage.partition_store import exists, write_parquet
from mlops_assets.lib.templates.state import load_template_miner, template_state_path
from mlops_assets.lib.triage.evidence import between, unusual_lines, with_unusual
from mlops_assets.lib.triage.hypotheses import parse_evidence
from mlops_assets.resources import StorageResource

MERGE_GAP = pd.Timedelta(os.getenv("MLOPS_INCIDENT_GAP", "3min"))
WINDOW = pd.Timedelta(os.getenv("MLOPS_FEATURE_WINDOW", "1min"))


def severity(max_score: float, windows: int, sources: list[str]) -> str:
    """Longer, more certain and multi-source incidents rank higher."""
    points = (max_score >= 0.8) + (max_score >= 0.9) + (windows >= 5) + (windows >= 20) + (len(sources) >= 2)
    return ("low", "medium", "high", "critical")[min(3, max(0, points - 1))]


def _source_of(feature: str) -> str:
    f = FEATURE_BY_NAME.get(feature)
    return f.source if f else "logs"


def merge_incidents(scores: pd.DataFrame, evidence: pd.DataFrame) -> pd.DataFrame:
    """INCIDENTS rows (summary/summary_kind null: incident_triage fills them)."""
    flagged = scores[scores["is_anomaly"]].sort_values(["host", "window_start"], ignore_index=True)
    if flagged.empty:
        return empty_frame(INCIDENTS)
    t = pd.to_datetime(flagged["window_start"], utc=True)
    host = flagged["host"].astype(str)
    new = (host != host.shift()) | ((t - t.shift()) > WINDOW + MERGE_GAP)
    flagged["group"] = np.cumsum(new.to_numpy())
    ev = evidence.set_index(["host", "window_start"]) if len(evidence) else None
    rows = []
    for _, g in flagged.groupby("group", sort=True):
        feats: dict[str, dict] = {}
        for tf in g["top_features"]:
            for item in json.loads(tf or "[]"):
                cur = feats.get(item["feature"])
                if cur is None or abs(item["contribution"]) > abs(cur["contribution"]):
                    feats[item["feature"]] = item
        templates: dict[str, dict] = {}
        lines: list[str] = []
        for w in g["window_start"]:
            key = (g["host"].iloc[0], pd.Timestamp(w))
            if ev is not None and key in ev.index:
                rec = ev.loc[key]
                rec = rec.iloc[0] if isinstance(rec, pd.DataFrame) else rec
                for tpl in json.loads(rec["templates"]):
                    k = str(tpl["template_id"])
                    templates.setdefault(k, {**tpl, "count": 0})["count"] += int(tpl["count"])
                lines += [ln for ln in json.loads(rec["sample_lines"]) if ln not in lines]
        top = sorted(feats.values(), key=lambda i: -abs(i["contribution"]))[:5]
        sources = sorted({_source_of(i["feature"]) for i in top} | ({"logs"} if templates else set()))
        start, end = (
            pd.Timestamp(g["window_start"].iloc[0]),
            pd.Timestamp(g["window_start"].iloc[-1]) + WINDOW,
        )
        host_name = str(g["host"].iloc[0])
        rows.append(
            {
                "incident_id": incident_id(host_name, start),
                "host": host_name,
                "start": start,
                "end": end,
                "severity": severity(float(g["score"].max()), len(g), sources),
                "max_score": float(g["score"].max()),
                "windows": len(g),
                "sources": ";".join(sources),
                "evidence": json.dumps(
                    {
                        "top_features": top,
                        "templates": sorted(templates.values(), key=lambda x: -x["count"])[:8],
                        "sample_lines": lines[:10],
                        "sources": sources,
                    }
                ),
            }
        )
    return conform(pd.DataFrame(rows), INCIDENTS)


def annotate_from_scores(table: pd.DataFrame, scores: pd.DataFrame) -> pd.DataFrame:
    """Fill (only where null) what the flagged windows of each model incident agree on: the GPU when
    every window naming one names the same, the deciding layer, the model version, and the kind (the
    leading feature), so a report and an alert can say which GPU and which model."""
    if table.empty or scores.empty:
        return table
    out = table.copy()
    flagged = scores[scores["is_anomaly"].astype(bool)]
    ts = pd.to_datetime(flagged["window_start"], utc=True)
    for i, row in out.iterrows():
        if not pd.isna(row["layer"]) and row["layer"] == "health":
            continue
        g = flagged[(flagged["host"] == row["host"]) & (ts >= row["start"]) & (ts < row["end"])]
        if g.empty:
            continue
        gpus = g["gpu_index"].dropna().unique() if "gpu_index" in g else []
        if pd.isna(row["gpu_index"]) and len(gpus) == 1:
            out.at[i, "gpu_index"] = int(gpus[0])
        layers = g["layer"].astype("string").replace("", pd.NA).dropna() if "layer" in g else []
        if pd.isna(row["layer"]) and len(layers):
            out.at[i, "layer"] = str(layers.mode().iloc[0])
        if pd.isna(row["model_version"]):
            out.at[i, "model_version"] = str(g["model_version"].iloc[-1])
        feats = json.loads(row["evidence"]).get("top_features") if not pd.isna(row["evidence"]) else None
        if pd.isna(row["kind"]) and feats:
            out.at[i, "kind"] = str(feats[0]["feature"])
    return conform(out, INCIDENTS)


def attach_unusual_lines(table: pd.DataFrame, ctx: IncidentContext) -> pd.DataFrame:
    """Each incident's evidence lists its unusual log lines (lib/triage/evidence.py), routine ones counted."""
    if table.empty:
        return table
    learned, texts = ctx.learned(), ctx.template_texts()
    out = table.copy()
    evidence = []
    for row in out.itertuples(index=False):
        start, end = pd.Timestamp(row.start), pd.Timestamp(row.end)
        lines = between(ctx.lines(str(row.host), start, end), start, end)
        ev = parse_evidence(None if pd.isna(row.evidence) else row.evidence)
        evidence.append(json.dumps(with_unusual(ev, unusual_lines(lines, learned, texts)), default=str))
    out["evidence"] = pd.array(evidence, dtype="string")
    return out


def incident_context(storage: StorageResource) -> IncidentContext:
    """Parsed tables around incidents; without a mined template state every warning line counts as new."""
    miner = load_template_miner(storage.root) if exists(template_state_path(storage.root)) else None
    return IncidentContext(storage.store(), miner)


def incidents_path(storage: StorageResource) -> str:
    """Where the incidents table lives: read by incident_triage and the notify sensor through storage,
    not the IO manager, because step pods in prod share the storage root, not $DAGSTER_HOME."""
    return storage.path("incidents", "incidents.parquet")


@dg.asset(
    key="incidents",
    deps=["anomaly_scores", "health_events"],
    group_name="monitor",
    kinds={"pandas", "parquet"},
    owners=["team:sre"],
    description=f"Anomalous windows of each host merged (gaps <= {MERGE_GAP}) into incidents with severity, "
    "sources and evidence (top features; the unusual log lines - new or rare templates at warning level or "
    "worse - with routine lines counted, not listed), and one health incident (layer health) per host x GPU "
    "x code burst of fatal/critical health events; summaries are added by incident_triage.",
    op_tags=stage_tags("monitor"),
)
def incidents(context: dg.AssetExecutionContext, storage: StorageResource) -> dg.MaterializeResult:
    store = storage.store()
    scores = store.read_many("scores")
    evidence = store.read_many("score_evidence")
    model_table = merge_incidents(scores, evidence) if len(scores) else empty_frame(INCIDENTS)
    model_table = annotate_from_scores(model_table, scores)
    health = health_incidents(store.read_many("health_events"))
    table = conform(pd.concat([t for t in (model_table, health) if len(t)] or [model_table]), INCIDENTS)
    ctx = incident_context(storage)
    table = attach_unusual_lines(table, ctx)
    path = incidents_path(storage)
    write_parquet(path, table)
    reports = write_reports(table, storage, ctx)  # triage pending; incident_triage rewrites them
    by_sev = table["severity"].value_counts().to_dict() if len(table) else {}
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": len(table),
            "table_path": dg.MetadataValue.path(path),
            "by_severity": dg.MetadataValue.json({str(k): int(v) for k, v in by_sev.items()}),
            "health_incidents": len(health),
            **incident_metadata(table, reports, storage),
        },
    )
