"""incidents: consecutive anomalous windows of a host merged into incidents with evidence JSON."""

import json
import os

import dagster as dg
import numpy as np
import pandas as pd

from mlops_assets.defs.tags import stage_tags
from mlops_assets.lib.contracts.tables import INCIDENTS, conform, empty_frame
from mlops_assets.lib.features.registry import FEATURE_BY_NAME
from mlops_assets.lib.monitor.incident_ids import incident_id
from mlops_assets.lib.storage.partition_store import write_parquet
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


def incidents_path(storage: StorageResource) -> str:
    """Where the incidents table lives: read by incident_triage and the notify sensor through storage,
    not the IO manager, because step pods in prod share the storage root, not $DAGSTER_HOME."""
    return storage.path("incidents", "incidents.parquet")


@dg.asset(
    key="incidents",
    deps=["anomaly_scores"],
    group_name="monitor",
    kinds={"pandas", "parquet"},
    owners=["team:sre"],
    description=f"Anomalous windows of each host merged (gaps <= {MERGE_GAP}) into incidents with severity, "
    "sources and evidence (top features, templates, sample lines); summaries are added by incident_triage.",
    op_tags=stage_tags("monitor"),
)
def incidents(context: dg.AssetExecutionContext, storage: StorageResource) -> dg.MaterializeResult:
    store = storage.store()
    scores = store.read_many("scores")
    evidence = store.read_many("score_evidence")
    table = merge_incidents(scores, evidence) if len(scores) else empty_frame(INCIDENTS)
    path = incidents_path(storage)
    write_parquet(path, table)
    by_sev = table["severity"].value_counts().to_dict() if len(table) else {}
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": len(table),
            "dagster/column_schema": dg.TableSchema(
                columns=[dg.TableColumn(c, str(t)) for c, t in table.dtypes.items()]
            ),
            "table_path": dg.MetadataValue.path(path),
            "by_severity": dg.MetadataValue.json({str(k): int(v) for k, v in by_sev.items()}),
            "preview": dg.MetadataValue.md(
                table.drop(columns=["evidence", "summary", "summary_kind"]).head(20).to_markdown(index=False)
                if len(table)
                else "(no incidents)"
            ),
        },
    )
