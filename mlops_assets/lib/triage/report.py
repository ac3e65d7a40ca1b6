"""One self-contained HTML page per incident: what happened, on which GPU, what to do, and why we think so.

Sections, in the order an on-call engineer reads them: the headline (host, GPU, severity, action), the
triage (ranked hypotheses with actions), the timeline picture (embedded PNG data URI, so the file can
be mailed or attached), the health events, the unusual log lines (routine ones counted, not listed),
the model's evidence (version, scores, top features). Every value from logs or config is HTML-escaped:
log lines are attacker-controllable text.
"""

from __future__ import annotations

import base64
import html
import json
import re
from typing import Any

import pandas as pd

SAFE_ID = re.compile(r"[^A-Za-z0-9_.-]")
ACTION_TEXT = {
    "none": "no action needed beyond watching",
    "restart_app": "restart the application using the GPU",
    "reset_gpu": "drain the GPU and reset it (nvidia-smi -r) before reuse",
    "reboot": "drain the node and reboot it",
    "hardware_inspection": "drain the node and open a hardware ticket (RMA)",
    "check_service": "check the failing service (systemctl status / journalctl -u)",
    "free_disk": "free disk space on the full filesystem",
}
_CSS = """
body{font-family:system-ui,sans-serif;margin:1.5rem;max-width:1200px;color:#222}
h1{font-size:1.4rem}h2{font-size:1.1rem;margin-top:1.6rem;border-bottom:1px solid #ddd}
table{border-collapse:collapse;font-size:.85rem;width:100%}td,th{border:1px solid #ddd;padding:3px 6px;
text-align:left;vertical-align:top}th{background:#f4f4f4}.sev-critical,.sev-high{color:#b00020;font-weight:bold}
.action{background:#fff4d6;border:1px solid #e0b000;padding:.6rem;font-size:1rem}
code,pre{font-family:ui-monospace,monospace;font-size:.8rem;white-space:pre-wrap;word-break:break-all}
.muted{color:#777}
"""


def report_name(incident_id: str) -> str:
    """File name of an incident's report; ids are reduced to portable characters."""
    return SAFE_ID.sub("_", str(incident_id))[:120] + ".html"


def _e(value: Any) -> str:
    if value is None or (not isinstance(value, (list, dict)) and pd.isna(value)):
        return ""
    return html.escape(str(value), quote=True)


def gpu_label(incident: dict[str, Any]) -> str:
    """'GPU 3 (GPU-5096…, 0000:3b:00.0)' or 'host-wide (no single GPU)'."""
    idx = incident.get("gpu_index")
    if idx is None or pd.isna(idx):
        return "host-wide (no single GPU)"
    extra = [
        str(incident[k]) for k in ("gpu_uuid", "pci_bus") if incident.get(k) and not pd.isna(incident[k])
    ]
    return f"GPU {int(idx)}" + (f" ({', '.join(extra)})" if extra else "")


def _table(headers: list[str], rows: list[list[Any]], empty: str) -> str:
    if not rows:
        return f'<p class="muted">{_e(empty)}</p>'
    head = "".join(f"<th>{_e(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{_e(c)}</td>" for c in r) + "</tr>" for r in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def _triage(summary: dict[str, Any] | None) -> str:
    if not summary:
        return '<p class="muted">not triaged yet (incident_triage fills this)</p>'
    out = [f"<p>{_e(summary.get('summary'))} <span class='muted'>({_e(summary.get('kind'))})</span></p>"]
    for i, h in enumerate(summary.get("hypotheses") or [], 1):
        acts = "".join(f"<li>{_e(a)}</li>" for a in h.get("immediate_actions") or [])
        prev = "".join(f"<li>{_e(a)}</li>" for a in h.get("prevention") or [])
        out.append(
            f"<h3>{i}. {_e(h.get('cause'))} <span class='muted'>likelihood {_e(h.get('likelihood'))}</span></h3>"
            f"<p>Impact: {_e(h.get('impact'))}</p><p>Do now:</p><ul>{acts}</ul><p>Prevent:</p><ul>{prev}</ul>"
        )
    return "".join(out)


def render_report(
    incident: dict[str, Any],
    evidence: dict[str, Any],
    summary: dict[str, Any] | None,
    timeline_png: bytes | None,
    health: pd.DataFrame,
) -> str:
    """The HTML page (a complete document) for one incident row of the INCIDENTS contract."""
    action = str(incident.get("action") or "") or None
    if action is None and summary and summary.get("hypotheses"):
        first = (summary["hypotheses"][0].get("immediate_actions") or [""])[0]
        action_html = f"<b>{_e(first)}</b> <span class='muted'>(from the top triage hypothesis)</span>"
    elif action is None:
        action_html = "<span class='muted'>no action recorded: read the triage below</span>"
    else:
        action_html = f"<b>{_e(action)}</b>: {_e(ACTION_TEXT.get(action, ''))}"
    sev = str(incident.get("severity") or "")
    facts = [
        ["host", incident.get("host")],
        ["GPU", gpu_label(incident)],
        ["severity", sev],
        ["layer", incident.get("layer")],
        ["kind", incident.get("kind")],
        ["start (UTC)", incident.get("start")],
        ["end (UTC)", incident.get("end")],
        ["windows", incident.get("windows")],
        ["sources", incident.get("sources")],
        ["model version", incident.get("model_version") or "- (not from the model)"],
        ["max score", incident.get("max_score")],
    ]
    picture = (
        f'<img alt="timeline" style="max-width:100%" src="data:image/png;base64,'
        f'{base64.b64encode(timeline_png).decode("ascii")}">'
        if timeline_png
        else '<p class="muted">no telemetry or log lines stored around this incident</p>'
    )
    hcols = [
        c for c in ("ts", "gpu_index", "component", "code", "severity", "action", "message") if c in health
    ]
    health_rows = [[r.get(c) for c in hcols] for r in health.to_dict("records")] if len(health) else []
    unusual = evidence.get("unusual_lines") or []
    line_rows = [
        [
            g.get("first_ts"),
            g.get("source"),
            g.get("origin"),
            g.get("level"),
            g.get("count"),
            g.get("why"),
            g.get("message"),
        ]
        for g in unusual
    ]
    omitted = (
        f"{evidence.get('routine_lines_omitted', 0)} routine line(s) of "
        f"{evidence.get('routine_templates_omitted', 0)} template(s) left out"
        f" (of {evidence.get('lines_considered', 0)} lines in the incident;"
        f" the miner learned {evidence.get('learned_lines', 0)} lines)."
    )
    feature_rows = [
        [f.get("feature"), f.get("value"), f.get("contribution")]
        for f in evidence.get("top_features") or []
        if isinstance(f, dict)
    ]
    other = {
        k: v
        for k, v in evidence.items()
        if k not in ("unusual_lines", "templates", "sample_lines", "top_features")
        and not k.startswith(("routine_", "unusual_groups"))
        and k not in ("lines_considered", "learned_lines")
    }
    title = f"Incident {incident.get('incident_id')} on {incident.get('host')}: {gpu_label(incident)}"
    parts = [
        f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>{_e(title)}</title>",
        f"<style>{_CSS}</style></head><body>",
        f"<h1>{_e(title)} <span class='sev-{_e(sev)}'>[{_e(sev)}]</span></h1>",
        f"<div class='action' id='action'>Action: {action_html}</div>",
        _table(["", ""], [list(r) for r in facts], ""),
        "<h2>Triage</h2>",
        _triage(summary),
        "<h2>Timeline</h2>",
        picture,
        "<h2>Health events</h2>",
        _table(hcols, health_rows, "no health events in this interval"),
        "<h2 id='unusual'>Unusual log lines</h2>",
        f"<p class='muted'>New or rare templates at warning level or worse. {_e(omitted)}</p>",
        _table(
            ["first seen", "source", "unit / container", "level", "count", "why", "line"], line_rows, "none"
        ),
        "<h2>Model evidence</h2>",
        _table(["feature", "value", "contribution"], feature_rows, "no model features (not from the model)"),
        f"<pre>{_e(json.dumps(other, indent=1, default=str))}</pre>" if other else "",
        "</body></html>",
    ]
    return "\n".join(parts)
