"""Turning Dagster events (failed check, failed run, new incident) into channel-neutral alerts.

Text is cut to size only after redaction (lib/triage/redact.redact_then_cut): a secret cut at the
edge would no longer match its rule and leak its prefix. The channels redact again before sending.
Check alerts carry the rule-based hypothesis (instant, deterministic) rather than an LLM call: a
sensor tick must stay well inside the daemon's time limit. Incident alerts reuse the triage that
``incident_triage`` already computed (LLM or rules).
"""

from __future__ import annotations

import json
import os
from typing import Any

import dagster as dg
import pandas as pd

from mlops_assets.defs.notify.check_history import CheckOutcome
from mlops_assets.lib.storage.partition_store import join
from mlops_assets.lib.triage.hypotheses import rules_triage
from mlops_assets.lib.triage.listing import gpu_text
from mlops_assets.lib.triage.redact import redact_then_cut
from mlops_assets.lib.triage.report import report_name
from mlops_assets.notify.channels import Alert
from mlops_assets.notify.resources import NotifierResource

MAX_METADATA_LINES = 8
# An incident is judged closed when no anomalous window follows its end within this time (then its
# Alertmanager alert resolves); an update that extends the incident moves endsAt.
CLOSE_AFTER = pd.Timedelta(os.getenv("MLOPS_INCIDENT_CLOSE_AFTER", "15min"))
FIRING_MIN = pd.Timedelta(os.getenv("MLOPS_ALERT_FIRING_MIN", "15min"))


def check_alert(o: CheckOutcome, notifier: NotifierResource) -> Alert:
    check = o.check_key.to_user_string()
    where = f" [{o.partition}]" if o.partition else ""
    evidence: dict[str, Any] = {"check": check, "description": o.description or "", **o.metadata}
    top = rules_triage(evidence, subject=check).hypotheses[0]
    lines = [o.description or "check did not pass"]
    lines += [f"{k}: {redact_then_cut(v, 200)}" for k, v in list(o.metadata.items())[:MAX_METADATA_LINES]]
    lines.append(f"Likely cause: {top.cause} -> {top.immediate_actions[0]}")
    return Alert(
        key=f"check:{check}:{o.record_id}",
        kind="check_failed",
        title=f"Check failed: {check}{where}",
        text="\n".join(lines),
        severity="error" if o.severity == "ERROR" else "warning",
        url=notifier.run_url(o.run_id) if o.run_id else None,  # runless (external) evaluations
        fields={
            "asset": o.check_key.asset_key.to_user_string(),
            "check": o.check_key.name,
            "partition": o.partition or "-",
            "severity": o.severity,
            "blocking": str(o.blocking).lower(),
            "run_id": o.run_id,
        },
    )


def run_failure_alert(context: dg.RunFailureSensorContext, notifier: NotifierResource) -> Alert:
    run = context.dagster_run
    records = context.instance.get_records_for_run(
        run.run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION, limit=1000
    ).records
    failed_checks = []
    for r in records:
        ev = r.event_log_entry.dagster_event
        if ev is not None and not ev.asset_check_evaluation_data.passed:
            data = ev.asset_check_evaluation_data
            failed_checks.append(
                f"{data.asset_key.to_user_string()}:{data.check_name} ({data.severity.value})"
            )
    message = context.failure_event.message or "run failed"
    lines = [redact_then_cut(message.splitlines()[0], 500)]
    if failed_checks:
        lines.append("Failed checks: " + ", ".join(failed_checks[:20]))
    partition = run.tags.get("dagster/partition")
    return Alert(
        key=f"run:{run.run_id}",
        kind="run_failed",
        title=f"Run failed: {run.job_name}" + (f" [{partition}]" if partition else ""),
        text="\n".join(lines),
        severity="error",
        url=notifier.run_url(run.run_id),
        fields={"job": run.job_name, "run_id": run.run_id, "failed_checks": str(len(failed_checks))},
    )


def _summary_text(summary: Any) -> tuple[str, str]:
    """(one-paragraph summary, top hypothesis + first action) from the summary JSON column."""
    try:
        data = json.loads(summary) if isinstance(summary, str) else {}
    except ValueError:
        return f"unreadable summary: {redact_then_cut(str(summary), 200)}", ""
    hyps = data.get("hypotheses") or []
    top = ""
    if hyps:
        h = hyps[0]
        actions = h.get("immediate_actions") or []
        top = f"Top hypothesis ({float(h.get('likelihood', 0)):.2f}): {h.get('cause')}" + (
            f"\nFirst action: {actions[0]}" if actions else ""
        )
    return str(data.get("summary") or ""), top


def _iso(ts: Any) -> str:
    return pd.Timestamp(ts).tz_convert("UTC").isoformat().replace("+00:00", "Z")


def _value(row: dict[str, Any], key: str) -> str:
    v = row.get(key)
    return "" if v is None or (not isinstance(v, (list, dict)) and pd.isna(v)) else str(v)


def incident_ends_at(row: dict[str, Any], now: pd.Timestamp) -> str:
    """When the alert resolves: the incident's end + CLOSE_AFTER (no later anomalous window by then
    closes it), and never sooner than FIRING_MIN from now, so a receiver sees an already-closed
    incident fire once instead of receiving it resolved (Alertmanager never notifies those)."""
    return _iso(max(pd.Timestamp(row["end"]) + CLOSE_AFTER, now + FIRING_MIN))


def incident_alerts(
    table: pd.DataFrame,
    run_id: str,
    notifier: NotifierResource,
    reports_dir: str | None = None,
    now: pd.Timestamp | None = None,
    kind: str = "incident",
) -> list[Alert]:
    """One alert per incident row: GPU, action and report link up front, labels for routing."""
    now = now if now is not None else pd.Timestamp.now(tz="UTC")
    alerts = []
    for row in table.to_dict("records"):
        summary, top = _summary_text(row.get("summary"))
        severity = str(row.get("severity") or "high").lower()
        incident_id = str(row["incident_id"])
        gpu = gpu_text(row)
        action = _value(row, "action")
        report = join(reports_dir, report_name(incident_id)) if reports_dir else ""
        link = notifier.report_url(report_name(incident_id)) or report
        where = f"{row.get('host')}" + (f" GPU {gpu}" if gpu != "-" else "")
        head = f"Action: {action}" if action else ""
        alerts.append(
            Alert(
                key=f"incident:{incident_id}"
                if kind == "incident"
                else f"incident:{incident_id}:{_iso(row['end'])}",
                kind=kind,
                title=f"[{severity}] {_value(row, 'kind') or 'Incident'} on {where}",
                text="\n".join(x for x in (head, summary, top, f"Report: {link}" if link else "") if x),
                severity=severity,
                url=link if link.startswith(("http://", "https://")) else notifier.run_url(run_id),
                fields={
                    "incident_id": incident_id,
                    "host": str(row.get("host")),
                    "gpu": gpu,
                    "action": action or "-",
                    "layer": _value(row, "layer") or "-",
                    "start": str(row.get("start")),
                    "end": str(row.get("end")),
                    "max_score": f"{float(row['max_score']):.3f}" if _value(row, "max_score") else "-",
                    "model_version": _value(row, "model_version") or "-",
                    "sources": str(row.get("sources") or ""),
                    "summary_kind": str(row.get("summary_kind") or ""),
                    "report": report,
                },
                labels={
                    "host": str(row.get("host")),
                    "gpu": gpu,
                    "incident_id": incident_id,
                    "kind": _value(row, "kind"),
                    "layer": _value(row, "layer"),
                    "action": action,
                },
                starts_at=_iso(row["start"]),
                ends_at=incident_ends_at(row, now),
            )
        )
    return alerts
