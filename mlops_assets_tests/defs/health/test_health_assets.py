"""health_events + incidents (+ rule triage) with dg.materialize on a test instance: a burst of real
Xid lines on an otherwise quiet host is an incident within its first minute, naming code, GPU, action."""

from __future__ import annotations

import json
from pathlib import Path

import dagster as dg
import numpy as np
import pandas as pd
import pytest

from mlops_assets.defs.health.assets import health_events
from mlops_assets.defs.monitor.incidents import incidents
from mlops_assets.defs.notify.assets import incident_triage
from mlops_assets.defs.partitions import HOURLY_FMT
from mlops_assets.lib.contracts.tables import HEALTH_EVENTS, INCIDENTS, TABLES, conform, empty_frame
from mlops_assets.lib.parsing.kernel import parse_kernel
from mlops_assets.lib.storage.partition_store import PartitionStore, read_parquet
from mlops_assets.notify.resources import TriageResource
from mlops_assets.resources import StorageResource
from mlops_assets_tests.realdata import realdata_dir

HOST = "xe9680-01"
HOUR = pd.Timestamp("2026-11-02 10:00", tz="UTC")
KEY = HOUR.strftime(HOURLY_FMT)
BURST_AT = HOUR + pd.Timedelta(minutes=17, seconds=3)
# nvidia-smi's pci.bus_id of this 8-GPU host: GPU 4 sits at 9B, the bus of the real Xid 119 burst
PCIS = ["18", "2A", "3A", "5D", "9B", "BB", "CB", "DB"]
UUIDS = [f"GPU-0000000{g}-aaaa-bbbb-cccc-000000000000" for g in range(8)]


def quiet_samples(hour: pd.Timestamp) -> pd.DataFrame:
    """Eight healthy busy GPUs sampled every 10 s (pci_bus as the parsing helper adds it)."""
    ts = pd.date_range(hour, hour + pd.Timedelta(minutes=59, seconds=50), freq="10s")
    rng = np.random.default_rng(1)
    rows = [
        {
            "ts": t,
            "host": HOST,
            "gpu_index": g,
            "gpu_uuid": UUIDS[g],
            "gpu_name": "NVIDIA H100 80GB HBM3",
            "temperature_c": 55 + rng.normal(0, 1),
            "util_gpu_pct": 90.0,
            "power_w": 520.0,
            "power_limit_w": 700.0,
            "throttle_reasons": 0,
            "ecc_uncorrected": 0,
        }
        for t in ts
        for g in range(8)
    ]
    df = conform(pd.DataFrame(rows), TABLES["gpu_samples"])
    return df.assign(pci_bus=[f"00000000:{PCIS[g]}:00.0" for g in df["gpu_index"]])


def replayed_burst() -> pd.DataFrame:
    """The real Xid 119 sample (driver lines, RPC history, stack) with fresh timestamps."""
    data = (realdata_dir("kernel_dmesg") / "leptonai_gpud__dmesg-with-xid-119.log").read_bytes()
    table = parse_kernel(data, HOST).table
    shift = BURST_AT - pd.Timestamp(table["ts"].min())
    return table.assign(ts=table["ts"] + shift, host=HOST)


def write_hour(store: PartitionStore, hour: pd.Timestamp, kernel: pd.DataFrame, boot: str) -> None:
    key = hour.strftime(HOURLY_FMT)
    journal = conform(
        pd.DataFrame(
            [
                {
                    "ts": hour + pd.Timedelta(minutes=m),
                    "host": HOST,
                    "identifier": "systemd",
                    "priority": 6,
                    "message": "Started Session of user ops.",
                    "boot_id": boot,
                }
                for m in (1, 30)
            ]
        ),
        TABLES["journal_entries"],
    )
    store.write("gpu_samples", HOST, key, quiet_samples(hour))
    store.write("kernel_events", HOST, key, conform(kernel, TABLES["kernel_events"]))
    store.write("journal_entries", HOST, key, journal)
    for name in ("gpu_errors", "docker_lines", "docker_events"):
        store.write(name, HOST, key, empty_frame(TABLES[name]))


def materialize_hour(instance: dg.DagsterInstance, storage: StorageResource, hour: pd.Timestamp) -> dict:
    result = dg.materialize(
        [health_events],
        instance=instance,
        resources={"storage": storage},
        partition_key=dg.MultiPartitionKey({"host": HOST, "hour": hour.strftime(HOURLY_FMT)}),
    )
    return result.asset_materializations_for_node("health_events")[0].metadata


@pytest.fixture()
def storage(tmp_path: Path) -> StorageResource:
    return StorageResource(root=str(tmp_path / "storage"))


def test_real_xid_burst_on_a_quiet_host_is_an_incident_within_its_first_minute(
    storage: StorageResource,
) -> None:
    store = PartitionStore(storage.root)
    write_hour(store, HOUR, replayed_burst(), "boot-1")
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions("hosts", [HOST])
        md = materialize_hour(instance, storage, HOUR)
        events = store.read("health_events", HOST, KEY)
        assert (
            list(events.columns) == list(HEALTH_EVENTS) and md["dagster/row_count"].value == len(events) == 5
        )
        assert set(events["code"]) == {"XID_119"} and set(events["gpu_index"]) == {4}
        assert set(events["gpu_uuid"]) == {UUIDS[4]} and set(events["boot_id"]) == {"boot-1"}
        inc_md = (
            dg.materialize([incidents], instance=instance, resources={"storage": storage})
            .asset_materializations_for_node("incidents")[0]
            .metadata
        )
        table = read_parquet(inc_md["table_path"].value)
        assert list(table.columns) == list(INCIDENTS) and inc_md["health_incidents"].value == 1
        (inc,) = table.itertuples()
        assert (inc.layer, inc.kind, inc.action, inc.severity, inc.gpu_index) == (
            "health",
            "XID_119",
            "reset_gpu",
            "critical",
            4,
        )
        assert (inc.gpu_uuid, inc.pci_bus) == (UUIDS[4], "0000:9b:00") and pd.isna(inc.model_version)
        assert pd.Timestamp(inc.start) <= BURST_AT < pd.Timestamp(inc.start) + pd.Timedelta(minutes=1)
        triaged = (
            dg.materialize(
                [incident_triage],
                instance=instance,
                resources={"storage": storage, "triage": TriageResource(use_llm=False)},
            )
            .asset_materializations_for_node("incident_triage")[0]
            .metadata
        )
    summary = json.loads(read_parquet(triaged["triage_table_path"].value)["summary"].iloc[0])
    text = summary["summary"]
    assert "Xid 119" in text and "GSP RPC Timeout" in text and "GPU 4" in text and UUIDS[4] in text
    assert "reset_gpu" in text and "nvidia-smi -r" in text
    # the burst is one incident, not one per line; re-materializing replaces, never duplicates
    assert json.loads(inc.evidence)["events"] == 5


def test_escalation_reads_the_hosts_earlier_partitions(storage: StorageResource) -> None:
    """Xid 119 again after two reboots (three journal boots): the action becomes hardware_inspection."""
    store = PartitionStore(storage.root)
    hours = [HOUR - pd.Timedelta(days=2), HOUR - pd.Timedelta(days=1), HOUR]
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions("hosts", [HOST])
        for i, hour in enumerate(hours):
            burst = replayed_burst().assign(ts=lambda d, h=hour: d["ts"] - (HOUR - h))
            write_hour(store, hour, burst, f"boot-{i}")
            md = materialize_hour(instance, storage, hour)
        events = store.read("health_events", HOST, KEY)
    assert set(events["action"]) == {"hardware_inspection"} and md["escalated"].value == 5
    assert md["history_events"].value == 10
    earlier = store.read("health_events", HOST, hours[1].strftime(HOURLY_FMT))
    assert set(earlier["action"]) == {"reset_gpu"}  # one reboot is not enough to escalate


def test_a_range_run_judges_each_hour_in_order(storage: StorageResource) -> None:
    """One run over three consecutive hours (as the demo's and catch-up range runs): every partition is
    materialized, and the third hour's Xid escalates on the two earlier hours written in the same run."""
    from mlops_assets.defs.partitions import fleet_range_tags

    store = PartitionStore(storage.root)
    hours = [HOUR + pd.Timedelta(hours=i) for i in range(3)]
    for i, hour in enumerate(hours):
        write_hour(
            store, hour, replayed_burst().assign(ts=lambda d, h=hour: d["ts"] + (h - HOUR)), f"boot-{i}"
        )
    keys = [h.strftime(HOURLY_FMT) for h in hours]
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions("hosts", [HOST])
        result = dg.materialize(
            [health_events],
            instance=instance,
            resources={"storage": storage},
            tags=fleet_range_tags(HOST, HOST, keys[0], keys[-1]),
        )
        assert result.success
        done = {str(k) for k in instance.get_materialized_partitions(dg.AssetKey("health_events"))}
        records = instance.fetch_materializations(dg.AssetKey("health_events"), limit=10).records
    assert done == {f"{HOST}|{k}" for k in keys}
    # each hour's own figures on its own event (the fleet's table is not copied onto every partition)
    by_hour = {r.partition_key: r.asset_materialization.metadata for r in records}
    assert sorted(by_hour) == sorted(done)
    escalated = [by_hour[f"{HOST}|{k}"]["escalated"].value for k in keys]
    assert escalated[0] == 0 and sum(escalated) == 5, escalated
    assert all(md["fleet/host_hours"].value == 3 for md in by_hour.values())
    assert set(store.read("health_events", HOST, keys[0])["action"]) == {"reset_gpu"}
    assert set(store.read("health_events", HOST, keys[-1])["action"]) == {"hardware_inspection"}
