"""incidents + incident_triage write one HTML report per incident and show the newest in metadata."""

import json
from pathlib import Path

import dagster as dg
import pandas as pd

from mlops_assets.defs.monitor.incident_reports import newest_report
from mlops_assets.defs.monitor.incidents import incidents
from mlops_assets.defs.notify.assets import incident_triage
from mlops_assets.lib.contracts.tables import TABLES, conform
from mlops_assets.lib.storage.partition_store import PartitionStore, read_parquet
from mlops_assets.notify.resources import TriageResource
from mlops_assets_tests.defs.monitor.test_scoring_incidents import HOST, HOUR, KEY, XID_BURST, _score
from mlops_assets_tests.defs.monitor.test_scoring_incidents import prepared as prepared

ROUTINE = '10.0.0.7 - - "GET /healthz HTTP/1.1" 200 OK'


def _gpu_samples() -> pd.DataFrame:
    rows = []
    for s in range(0, 3600, 30):
        for g in (0, 1):
            rows.append(
                {
                    "ts": HOUR + pd.Timedelta(seconds=s),
                    "host": HOST,
                    "gpu_index": g,
                    "temperature_c": 55.0 + g,
                    "power_w": 250.0,
                    "util_gpu_pct": 80.0,
                }
            )
    return conform(pd.DataFrame(rows), TABLES["gpu_samples"])


def _docker(miner_ids: dict[str, str]) -> pd.DataFrame:
    ts = [HOUR + pd.Timedelta(minutes=XID_BURST, seconds=s % 60) for s in range(300)]
    return conform(
        pd.DataFrame(
            {
                "ts": ts,
                "host": HOST,
                "container": "web",
                "stream": "stdout",
                "message": ROUTINE,
                "level": "info",
                "template_id": miner_ids.get(ROUTINE),
            }
        ),
        TABLES["docker_lines"],
    )


def test_reports_metadata_and_unusual_lines(prepared: dict) -> None:
    store = PartitionStore(prepared["root"])
    store.write("gpu_samples", HOST, KEY, _gpu_samples())
    store.write("docker_lines", HOST, KEY, _docker({}))
    storage = prepared["resources"]["storage"]
    with dg.instance_for_test() as instance:
        _score(instance, prepared["resources"])
        inc = dg.materialize([incidents], instance=instance, resources={"storage": storage})
        md = inc.asset_materializations_for_node("incidents")[0].metadata
        table = read_parquet(md["table_path"].value)
        xid = next(
            r
            for r in table.to_dict("records")
            if pd.Timestamp(r["start"]) <= HOUR + pd.Timedelta(minutes=XID_BURST) < pd.Timestamp(r["end"])
        )
        assert xid["model_version"] == prepared["version"]  # filled from the flagged windows' scores
        assert xid["kind"] == json.loads(xid["evidence"])["top_features"][0]["feature"]
        ev = json.loads(xid["evidence"])
        kept = [g["message"] for g in ev["unusual_lines"]]
        assert any("fallen off the bus" in m for m in kept), kept
        assert ROUTINE not in kept and ev["routine_lines_omitted"] >= 300
        assert not any(ROUTINE in t["template"] for t in ev["templates"])

        newest_md = md["newest_incidents"].value
        assert newest_md.startswith("| time | host | gpu | severity | kind | action | summary")
        assert f"{len(table)} newest of {len(table)}" in newest_md
        schema = {c.name: c.description for c in md["dagster/column_schema"].value.columns}
        assert set(schema) == set(table.columns) and all(schema.values()), schema
        report = Path(md["incident_report"].value)
        assert report.name.endswith(".html") and report.parent == Path(md["reports_dir"].value)
        page = (report.parent / f"{xid['incident_id']}.html").read_text()
        assert "fallen off the bus" in page and "not triaged yet" in page and "data:image/png;base64," in page

        tri = dg.materialize(
            [incident_triage],
            instance=instance,
            resources={"storage": storage, "triage": TriageResource(use_llm=False)},
        )
        tmd = tri.asset_materializations_for_node("incident_triage")[0].metadata
    assert tmd["incident_report"].value == md["incident_report"].value
    assert newest_report(prepared["root"]) == md["incident_report"].value  # what `make demo` prints
    page = (report.parent / f"{xid['incident_id']}.html").read_text()
    assert "not triaged yet" not in page and "Rule-based triage" in page
    assert "Do now:" in page
