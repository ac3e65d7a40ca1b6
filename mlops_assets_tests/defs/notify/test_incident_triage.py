"""incident_triage (LLM through a loopback Gemini, cache) and the new-incident sensor."""

import json
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest

from mlops_assets.defs.monitor.incidents import incidents_path
from mlops_assets.defs.notify.assets import incident_triage
from mlops_assets.defs.notify.sensors import notify_new_incidents
from mlops_assets.lib.contracts.tables import INCIDENTS, conform, schema_mismatches
from mlops_assets.lib.storage.partition_store import write_parquet
from mlops_assets.notify.loopback import LoopbackReceiver, Reply
from mlops_assets.notify.resources import NotifierResource, TriageResource
from mlops_assets.resources import StorageResource

pytestmark = [pytest.mark.notify, pytest.mark.llm]

REPLY_TRIAGE = {
    "hypotheses": [
        {
            "cause": "GPU fell off the bus",
            "likelihood": 0.9,
            "impact": "GPU lost",
            "immediate_actions": ["drain node"],
            "prevention": ["RMA"],
        }
    ],
    "summary": "Xid 79: GPU 3 of gpu01 fell off the bus.",
}


def _incident(incident_id: str, severity: str, line: str) -> dict:
    return {
        "incident_id": incident_id,
        "host": "gpu01",
        "start": "2026-01-01T10:00:00Z",
        "end": "2026-01-01T10:10:00Z",
        "severity": severity,
        "max_score": 0.8,
        "windows": 2,
        "sources": "kernel;journal",
        "evidence": json.dumps(
            {
                "top_features": [{"feature": "xid_count", "value": 3, "contribution": 0.7}],
                "templates": [{"template_id": "k1", "template": "NVRM: Xid (PCI:<*>): <*>", "count": 3}],
                "sample_lines": [line],
                "sources": ["kernel"],
            }
        ),
    }


ROWS = [
    _incident("inc-1", "critical", "NVRM: Xid (PCI:0000:3b:00): 79, pid=1 token=sekrit123"),
    _incident("inc-2", "low", "Out of memory: Killed process 42"),
]


@dg.asset(group_name="monitor")
def incidents(context: dg.AssetExecutionContext, storage: StorageResource) -> None:
    """Stands in for the real incidents asset: writes the table where incident_triage reads it."""
    n = int(context.run.tags.get("n", "2"))
    table = conform(
        pd.DataFrame(ROWS[:n] + ([_incident("inc-3", "high", "No space left on device")] if n > 2 else [])),
        INCIDENTS,
    )
    write_parquet(incidents_path(storage), table)


def _triaged(result: dg.ExecuteInProcessResult) -> pd.DataFrame:
    """The triaged table, read from where the materialization says it wrote it."""
    md = result.asset_materializations_for_node("incident_triage")[0].metadata
    return pd.read_parquet(md["triage_table_path"].value)


def _gemini(payload: dict) -> dict:
    return {
        "candidates": [
            {"content": {"role": "model", "parts": [{"text": json.dumps(payload)}]}, "finishReason": "STOP"}
        ]
    }


def test_triage_fills_summaries_caches_and_sensor_notifies_once(tmp_path: Path) -> None:
    with (
        dg.instance_for_test() as inst,
        LoopbackReceiver(Reply(200, _gemini(REPLY_TRIAGE))) as llm,
        LoopbackReceiver() as hook,
    ):
        notifier = NotifierResource(
            channels="webhook",
            webhook_url=hook.url,
            ui_url="http://dagster.example:3000",
            min_incident_severity="high",
            delivery_log_path=str(tmp_path / "d.jsonl"),
        )
        defs = dg.Definitions(
            assets=[incidents, incident_triage],
            sensors=[notify_new_incidents],
            resources={
                "triage": TriageResource(api_key="k", base_url=llm.url, timeout_s=5, backoff_s=0.05),
                "storage": StorageResource(root=str(tmp_path / "storage")),
                "notifier": notifier,
            },
        )
        job = defs.resolve_implicit_global_asset_job_def()
        first = job.execute_in_process(instance=inst)
        table = _triaged(first)
        assert schema_mismatches(table, INCIDENTS) == []
        assert list(table["summary_kind"]) == ["llm", "llm"] and len(llm.requests) == 2
        assert json.loads(table["summary"][0])["hypotheses"][0]["cause"] == "GPU fell off the bus"
        assert all("sekrit123" not in r.body.decode() for r in llm.requests)

        def tick(cursor: str | None) -> str | None:
            ctx = dg.build_sensor_context(
                instance=inst, cursor=cursor, definitions=defs, resources=defs.resources
            )
            return notify_new_incidents.evaluate_tick(ctx).cursor

        cursor = tick(tick(None))
        assert len(hook.requests) == 1
        (alert,) = hook.requests[0].json()["alerts"]  # inc-2 is "low": below the threshold
        assert (
            alert["fields"]["incident_id"] == "inc-1"
            and alert["url"] == f"http://dagster.example:3000/runs/{first.run_id}"
        )
        assert "GPU fell off the bus" in alert["text"]

        # Unchanged incidents are not sent to the LLM again; the new one is; only it is notified.
        second = job.execute_in_process(instance=inst, tags={"n": "3"})
        assert len(llm.requests) == 3
        assert second.get_asset_materialization_events()[-1].materialization.metadata["cached"].value == 2
        tick(cursor)
        assert len(hook.requests) == 2
        assert [a["fields"]["incident_id"] for a in hook.requests[1].json()["alerts"]] == ["inc-3"]


def test_no_key_gives_rules_summaries(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GEMINI_API_KEY", raising=False)
    monkeypatch.delenv("GOOGLE_API_KEY", raising=False)
    result = dg.materialize(
        [incidents, incident_triage],
        resources={"triage": TriageResource(), "storage": StorageResource(root=str(tmp_path))},
    )
    table = _triaged(result)
    assert list(table["summary_kind"]) == ["rules", "rules"]
    causes = [json.loads(s)["hypotheses"][0]["cause"] for s in table["summary"]]
    assert "Xid 79" in causes[0] and "Out of memory" in causes[1]


def test_incidents_missing_contract_columns_fail_with_a_clear_message(tmp_path: Path) -> None:
    @dg.asset(name="incidents")
    def bad_incidents(storage: StorageResource) -> None:
        write_parquet(incidents_path(storage), pd.DataFrame({"incident_id": ["x"]}))

    with pytest.raises(ValueError, match="INCIDENTS contract"):
        dg.materialize(
            [bad_incidents, incident_triage],
            resources={
                "triage": TriageResource(use_llm=False),
                "storage": StorageResource(root=str(tmp_path)),
            },
        )
