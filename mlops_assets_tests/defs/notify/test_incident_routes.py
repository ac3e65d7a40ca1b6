"""New-incident sensor into a real Alertmanager and an apprise json:// receiver: GPU/action labels, the
report attached, the outbox retrying a receiver that was down, and an incident that grows moving the
alert's endsAt in Alertmanager only."""

import json
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest

from mlops_assets.defs.monitor.incidents import incidents_path
from mlops_assets.defs.notify.assets import incident_triage
from mlops_assets.defs.notify.sensors import notify_new_incidents
from mlops_assets.lib.contracts.tables import INCIDENTS, conform
from mlops_assets.lib.storage.partition_store import write_parquet
from mlops_assets.notify.loopback import LoopbackReceiver, Reply
from mlops_assets.notify.resources import NotifierResource, TriageResource
from mlops_assets.resources import StorageResource
from mlops_assets_tests.notify.alertmanager import alertmanager

pytestmark = pytest.mark.notify

NOW = pd.Timestamp.now(tz="UTC").floor("min")


@dg.asset(group_name="monitor")
def incidents(context: dg.AssetExecutionContext, storage: StorageResource) -> None:
    """Stands in for the real incidents asset; tag ``end`` (minutes before now) sets where it ends."""
    end = NOW - pd.Timedelta(minutes=int(context.run.tags.get("end", "20")))
    row = {
        "incident_id": "xid79gpu3",
        "host": "gpu-node-01",
        "gpu_index": 3,
        "pci_bus": "0000:3b:00.0",
        "layer": "health",
        "kind": "XID_79",
        "action": "reset_gpu",
        "start": NOW - pd.Timedelta(minutes=30),
        "end": end,
        "severity": "critical",
        "max_score": float("nan"),  # a health-layer incident has no model score
        "windows": 3,
        "sources": "kernel",
        "evidence": json.dumps(
            {"sample_lines": ["NVRM: Xid (PCI:0000:3b:00): 79, GPU has fallen off the bus."]}
        ),
    }
    write_parquet(incidents_path(storage), conform(pd.DataFrame([row]), INCIDENTS))


def test_incident_reaches_alertmanager_and_apprise_with_outbox_and_updates(tmp_path: Path) -> None:
    with (
        dg.instance_for_test() as inst,
        LoopbackReceiver() as pager,
        LoopbackReceiver() as chat,
        alertmanager(tmp_path / "am", pager.url) as am,
    ):
        chat.script.extend([Reply(status=503)] * 3)  # the chat service is down for the first tick
        notifier = NotifierResource(
            channels="alertmanager,apprise",
            alertmanager_url=am.url,
            apprise_urls=f"json://{chat.url.split('://')[1]}/hook",
            delivery_log_path=str(tmp_path / "d.jsonl"),
            backoff_s=0.01,
        )
        defs = dg.Definitions(
            assets=[incidents, incident_triage],
            sensors=[notify_new_incidents],
            resources={
                "triage": TriageResource(use_llm=False),
                "storage": StorageResource(root=str(tmp_path / "storage")),
                "notifier": notifier,
            },
        )
        job = defs.resolve_implicit_global_asset_job_def()
        job.execute_in_process(instance=inst)

        def tick(cursor: str | None) -> str | None:
            ctx = dg.build_sensor_context(
                instance=inst, cursor=cursor, definitions=defs, resources=defs.resources
            )
            return notify_new_incidents.evaluate_tick(ctx).cursor

        cursor = tick(None)
        (live,) = am.alerts()
        assert {k: live["labels"][k] for k in ("host", "gpu", "severity", "action", "kind")} == {
            "host": "gpu-node-01",
            "gpu": "3",
            "severity": "critical",
            "action": "reset_gpu",
            "kind": "XID_79",
        }
        assert live["annotations"]["report"].endswith("reports/incidents/xid79gpu3.html")
        assert len(chat.requests) == 3 and json.loads(cursor)["outbox"]["apprise"]

        cursor = tick(cursor)  # no new incidents: the outbox is retried and now delivered
        assert len(chat.requests) == 4 and json.loads(cursor)["outbox"] == {}
        sent = chat.requests[-1].json()
        assert sent["title"] == "[critical] XID_79 on gpu-node-01 GPU 3"
        assert "Action: reset_gpu" in sent["message"] and "Report: " in sent["message"]
        (att,) = sent["attachments"]
        assert att["filename"] == "xid79gpu3.html"

        # the incident grows (a later end): Alertmanager gets the update, the chat gets nothing new
        before = pd.Timestamp(am.alerts()[0]["endsAt"])
        job.execute_in_process(instance=inst, tags={"end": "-20"})  # now ends 20 minutes from now
        cursor = tick(cursor)
        assert len(chat.requests) == 4
        after = pd.Timestamp(am.alerts()[0]["endsAt"])
        assert after >= NOW + pd.Timedelta(minutes=34) and after > before
        assert len(am.alerts()) == 1  # same labels: the same alert, updated
