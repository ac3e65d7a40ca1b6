"""An incident an SRE can act on, end to end: real webserver, real run of `incidents` + `incident_triage`,
the report opened in headless Chromium (GPU, action, unusual lines on the page), and the incident table on
the asset's page in the Dagster UI (screenshots saved under the test's tmp folder)."""

from __future__ import annotations

import json
import os
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from mlops_assets.defs.partitions import HOURLY_FMT
from mlops_assets.lib.contracts.tables import SCORES, TABLES, conform
from mlops_assets.lib.storage.partition_store import PartitionStore
from mlops_assets.lib.templates import TemplateMiner
from mlops_assets.lib.templates.state import save_template_miner
from mlops_assets_tests.e2e.conftest import LOCATION_NAME, DagsterUI
from mlops_assets_tests.e2e.ui_graphql import implicit_asset_job, launch_assets_run, run_errors, wait_for_run

pytestmark = pytest.mark.e2e

HOST = "gpu-node-01"
ROUTINE = '10.0.0.7 - - "GET /healthz HTTP/1.1" 200 OK'
XID = "NVRM: Xid (PCI:0000:3b:00): 79, pid=4242, name=python, GPU has fallen off the bus."
CUDA = "ERROR CUDA error: an illegal memory access was encountered (worker 3)"
FLAGGED = range(40, 44)  # minutes of the hour

METADATA = """
query($key: AssetKeyInput!) { assetOrError(assetKey: $key) { __typename
  ... on Asset { assetMaterializations(limit: 1) { runId metadataEntries { label __typename
    ... on PathMetadataEntry { path } ... on MarkdownMetadataEntry { mdStr } } } } } }
"""


def _prepare(storage: Path, hour: pd.Timestamp) -> None:
    """One host-hour as the pipeline leaves it: parsed tables, scores with 4 flagged windows, a miner."""
    store, key = PartitionStore(str(storage)), hour.strftime(HOURLY_FMT)
    minutes = [hour + pd.Timedelta(minutes=m) for m in range(60)]
    flagged = [m in FLAGGED for m in range(60)]
    feature = json.dumps([{"feature": "xid_fatal", "value": 1.0, "contribution": 6.0}])
    scores = pd.DataFrame(
        {
            "host": HOST,
            "window_start": minutes,
            "score": [0.97 if f else 0.2 for f in flagged],
            "is_anomaly": flagged,
            "model_version": "1",
            "top_features": [feature if f else "[]" for f in flagged],
            "layer": ["forest" if f else "" for f in flagged],
            "gpu_index": [3 if f else None for f in flagged],
        }
    )
    store.write("scores", HOST, key, conform(scores, SCORES))
    store.write(
        "score_evidence",
        HOST,
        key,
        pd.DataFrame(
            {
                "host": HOST,
                "window_start": [minutes[m] for m in FLAGGED],
                "templates": "[]",
                "sample_lines": "[]",
            }
        ),
    )
    ts = [hour + pd.Timedelta(seconds=s) for s in range(0, 3600, 30)]
    gpu = pd.DataFrame(
        [
            {
                "ts": t,
                "host": HOST,
                "gpu_index": g,
                "temperature_c": 55.0 + (25.0 if g == 3 and t >= minutes[40] else 0.0),
                "power_w": 300.0 - (250.0 if g == 3 and t >= minutes[40] else 0.0),
                "util_gpu_pct": 90.0,
            }
            for t in ts
            for g in range(4)
        ]
    )
    store.write("gpu_samples", HOST, key, conform(gpu, TABLES["gpu_samples"]))
    kernel = pd.DataFrame(
        [
            {
                "ts": minutes[40] + pd.Timedelta(seconds=3),
                "host": HOST,
                "kind": "xid",
                "xid": 79,
                "message": XID,
            }
        ]
    )
    store.write("kernel_events", HOST, key, conform(kernel, TABLES["kernel_events"]))
    miner = TemplateMiner().fit([ROUTINE] * 5000)
    rng = np.random.default_rng(3)
    lines = pd.DataFrame(
        {
            "ts": sorted(hour + pd.to_timedelta(rng.uniform(0, 3600, 3017), unit="s")),
            "host": HOST,
            "container": "trainer",
            "stream": "stdout",
            "message": ROUTINE,
            "level": "info",
        }
    )
    cuda = pd.DataFrame(
        [
            {
                "ts": minutes[41] + pd.Timedelta(seconds=7),
                "host": HOST,
                "container": "trainer",
                "stream": "stderr",
                "message": CUDA,
                "level": "error",
            }
        ]
    )
    docker = pd.concat([lines, cuda], ignore_index=True).sort_values("ts")
    docker["template_id"] = list(miner.match(docker["message"].tolist()))
    store.write("docker_lines", HOST, key, conform(docker, TABLES["docker_lines"]))
    store.write("journal_entries", HOST, key, conform(pd.DataFrame(), TABLES["journal_entries"]))
    save_template_miner(str(storage), miner, set())


def _shots(tmp_path: Path) -> Path:
    """Where screenshots go: $MLOPS_E2E_SCREENSHOTS (kept after the run) or the test's tmp folder."""
    where = Path(os.getenv("MLOPS_E2E_SCREENSHOTS") or tmp_path)
    where.mkdir(parents=True, exist_ok=True)
    return where


def _metadata(ui: DagsterUI, asset: str) -> dict[str, Any]:
    res = ui.client.execute(METADATA, {"key": {"path": [asset]}})["assetOrError"]
    (mat,) = res["assetMaterializations"]
    return {e["label"]: e.get("path") or e.get("mdStr") for e in mat["metadataEntries"]}


@pytest.fixture(scope="module")
def triaged(dagster_ui: DagsterUI) -> dict[str, Any]:
    hour = pd.Timestamp(datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=2))
    _prepare(dagster_ui.mlops_home / "storage", hour)
    client = dagster_ui.client
    run_id = launch_assets_run(
        client,
        LOCATION_NAME,
        implicit_asset_job(client, "incidents"),
        ["incidents", "incident_triage"],
        [],
        {},
    )
    status = wait_for_run(client, run_id, timeout_s=240)
    assert status == "SUCCESS", run_errors(client, run_id)
    return {
        "incidents": _metadata(dagster_ui, "incidents"),
        "triage": _metadata(dagster_ui, "incident_triage"),
    }


def test_the_report_names_the_gpu_the_action_and_the_unusual_lines(
    triaged: dict[str, Any], chromium_page: Any, tmp_path: Path
) -> None:
    report = Path(triaged["triage"]["incident_report"])
    table = pd.read_parquet(triaged["triage"]["triage_table_path"])
    (row,) = table.to_dict("records")
    first_action = json.loads(row["summary"])["hypotheses"][0]["immediate_actions"][0]
    page = chromium_page
    page.goto(report.as_uri())
    title = page.locator("h1").inner_text()
    assert f"on {HOST}: GPU 3" in title, title
    action = page.locator("#action").inner_text()
    assert first_action in action, (action, first_action)
    unusual = page.locator("h2#unusual + p + table").inner_text()
    assert "Xid (PCI:0000:3b:00): 79" in unusual and "illegal memory access" in unusual, unusual
    assert "GET /healthz" not in page.locator("body").inner_text()  # routine lines are counted, not listed
    omitted = re.search(r"(\d+) routine line\(s\)", page.locator("body").inner_text())
    assert omitted and int(omitted.group(1)) > 100  # ~3017/60 routine lines a minute, 4 minutes
    width = page.locator("img[alt=timeline]").evaluate("img => img.naturalWidth")
    assert width > 500
    shot = _shots(tmp_path) / "incident_report.png"
    page.screenshot(path=str(shot), full_page=True)
    print(f"incident report screenshot: {shot}")


def test_the_asset_page_shows_the_incident_table(
    dagster_ui: DagsterUI, triaged: dict[str, Any], chromium_page: Any, tmp_path: Path
) -> None:
    md = triaged["incidents"]["newest_incidents"]
    assert md.startswith("| time | host | gpu | severity | kind | action | summary") and HOST in md
    page = chromium_page
    page.goto(f"{dagster_ui.url}/assets/incidents")
    page.get_by_text("newest_incidents").first.wait_for(timeout=60_000)
    more = page.get_by_text("[Show Markdown]")
    if more.count():
        row = page.locator("tr", has=page.get_by_text("newest_incidents", exact=True)).first
        row.get_by_text("[Show Markdown]").click()
    cell = page.locator("table td", has_text="xid_fatal").first
    cell.wait_for(timeout=30_000)
    table = page.locator("table", has=cell).last
    text = table.inner_text()
    assert HOST in text and "xid_fatal" in text and "3" in text, text
    table.scroll_into_view_if_needed()
    shot = _shots(tmp_path) / "incidents_asset_page.png"
    page.screenshot(path=str(shot))  # the viewport, scrolled to the incident table
    print(f"incidents asset page screenshot: {shot}")
    assert shot.stat().st_size > 10_000
