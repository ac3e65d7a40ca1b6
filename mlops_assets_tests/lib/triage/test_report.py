"""The incident report page, its timeline picture, and the incident list (pure rendering)."""

import base64
import html
import json
import re

import pandas as pd

from mlops_assets.lib.triage.listing import markdown_table, newest, one_line
from mlops_assets.lib.triage.report import render_report, report_name
from mlops_assets.lib.triage.timeline import timeline_png

T0 = pd.Timestamp("2026-11-02 10:00", tz="UTC")
EVIL = "<script>alert('x')</script> NVRM: Xid (PCI:0000:3b:00): 79, GPU has fallen off the bus"


def _incident(**kw) -> dict:
    row = {
        "incident_id": "abc123",
        "host": "gpu-node-01",
        "gpu_index": 3,
        "gpu_uuid": "GPU-5096",
        "pci_bus": "0000:3b:00.0",
        "layer": "health",
        "kind": "XID_79",
        "action": "reset_gpu",
        "model_version": None,
        "start": T0,
        "end": T0 + pd.Timedelta(minutes=4),
        "severity": "critical",
        "max_score": None,
        "windows": 4,
        "sources": "kernel",
        "evidence": json.dumps(
            {
                "unusual_lines": [
                    {
                        "first_ts": T0.isoformat(),
                        "source": "kernel",
                        "origin": "kernel",
                        "level": "critical",
                        "count": 2,
                        "why": "new template",
                        "message": EVIL,
                    }
                ],
                "routine_lines_omitted": 3017,
                "routine_templates_omitted": 4,
            }
        ),
        "summary": None,
    }
    row.update(kw)
    return row


def _telemetry() -> pd.DataFrame:
    ts = [T0 - pd.Timedelta(minutes=10) + pd.Timedelta(seconds=30 * i) for i in range(60)]
    return pd.DataFrame(
        [
            {
                "ts": t,
                "gpu_index": g,
                "temperature_c": 50.0 + g + (30 if g == 3 and i > 20 else 0),
                "power_w": 300.0,
            }
            for i, t in enumerate(ts)
            for g in (0, 3)
        ]
    )


def _lines() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "ts": [T0 + pd.Timedelta(seconds=s) for s in (1, 2, 70)],
            "source": ["kernel", "docker", "docker"],
            "level": ["critical", "info", "info"],
        }
    )


def test_report_names_gpu_action_unusual_lines_and_escapes_them() -> None:
    row = _incident()
    png = timeline_png(
        _telemetry(), _lines(), pd.DataFrame({"window_start": [T0]}), pd.DataFrame(), (T0, row["end"]), 3
    )
    assert png.startswith(b"\x89PNG")
    page = render_report(row, json.loads(row["evidence"]), None, png, pd.DataFrame())
    assert "<script>" not in page and html.escape("<script>") in page
    assert "GPU 3 (GPU-5096, 0000:3b:00.0)" in page
    assert "reset_gpu" in page and "nvidia-smi -r" in page
    assert "GPU has fallen off the bus" in page and "3017 routine line(s)" in page
    assert "not triaged yet" in page
    (data,) = re.findall(r'src="data:image/png;base64,([^"]+)"', page)
    assert base64.b64decode(data) == png


def test_report_shows_triage_hypotheses_and_model_evidence() -> None:
    summary = {
        "summary": "GPU 3 fell off the bus.",
        "kind": "rules",
        "hypotheses": [
            {
                "cause": "PCIe link loss",
                "likelihood": 0.8,
                "impact": "jobs on GPU 3 die",
                "immediate_actions": ["drain the node"],
                "prevention": ["reseat the board"],
            }
        ],
    }
    ev = {"top_features": [{"feature": "fan_min_pct", "value": 0.0, "contribution": 4.2}]}
    row = _incident(action=None, layer="forest", model_version="7", max_score=0.93, gpu_index=None)
    page = render_report(row, ev, summary, None, pd.DataFrame())
    assert "PCIe link loss" in page and "drain the node" in page and "reseat the board" in page
    assert "from the top triage hypothesis" in page and "host-wide" in page
    assert "fan_min_pct" in page and ">7<" in page and "0.93" in page


def test_report_name_is_portable() -> None:
    assert report_name("gpu01|XID_79/../x") == "gpu01_XID_79_.._x.html"


def test_listing_newest_first_with_one_line_summaries() -> None:
    a = _incident(incident_id="old", start=T0 - pd.Timedelta(hours=1))
    b = _incident(
        incident_id="new", summary=json.dumps({"summary": "Xid 79 on GPU 3. Reset it.", "hypotheses": []})
    )
    rows = newest(pd.DataFrame([a, b]), {"new": "/r/new.html"})
    assert [r["incident_id"] for r in rows] == ["new", "old"]
    assert (
        rows[0]["summary"] == "Xid 79 on GPU 3" and rows[0]["gpu"] == "3" and rows[0]["action"] == "reset_gpu"
    )
    assert rows[1]["summary"].startswith("critical: <script>")
    md = markdown_table(rows, 2)
    assert md.splitlines()[0].startswith("| time | host | gpu | severity | kind | action | summary")
    assert "/r/new.html" in md and "2 newest of 2" in md
    assert one_line({"evidence": json.dumps({"top_features": [{"feature": "f", "value": 1}]})}) == "f = 1"


def test_listing_prefers_the_top_hypothesis_and_its_first_action_for_model_incidents() -> None:
    summary = {
        "summary": "Rule-based triage of x: most likely OOM.",
        "hypotheses": [
            {
                "cause": "Out of memory: a container exceeded its limit",
                "immediate_actions": ["raise the limit"],
            }
        ],
    }
    (row,) = newest(pd.DataFrame([_incident(action=None, summary=json.dumps(summary))]))
    assert row["summary"] == "Out of memory: a container exceeded its limit"
    assert row["action"] == "~ raise the limit"
    (health,) = newest(pd.DataFrame([_incident(summary=json.dumps(summary))]))
    assert health["action"] == "reset_gpu"  # the catalog action wins when the incident has one
