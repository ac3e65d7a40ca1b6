"""The Dagster UI end to end: the real webserver serving workspace.yaml, driven over GraphQL and in Chromium.

One simulated host's last two hours land in $MLOPS_HOME/raw; the host is added as a dynamic partition
and one host x hour partition of the raw logs + parsed_gpu is launched exactly as the UI's
"Materialize" button does, then its materializations and check results are read back. The asset
graph test then checks, in headless Chromium, that every asset of the location is drawn.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import dagster as dg
import pytest

from mlops_assets_tests.e2e.asset_graph_page import (
    open_expanded_asset_graph,
    wait_statuses_loaded,
    zoom_out_until_visible,
)
from mlops_assets_tests.e2e.conftest import LOCATION_NAME, DagsterUI
from mlops_assets_tests.e2e.ui_graphql import add_dynamic_partition as add_host
from mlops_assets_tests.e2e.ui_graphql import (
    asset_names,
    check_executions,
    implicit_asset_job,
    launch_assets_run,
    materializations,
    run_errors,
    wait_for_run,
)

pytestmark = pytest.mark.e2e

HOST = "gpu-node-01"  # the simulator's name for host index 0
HOSTS_PARTITIONS = "hosts"
RAW_ASSETS = ["raw_gpu", "raw_journal", "raw_kernel", "raw_docker_logs", "raw_docker_events"]
PARSED_CHECKS = ["quarantine_rate", "column_schema", "timestamps_in_order"]  # per host-hour
GRAPH_ASSETS = ["raw_gpu", "parsed_journal", "anomaly_model"]  # must be among the assets the graph shows


def _recent_hours() -> tuple[datetime, datetime]:
    """(start of the 2 simulated hours, the hour to materialize = the last complete hour)."""
    this_hour = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    return this_hour - timedelta(hours=2), this_hour - timedelta(hours=1)


def _metadata(event: dict[str, Any], label: str) -> Any:
    return next((e.get("intValue") for e in event["metadataEntries"] if e["label"] == label), None)


@dataclass(frozen=True)
class PartitionRun:
    run_id: str
    partition: str  # the multi-partition key string, "host|hour"
    status: str


@pytest.fixture(scope="module")
def partition_run(dagster_ui: DagsterUI) -> PartitionRun:
    """Land HOST's last two hours, add HOST as a partition, launch raw_* + parsed_gpu for the last hour.

    The run is launched the way the UI's "Materialize" dialog does it: the implicit asset job with an
    asset + check selection and the multi-partition tags.
    """
    from mlops_assets.simulate import simulate

    start, hour = _recent_hours()
    summary = simulate(
        dagster_ui.mlops_home / "raw", hosts=1, gpus=2, hours=2, seed=11, start=start, faults=[]
    )
    assert summary.hosts == [HOST]
    client = dagster_ui.client
    add_host(client, LOCATION_NAME, HOSTS_PARTITIONS, HOST)
    key = dg.MultiPartitionKey({"host": HOST, "hour": hour.strftime("%Y-%m-%d-%H:%M")})
    tags = {
        "dagster/partition": str(key),
        "dagster/partition/host": HOST,
        "dagster/partition/hour": key.keys_by_dimension["hour"],
    }
    run_id = launch_assets_run(
        client,
        LOCATION_NAME,
        implicit_asset_job(client, "parsed_gpu"),
        assets=[*RAW_ASSETS, "parsed_gpu"],
        checks=[("parsed_gpu", c) for c in PARSED_CHECKS] + [(a, "raw_freshness") for a in RAW_ASSETS],
        tags=tags,
    )
    return PartitionRun(run_id, str(key), wait_for_run(client, run_id))


def test_partition_run_succeeds_and_records_materializations(
    dagster_ui: DagsterUI, partition_run: PartitionRun
) -> None:
    client, run_id, partition = dagster_ui.client, partition_run.run_id, partition_run.partition
    assert partition_run.status == "SUCCESS", (
        f"run {run_id} ended {partition_run.status}:\n{run_errors(client, run_id)}"
    )

    for asset in [*RAW_ASSETS, "parsed_gpu"]:
        events = materializations(client, asset, partition)
        assert [(e["runId"], e["partition"]) for e in events] == [(run_id, partition)], asset
    (parsed,) = materializations(client, "parsed_gpu", partition)
    row_count = _metadata(parsed, "dagster/row_count")
    assert row_count is not None and row_count > 0, parsed["metadataEntries"]


def test_partition_run_records_every_check_passing(
    dagster_ui: DagsterUI, partition_run: PartitionRun
) -> None:
    """The run evaluated parsed_gpu's three checks on fault-free data, and each passed."""
    for check in PARSED_CHECKS:
        executions = check_executions(dagster_ui.client, "parsed_gpu", check)
        assert [e["runId"] for e in executions] == [partition_run.run_id], (check, executions)
        (execution,) = executions
        assert execution["status"] == "SUCCEEDED", (check, execution)
        assert execution["evaluation"]["success"] is True, (check, execution)


def test_raw_freshness_is_one_fleet_verdict_per_source_and_passes_for_a_live_host(
    dagster_ui: DagsterUI, partition_run: PartitionRun
) -> None:
    for asset in RAW_ASSETS:
        executions = check_executions(dagster_ui.client, asset, "raw_freshness")
        assert [(e["runId"], e["partition"]) for e in executions] == [(partition_run.run_id, None)], asset
        assert executions[0]["evaluation"]["success"] is True, (asset, executions[0])


def test_check_results_are_recorded_per_partition(dagster_ui: DagsterUI, partition_run: PartitionRun) -> None:
    """The UI shows a host-hour's check status only if the check execution carries that partition."""
    for check in PARSED_CHECKS:
        executions = check_executions(dagster_ui.client, "parsed_gpu", check)
        assert [e["partition"] for e in executions] == [partition_run.partition], (
            f"check {check!r} was recorded for partition {[e['partition'] for e in executions]}, not "
            f"{partition_run.partition!r}: an AssetCheckSpec without partitions_def is unpartitioned; "
            "give it partitions_def=host_hour_partitions"
        )


def test_asset_graph_renders_in_chromium(dagster_ui: DagsterUI, chromium_page: Any, tmp_path: Path) -> None:
    names = asset_names(dagster_ui.client)
    assert set(GRAPH_ASSETS) <= set(names), names
    page = chromium_page
    open_expanded_asset_graph(page, dagster_ui.url, names)
    wait_statuses_loaded(page)
    clipped = zoom_out_until_visible(page, names)
    shot = tmp_path / "asset_graph.png"
    page.screenshot(path=str(shot))
    print(f"asset graph screenshot: {shot}")
    assert not clipped, f"assets missing from or clipped in the zoomed-out graph: {clipped}; see {shot}"
    assert shot.stat().st_size > 10_000, "the screenshot is (nearly) empty"
