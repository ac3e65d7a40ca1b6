"""Per-incident HTML reports under ``<storage>/reports/incidents/<id>.html`` (lib/triage/report.py).

Written by ``incidents`` (triage section pending) and rewritten by ``incident_triage`` once the
hypotheses exist, so a report is there even when triage fails. Each write is atomic. The timeline
covers the incident +- ``PAD`` and reads the parsed tables, scores and health events through storage.
"""

from __future__ import annotations

import json
import os
from typing import Any

import dagster as dg
import pandas as pd

from mlops_assets.defs.monitor.incident_context import IncidentContext
from mlops_assets.defs.schema import table_schema
from mlops_assets.lib.storage.partition_store import atomic_write_text, exists, join, read_parquet
from mlops_assets.lib.triage.hypotheses import parse_evidence
from mlops_assets.lib.triage.listing import markdown_table, newest
from mlops_assets.lib.triage.report import render_report, report_name
from mlops_assets.lib.triage.timeline import timeline_png
from mlops_assets.resources import StorageResource

PAD = pd.Timedelta(os.getenv("MLOPS_REPORT_PAD", "30min"))
WINDOW = pd.Timedelta(os.getenv("MLOPS_FEATURE_WINDOW", "1min"))
NEWEST = 15  # rows of the metadata table
MAX_REPORTS = int(os.getenv("MLOPS_MAX_INCIDENT_REPORTS", "200"))  # newest first; older keep their file


def report_path(storage: StorageResource, incident_id: str) -> str:
    return storage.path("reports", "incidents", report_name(incident_id))


def _summary(value: Any) -> dict[str, Any] | None:
    if value is None or (isinstance(value, float) and pd.isna(value)) or value is pd.NA:
        return None
    try:
        data = json.loads(str(value))
    except ValueError:
        return {"summary": f"unreadable triage summary: {str(value)[:300]}", "hypotheses": []}
    return data if isinstance(data, dict) else None


def _gpu(value: Any) -> int | None:
    return None if value is None or pd.isna(value) else int(value)


def write_report(row: dict[str, Any], storage: StorageResource, ctx: IncidentContext) -> str:
    """Render one incident's page and write it atomically; returns its path."""
    host, start, end = str(row["host"]), pd.Timestamp(row["start"]), pd.Timestamp(row["end"])
    lo, hi = start - PAD, end + PAD
    gpu = _gpu(row.get("gpu_index"))
    telemetry = ctx.table("gpu_samples", host, lo, hi)
    lines = ctx.lines(host, lo, hi)
    scores = ctx.table("scores", host, lo, hi, ts="window_start")
    anomalous = scores[scores["is_anomaly"].astype(bool)] if len(scores) else scores
    health = ctx.table("health_events", host, lo, hi)
    if len(health) and gpu is not None and "gpu_index" in health:
        health = health[health["gpu_index"].isna() | (health["gpu_index"] == gpu)]
    png = (
        timeline_png(telemetry, lines, anomalous, health, (start, end), gpu, WINDOW)
        if len(telemetry) or len(lines)
        else None
    )
    evidence = parse_evidence(None if pd.isna(row.get("evidence")) else row.get("evidence"))
    page = render_report(row, evidence, _summary(row.get("summary")), png, health)
    path = report_path(storage, str(row["incident_id"]))
    atomic_write_text(path, page)
    return path


def write_reports(table: pd.DataFrame, storage: StorageResource, ctx: IncidentContext) -> dict[str, str]:
    """incident_id -> report path, for the newest ``MAX_REPORTS`` incidents."""
    if table.empty:
        return {}
    newest = table.sort_values("start", ascending=False).head(MAX_REPORTS)
    return {str(r["incident_id"]): write_report(r, storage, ctx) for r in newest.to_dict("records")}


def reports_dir(storage: StorageResource) -> str:
    return storage.path("reports", "incidents")


def incident_metadata(
    table: pd.DataFrame, reports: dict[str, str], storage: StorageResource
) -> dict[str, Any]:
    """Metadata both incident assets show: the newest incidents as a table and their report paths."""
    rows = newest(table, reports, limit=NEWEST)
    meta: dict[str, Any] = {
        "newest_incidents": dg.MetadataValue.md(markdown_table(rows, len(table))),
        "reports_dir": dg.MetadataValue.path(reports_dir(storage)),
        "dagster/column_schema": table_schema(table, "incidents"),
    }
    if rows and rows[0]["report"]:
        meta["incident_report"] = dg.MetadataValue.path(rows[0]["report"])  # the newest incident's page
    return meta


def newest_report(storage_root: str) -> str | None:
    """The newest incident's report path under ``storage_root`` (None when there is none yet)."""
    for table in ("incident_triage", "incidents"):
        path = join(storage_root, table, "incidents.parquet")
        if exists(path):
            frame = read_parquet(path)
            if frame.empty:
                return None
            row = frame.sort_values("start").iloc[-1]
            report = join(storage_root, "reports", "incidents", report_name(str(row["incident_id"])))
            return report if exists(report) else None
    return None
