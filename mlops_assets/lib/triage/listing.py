"""The incident list an SRE scans: newest first, one line each (time, host, GPU, severity, kind, action,
summary, report). Shared by the asset metadata (markdown) and ``mlops-assets incidents`` (text/JSON).
"""

from __future__ import annotations

import html
import json
from collections.abc import Mapping
from typing import Any

import pandas as pd

LIST_COLUMNS = ["time", "host", "gpu", "severity", "kind", "action", "summary", "incident_id", "report"]
MAX_SUMMARY = 140
MAX_ACTION = 60


def _present(value: Any) -> bool:
    return value is not None and not (not isinstance(value, (list, dict)) and pd.isna(value)) and value != ""


def _triage(row: Mapping[str, Any]) -> dict[str, Any]:
    if not _present(row.get("summary")):
        return {}
    try:
        data = json.loads(str(row["summary"]))
    except ValueError:
        return {"summary": str(row["summary"])}
    return data if isinstance(data, dict) else {}


def _top(row: Mapping[str, Any]) -> dict[str, Any]:
    hyps = _triage(row).get("hypotheses") or []
    return hyps[0] if hyps and isinstance(hyps[0], dict) else {}


def one_line(row: Mapping[str, Any]) -> str:
    """The top triage hypothesis' cause, else the summary's first sentence, else the first unusual
    line, else the top feature."""
    cause = str(_top(row).get("cause") or "")
    if cause:
        return cause[:MAX_SUMMARY]
    text = str(_triage(row).get("summary") or "")
    if text:
        return text.split(". ")[0].rstrip(".")[:MAX_SUMMARY]
    try:
        evidence = json.loads(str(row.get("evidence"))) if _present(row.get("evidence")) else {}
    except ValueError:
        evidence = {}
    evidence = evidence if isinstance(evidence, dict) else {}
    unusual = evidence.get("unusual_lines") or []
    if unusual:
        return f"{unusual[0].get('level')}: {unusual[0].get('message')}"[:MAX_SUMMARY]
    feats = evidence.get("top_features") or []
    if feats and isinstance(feats[0], dict):
        return f"{feats[0].get('feature')} = {feats[0].get('value')}"[:MAX_SUMMARY]
    return "(no summary)"


def action_text(row: Mapping[str, Any]) -> str:
    """The incident's catalog action, else the top hypothesis' first immediate action (marked '~')."""
    if _present(row.get("action")):
        return str(row["action"])
    actions = _top(row).get("immediate_actions") or []
    return f"~ {str(actions[0])[:MAX_ACTION]}" if actions else "-"


def gpu_text(row: Mapping[str, Any]) -> str:
    idx = row.get("gpu_index")
    return "-" if not _present(idx) else str(int(idx))


def newest(
    table: pd.DataFrame, reports: Mapping[str, str] | None = None, limit: int | None = 20
) -> list[dict]:
    """Rows of :data:`LIST_COLUMNS`, newest start first (``limit`` None = all)."""
    if table.empty:
        return []
    ordered = table.assign(_s=pd.to_datetime(table["start"], utc=True)).sort_values(
        ["_s", "incident_id"], ascending=[False, True]
    )
    if limit is not None:
        ordered = ordered.head(limit)
    out = []
    for row in ordered.drop(columns="_s").to_dict("records"):
        iid = str(row["incident_id"])
        out.append(
            {
                "time": pd.Timestamp(row["start"]).strftime("%Y-%m-%d %H:%M"),
                "host": str(row["host"]),
                "gpu": gpu_text(row),
                "severity": str(row.get("severity") or "-"),
                "kind": str(row["kind"]) if _present(row.get("kind")) else "-",
                "action": action_text(row),
                "summary": one_line(row),
                "incident_id": iid,
                "report": (reports or {}).get(iid, ""),
            }
        )
    return out


def _md_cell(value: Any) -> str:
    """Escaped: log text must not become HTML in the UI's markdown view."""
    return html.escape(str(value), quote=False).replace("|", "\\|").replace("\n", " ")


def markdown_table(rows: list[dict], total: int) -> str:
    """A markdown table of ``rows`` with a line saying how many of ``total`` are shown."""
    if not rows:
        return "(no incidents)"
    cols = [c for c in LIST_COLUMNS if c != "report"] + (["report"] if any(r["report"] for r in rows) else [])
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    lines += ["| " + " | ".join(_md_cell(r[c]) for c in cols) + " |" for r in rows]
    lines.append("")
    lines.append(f"{len(rows)} newest of {total} incident(s).")
    return "\n".join(lines)
