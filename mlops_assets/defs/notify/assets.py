"""incident_triage: fills ``summary`` / ``summary_kind`` of every incident (Gemini or rules).

Results are cached by (incident_id, evidence hash) in ``<storage>/incident_triage/cache.json`` so
re-materializing does not call the LLM again for unchanged incidents. Only LLM results are cached:
a rules fallback caused by an outage is retried on the next materialization. The triaged table is
also written to ``<storage>/incident_triage/incidents.parquet``, whose path the materialization
records (``triage_table_path``) for the new-incident sensor.
"""

import json
from collections import Counter
from typing import Any

import dagster as dg
import pandas as pd

from mlops_assets.defs.monitor.incident_reports import incident_metadata, write_reports
from mlops_assets.defs.monitor.incidents import incident_context, incidents_path
from mlops_assets.defs.tags import stage_tags
from mlops_assets.lib.contracts.tables import INCIDENTS, conform
from mlops_assets.lib.storage.partition_store import (
    atomic_write_text,
    exists,
    read_bytes,
    read_parquet,
    write_parquet,
)
from mlops_assets.lib.triage.hypotheses import evidence_hash, parse_evidence
from mlops_assets.notify.resources import TriageResource
from mlops_assets.resources import StorageResource

CACHE_VERSION = 1


def _load_cache(path: str, log: Any) -> dict[str, dict[str, str]]:
    if not exists(path):
        return {}
    try:
        data = json.loads(read_bytes(path).decode("utf-8"))
    except ValueError as e:
        log.warning(f"triage cache {path} is unreadable ({e}); starting a new one")
        return {}
    if data.get("version") != CACHE_VERSION:
        return {}
    return dict(data.get("entries") or {})


def _subject(row: dict[str, Any]) -> dict[str, Any]:
    return {
        k: (str(row[k]) if row.get(k) is not None and not pd.isna(row[k]) else None)
        for k in ("incident_id", "host", "start", "end", "severity", "max_score", "windows", "sources")
    }


def triage_incidents(
    incidents: pd.DataFrame, triage: TriageResource, cache: dict[str, dict[str, str]], log: Any
) -> tuple[pd.DataFrame, Counter[str], dict[str, dict[str, str]]]:
    """The incidents with summaries filled, counts per outcome, and the updated cache."""
    out = conform(incidents, INCIDENTS)
    counts: Counter[str] = Counter()
    new_cache: dict[str, dict[str, str]] = {}
    summaries: list[str] = []
    kinds: list[str] = []
    for row in out.to_dict("records"):
        evidence = parse_evidence(row.get("evidence") if not pd.isna(row.get("evidence")) else None)
        key = f"{row['incident_id']}:{evidence_hash(evidence)}"
        hit = cache.get(key)
        if hit is not None:
            counts["cached"] += 1
            summary, kind = hit["summary"], hit["summary_kind"]
        else:
            result = triage.summarize(_subject(row), evidence)
            summary, kind = result.to_json(), result.summary_kind
            counts[kind] += 1
            if result.fallback_reason:
                counts["llm_fallbacks"] += 1
                log.warning(f"incident {row['incident_id']}: LLM fallback to rules: {result.fallback_reason}")
        if kind == "llm":
            new_cache[key] = {"summary": summary, "summary_kind": kind}
        summaries.append(summary)
        kinds.append(kind)
    out["summary"] = pd.array(summaries, dtype="string")
    out["summary_kind"] = pd.array(kinds, dtype="string")
    return out, counts, new_cache


@dg.asset(
    group_name="monitor",
    deps=["incidents"],
    op_tags=stage_tags("notify"),
    automation_condition=dg.AutomationCondition.eager(),
    kinds={"pandas", "gemini"},
    description="Root-cause triage (ranked hypotheses, actions) of every incident; LLM when a key is set. "
    "Rewrites each incident's HTML report (reports/incidents/<id>.html) with the triage.",
)
def incident_triage(
    context: dg.AssetExecutionContext,
    triage: TriageResource,
    storage: StorageResource,
) -> dg.MaterializeResult:
    source = incidents_path(storage)
    if not exists(source):
        raise FileNotFoundError(f"no incidents table at {source}: materialize the incidents asset first")
    incidents = read_parquet(source)
    required = [c for c in INCIDENTS if c not in ("summary", "summary_kind")]
    missing = [c for c in required if c not in incidents.columns]
    if missing and not incidents.empty:
        raise ValueError(f"incidents lacks INCIDENTS contract column(s) {missing}; fix the incidents asset")
    cache_path = storage.path("incident_triage", "cache.json")
    table_path = storage.path("incident_triage", "incidents.parquet")
    cache = _load_cache(cache_path, context.log)
    table, counts, new_cache = triage_incidents(incidents, triage, cache, context.log)
    atomic_write_text(
        cache_path, json.dumps({"version": CACHE_VERSION, "entries": new_cache}, sort_keys=True)
    )
    write_parquet(table_path, table)
    reports = write_reports(table, storage, incident_context(storage))  # now with the triage
    return dg.MaterializeResult(
        metadata={
            "triage_table_path": dg.MetadataValue.path(table_path),
            "dagster/row_count": len(table),
            **incident_metadata(table, reports, storage),
            "llm": int(counts["llm"]),
            "rules": int(counts["rules"]),
            "cached": int(counts["cached"]),
            "llm_fallbacks": int(counts["llm_fallbacks"]),
            "model": triage.model,
        },
    )
