"""Ingest sensors on a real (ephemeral) Dagster instance: host discovery, new-hour run requests with
content-identity run_keys, bounded backfill, and a down host that never blocks the others."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pytest

from mlops_assets.defs.ingest.assets import raw_logs
from mlops_assets.defs.ingest.sensors import (
    RAW_ASSET_KEYS,
    host_discovery_sensor,
    ingest_sensors,
    new_data_sensor,
)
from mlops_assets.resources import LogSourceResource, StorageResource
from mlops_assets_tests.sshd import SIM_HOST, LocalSshd, free_port, simulate_host, start_or_skip


@pytest.fixture(scope="module")
def sim_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return simulate_host(tmp_path_factory.mktemp("sim"))


@pytest.fixture
def instance() -> Iterator[dg.DagsterInstance]:
    with dg.instance_for_test() as inst:
        yield inst


def defs_with(log_source: LogSourceResource, tmp_path: Path) -> dg.Definitions:
    return dg.Definitions(
        assets=[raw_logs],
        sensors=ingest_sensors,
        resources={"log_source": log_source, "storage": StorageResource(root=str(tmp_path / "store"))},
    )


def tick(
    sensor: dg.SensorDefinition, inst: dg.DagsterInstance, defs: dg.Definitions, cursor: str | None = None
):
    ctx = dg.build_sensor_context(
        instance=inst,
        instance_ref=inst.get_ref(),
        definitions=defs,
        cursor=cursor,
        resources={"log_source": defs.resources["log_source"]},
    )
    return sensor.evaluate_tick(ctx)


def apply_partition_requests(inst: dg.DagsterInstance, data) -> None:
    for req in data.dynamic_partitions_requests or []:
        if isinstance(req, dg.AddDynamicPartitionsRequest):
            inst.add_dynamic_partitions(req.partitions_def_name, list(req.partition_keys))
        else:
            for key in req.partition_keys:
                inst.delete_dynamic_partition(req.partitions_def_name, key)


def test_sensors_start_running_and_target_the_raw_assets(tmp_path: Path) -> None:
    assert {s.name for s in ingest_sensors} == {"host_discovery_sensor", "new_data_sensor"}
    assert all(s.default_status == dg.DefaultSensorStatus.RUNNING for s in ingest_sensors)
    graph = defs_with(
        LogSourceResource(kind="directory", directory=str(tmp_path)), tmp_path
    ).resolve_asset_graph()
    assert set(new_data_sensor.asset_selection.resolve(graph)) == set(RAW_ASSET_KEYS)


def test_directory_discovery_adds_hosts_and_prunes_only_when_asked(
    sim_root: Path, tmp_path: Path, instance: dg.DagsterInstance, monkeypatch: pytest.MonkeyPatch
) -> None:
    defs = defs_with(LogSourceResource(kind="directory", directory=str(sim_root)), tmp_path)
    data = tick(host_discovery_sensor, instance, defs)
    apply_partition_requests(instance, data)
    assert instance.get_dynamic_partitions("hosts") == [SIM_HOST]
    assert "no new hosts" in tick(host_discovery_sensor, instance, defs).skip_message

    instance.add_dynamic_partitions("hosts", ["old-node-09"])
    data = tick(host_discovery_sensor, instance, defs)
    assert "old-node-09" in data.skip_message and "MLOPS_PRUNE_RETIRED_HOSTS" in data.skip_message
    monkeypatch.setenv("MLOPS_PRUNE_RETIRED_HOSTS", "1")
    apply_partition_requests(instance, tick(host_discovery_sensor, instance, defs))
    assert instance.get_dynamic_partitions("hosts") == [SIM_HOST]


def test_directory_new_data_requests_complete_hours_once_with_bounded_backfill(
    sim_root: Path, tmp_path: Path, instance: dg.DagsterInstance, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLOPS_SENSOR_BACKFILL_HOURS", "3")
    defs = defs_with(LogSourceResource(kind="directory", directory=str(sim_root)), tmp_path)
    assert "no new complete hours" in tick(new_data_sensor, instance, defs).skip_message  # nothing registered
    instance.add_dynamic_partitions("hosts", [SIM_HOST])
    data = tick(new_data_sensor, instance, defs)
    # Simulated data ends at 05:59:50, so 05:00 is incomplete: the last 3 complete hours are 02-04.
    keys = [r.partition_key for r in data.run_requests]
    assert [k.keys_by_dimension["hour"] for k in keys] == [
        "2026-11-01-02:00",
        "2026-11-01-03:00",
        "2026-11-01-04:00",
    ]
    assert all(set(r.asset_selection) == set(RAW_ASSET_KEYS) for r in data.run_requests)
    assert data.run_requests[0].tags["mlops/fleet_hour"] == "2026-11-01-02:00"
    assert data.run_requests[0].run_key.startswith(f"fleet:2026-11-01-02:00:{SIM_HOST}:")
    again = tick(new_data_sensor, instance, defs, cursor=data.cursor)
    assert not again.run_requests and "no new complete hours" in again.skip_message


def test_new_data_starts_after_hours_already_collected_by_other_runs(
    sim_root: Path, tmp_path: Path, instance: dg.DagsterInstance, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`make demo` collects hours directly; the sensor must not collect them again on its first tick."""
    monkeypatch.setenv("MLOPS_SENSOR_BACKFILL_HOURS", "24")
    defs = defs_with(LogSourceResource(kind="directory", directory=str(sim_root)), tmp_path)
    instance.add_dynamic_partitions("hosts", [SIM_HOST])
    key = dg.MultiPartitionKey({"host": SIM_HOST, "hour": "2026-11-01-02:00"})
    result = dg.materialize([raw_logs], partition_key=key, instance=instance, resources=defs.resources)
    assert result.success
    data = tick(new_data_sensor, instance, defs)
    assert [r.partition_key.keys_by_dimension["hour"] for r in data.run_requests] == [
        "2026-11-01-03:00",
        "2026-11-01-04:00",
    ]


@pytest.mark.ssh
def test_two_ssh_hosts_one_down_still_requests_the_other(
    sim_root: Path, tmp_path: Path, instance: dg.DagsterInstance, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLOPS_SENSOR_BACKFILL_HOURS", "2")
    server: LocalSshd = start_or_skip(tmp_path / "sshd", sim_root / SIM_HOST)
    try:
        down = server.host_entry("gpu-down-01", port=free_port())  # nothing listens there
        hosts_file = server.write_hosts_file(tmp_path / "hosts.yaml", [server.host_entry(SIM_HOST), down])
        resource = LogSourceResource(kind="ssh", hosts_file=str(hosts_file), cursor_dir=str(tmp_path / "cur"))
        defs = defs_with(resource, tmp_path)
        apply_partition_requests(instance, tick(host_discovery_sensor, instance, defs))
        assert sorted(instance.get_dynamic_partitions("hosts")) == ["gpu-down-01", SIM_HOST]

        data = tick(new_data_sensor, instance, defs)
        assert {r.partition_key.keys_by_dimension["host"] for r in data.run_requests} == {SIM_HOST}
        assert len(data.run_requests) == 2

        only_down = server.write_hosts_file(tmp_path / "down.yaml", [down])
        down_defs = defs_with(
            LogSourceResource(kind="ssh", hosts_file=str(only_down), cursor_dir=str(tmp_path / "c2")),
            tmp_path,
        )
        instance.delete_dynamic_partition("hosts", SIM_HOST)
        skip = tick(new_data_sensor, instance, down_defs).skip_message
        assert "gpu-down-01 unreachable" in skip and "cannot connect" in skip

        # New data on the live host -> only the newly completed hour is requested, with a new fingerprint.
        instance.add_dynamic_partitions("hosts", [SIM_HOST])
        csv = sim_root / SIM_HOST / "nvidia-smi.csv"
        original = csv.read_bytes()
        last = original.splitlines(keepends=True)[-1]
        try:
            csv.write_bytes(original + b"2026/11/01 06:00:05.000" + last[23:])
            more = tick(new_data_sensor, instance, defs, cursor=data.cursor)
        finally:
            csv.write_bytes(original)
        assert [r.partition_key.keys_by_dimension["hour"] for r in more.run_requests] == ["2026-11-01-05:00"]
        assert more.run_requests[0].run_key != data.run_requests[-1].run_key
    finally:
        server.stop()


@pytest.mark.ssh
def test_requested_run_collects_over_ssh_and_advances_the_cursor(
    sim_root: Path, tmp_path: Path, instance: dg.DagsterInstance, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The sensor's RunRequest, executed: raw_logs fetches over SSH, stores, then commits the cursor."""
    from mlops_assets.defs.partitions import window_of
    from mlops_assets.lib.storage.partition_store import PartitionStore, read_raw_members
    from mlops_assets.sources.directory import DirectorySource

    monkeypatch.setenv("MLOPS_SENSOR_BACKFILL_HOURS", "1")
    server: LocalSshd = start_or_skip(tmp_path / "sshd", sim_root / SIM_HOST)
    try:
        hosts_file = server.write_hosts_file(tmp_path / "hosts.yaml", [server.host_entry(SIM_HOST)])
        resource = LogSourceResource(kind="ssh", hosts_file=str(hosts_file), cursor_dir=str(tmp_path / "cur"))
        defs = defs_with(resource, tmp_path)
        instance.add_dynamic_partitions("hosts", [SIM_HOST])
        (request,) = tick(new_data_sensor, instance, defs).run_requests
        result = dg.materialize(
            [raw_logs],
            instance=instance,
            partition_key=request.partition_key,
            resources={"log_source": resource, "storage": StorageResource(root=str(tmp_path / "store"))},
        )
        assert result.success
    finally:
        server.stop()
    hour_key = request.partition_key.keys_by_dimension["hour"]
    assert hour_key == "2026-11-01-04:00"  # the newest complete hour of the simulated 6 h
    expected = DirectorySource(sim_root).fetch(SIM_HOST, *window_of(hour_key))
    store = PartitionStore(str(tmp_path / "store"))
    for source, members in expected.items():
        assert read_raw_members(store, source, SIM_HOST, hour_key) == members
    assert (tmp_path / "cur" / f"{SIM_HOST}.json").exists()
