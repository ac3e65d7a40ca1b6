"""Catch-up and one run per fleet-hour on a real instance: the sensor's requests executed as the daemon
would, then the automation conditions evaluated over later ticks (they must request nothing twice)."""

from __future__ import annotations

import shutil
from pathlib import Path

import dagster as dg
import pytest

from mlops_assets.defs.partitions import RANGE_END_TAG, RANGE_START_TAG
from mlops_assets.lib.storage.partition_store import PartitionStore
from mlops_assets_tests.defs.fleet_fixtures import (
    HOSTS,
    HOURS,
    all_keys,
    automation_runs,
    execute,
    fleet_defs,
    mark_parents_present,
    materialized,
    requested,
    sensor_tick,
    simulate_fleet,
)

DOWNSTREAM = ("parsed_gpu", "parsed_journal", "window_features", "anomaly_scores")


@pytest.fixture(scope="module")
def landing(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return simulate_fleet(tmp_path_factory.mktemp("fleet"))


@pytest.fixture
def instance():
    with dg.instance_for_test() as inst:
        inst.add_dynamic_partitions("hosts", list(HOSTS))
        yield inst


def test_three_catch_up_hours_one_run_each_all_scored_once(
    landing: Path, tmp_path: Path, instance: dg.DagsterInstance, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLOPS_SENSOR_BACKFILL_HOURS", "3")
    defs = fleet_defs(landing, tmp_path, monkeypatch)
    mark_parents_present(instance)
    auto = dg.evaluate_automation_conditions(defs=defs, instance=instance)
    data = sensor_tick(defs, instance)
    assert len(data.run_requests) == 3, "one run per fleet-hour, oldest first"
    for request, hour in zip(data.run_requests, HOURS, strict=True):
        assert request.tags[RANGE_START_TAG] == f"{HOSTS[0]}|{hour}"
        assert request.tags[RANGE_END_TAG] == f"{HOSTS[-1]}|{hour}"
        assert {k.to_user_string() for k in request.asset_selection} >= set(DOWNSTREAM)
        result = execute(defs, instance, request)
        assert result.success
    for key in DOWNSTREAM:
        assert materialized(instance, key) == all_keys(), key
    store = PartitionStore(str(tmp_path / "store"))
    assert {(h, k) for h in store.hosts("scores") for k in store.keys("scores", h)} == {
        (h, k) for h in HOSTS for k in HOURS
    }
    runs = instance.get_runs()
    assert len(runs) == 3
    # Exactly once: the children were materialized after their parents in the same run, so no
    # later tick requests any host-hour again; the incidents follow the new scores once.
    auto = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=auto.cursor)
    assert requested(defs, auto) == {("incidents", "None")}
    (run,) = automation_runs(defs, auto)
    assert execute(defs, instance, run).success
    for _ in range(3):
        auto = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=auto.cursor)
        assert auto.total_requested == 0, requested(defs, auto)


def test_one_failing_host_is_named_not_materialized_and_the_others_are_scored(
    landing: Path, tmp_path: Path, instance: dg.DagsterInstance, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A host whose logs vanish between the probe and the collection: the fleet-hour's collect step
    records every other host-hour, then fails naming the lost one, which is FAILED (not materialized
    with an error). The automation's next tick carries the others through to scores."""
    monkeypatch.setenv("MLOPS_SENSOR_BACKFILL_HOURS", "1")
    mixed = tmp_path / "landing"
    mixed.mkdir()
    for host in HOSTS:
        (mixed / host).symlink_to(landing / host)
    defs = fleet_defs(mixed, tmp_path, monkeypatch)
    mark_parents_present(instance)
    auto = dg.evaluate_automation_conditions(defs=defs, instance=instance)
    (request,) = sensor_tick(defs, instance).run_requests
    (mixed / HOSTS[1]).unlink()
    result = execute(defs, instance, request)
    hour, lost = HOURS[-1], f"{HOSTS[1]}|{HOURS[-1]}"
    good = {f"{h}|{hour}" for h in (HOSTS[0], HOSTS[2])}
    assert not result.success
    (failure,) = [e for e in result.all_events if e.is_step_failure]
    assert failure.step_key == "raw_logs"
    assert lost in failure.event_specific_data.error.message
    assert "unknown host" in failure.event_specific_data.error.message
    for src in ("raw_gpu", "raw_journal"):
        assert materialized(instance, src) == good, src
        status = instance.get_status_by_partition(
            dg.AssetKey(src), [lost], defs.resolve_assets_def(src).partitions_def
        )
        assert status == {lost: dg.AssetPartitionStatus.FAILED}, "shown as failed, not green"
    # The lost host, registered but never collected, is named by the freshness verdict of each source.
    (fresh,) = [
        e
        for e in _check_evaluations(instance, result.run_id)
        if e.asset_key == dg.AssetKey("raw_journal") and e.check_name == "raw_freshness"
    ]
    assert fresh.metadata["hosts_behind"].value[HOSTS[1]] == "never collected" and not fresh.passed
    # Per host x hour events carry their OWN figures.
    gpu_raw = _partition_events(instance, "raw_gpu", result.run_id)
    assert set(gpu_raw) == good and all(md["lines"].value > 0 for md in gpu_raw.values())

    auto = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=auto.cursor)
    assert {p for a, p in requested(defs, auto) if a == "parsed_gpu"} == good, "only the collected ones"
    for _ in range(3):  # parse -> features / health -> scores, one tick each
        for run in automation_runs(defs, auto):
            assert execute(defs, instance, run).success
        auto = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=auto.cursor)
    assert materialized(instance, "anomaly_scores") == good
    store = PartitionStore(str(tmp_path / "store"))
    assert sorted(store.hosts("scores")) == [HOSTS[0], HOSTS[2]]
    gpu = _partition_events(instance, "parsed_gpu", None)
    for host in (HOSTS[0], HOSTS[2]):
        rows = len(store.read("gpu_samples", host, hour))
        assert gpu[f"{host}|{hour}"]["dagster/row_count"].value == rows, "a partition's own rows"


def test_a_range_step_records_each_host_hour_on_its_own_event(
    landing: Path, tmp_path: Path, instance: dg.DagsterInstance, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLOPS_SENSOR_BACKFILL_HOURS", "1")
    defs = fleet_defs(landing, tmp_path, monkeypatch)
    mark_parents_present(instance)
    (request,) = sensor_tick(defs, instance).run_requests
    result = execute(defs, instance, request)
    assert result.success
    hour = HOURS[-1]
    store = PartitionStore(str(tmp_path / "store"))
    gpu = _partition_events(instance, "parsed_gpu", result.run_id)
    assert set(gpu) == {f"{h}|{hour}" for h in HOSTS}
    for host in HOSTS:
        rows = len(store.read("gpu_samples", host, hour))
        assert gpu[f"{host}|{hour}"]["dagster/row_count"].value == rows, "a partition's own rows"
    assert "by_host_hour" not in gpu[f"{HOSTS[0]}|{hour}"], "no fleet table copied onto every partition"
    with_schema = [k for k, md in gpu.items() if "dagster/column_schema" in md]
    assert with_schema == [f"{HOSTS[0]}|{hour}"], "the (identical) schema once per range step, not per event"
    verdicts = {
        (e.partition, e.check_name)
        for e in _check_evaluations(instance, result.run_id)
        if e.asset_key == dg.AssetKey("parsed_gpu")
    }
    assert verdicts == {
        (f"{h}|{hour}", c) for h in HOSTS for c in ("quarantine_rate", "column_schema", "timestamps_in_order")
    }
    # Freshness: ONE verdict per source for the whole fleet (the simulated hours are in the past)
    (fresh,) = [
        e for e in _check_evaluations(instance, result.run_id) if e.asset_key == dg.AssetKey("raw_gpu")
    ]
    assert fresh.check_name == "raw_freshness" and fresh.partition is None and not fresh.passed
    assert sorted(fresh.metadata["hosts_behind"].value) == list(HOSTS)
    assert fresh.metadata["worst_lag_hours"].value > fresh.metadata["max_lag_hours"].value


def _partition_events(instance: dg.DagsterInstance, key: str, run_id: str | None) -> dict[str, dict]:
    """partition -> metadata of the asset's newest materializations (of ``run_id`` when given)."""
    records = instance.fetch_materializations(dg.AssetKey(key), limit=100).records  # newest first
    out: dict[str, dict] = {}
    for r in records:
        if (run_id is None or r.run_id == run_id) and r.partition_key not in out:
            out[r.partition_key] = dict(r.asset_materialization.metadata)
    return out


def _check_evaluations(instance: dg.DagsterInstance, run_id: str) -> list:
    return [
        e.dagster_event.event_specific_data
        for e in instance.all_logs(run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION)
    ]


def test_a_failed_blocking_check_in_a_fleet_hour_run_stops_its_downstream_steps(
    landing: Path, tmp_path: Path, instance: dg.DagsterInstance, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One host's GPU rows of the hour are cut short (quarantined: far above the blocking rate): the
    parse step fails naming that host-hour after recording every verdict, and no downstream step of
    the run reads it."""
    monkeypatch.setenv("MLOPS_SENSOR_BACKFILL_HOURS", "1")
    mixed = tmp_path / "landing"
    mixed.mkdir()
    for host in (HOSTS[0], HOSTS[2]):
        (mixed / host).symlink_to(landing / host)
    bad = mixed / HOSTS[1]
    shutil.copytree(landing / HOSTS[1], bad)
    lines = (bad / "nvidia-smi.csv").read_text().splitlines()
    day, clock = HOURS[-1].split("-")[:3], HOURS[-1].split("-")[3][:2]
    prefix = f"{'/'.join(day)} {clock}:"  # nvidia-smi's "YYYY/MM/DD HH:" of the last hour
    cut = [",".join(ln.split(",")[:4]) if ln.startswith(prefix) else ln for ln in lines]
    assert cut != lines
    (bad / "nvidia-smi.csv").write_text("\n".join(cut) + "\n")
    defs = fleet_defs(mixed, tmp_path, monkeypatch)
    mark_parents_present(instance)
    (request,) = sensor_tick(defs, instance).run_requests
    result = execute(defs, instance, request)
    assert not result.success
    verdicts = {
        (e.partition, e.check_name): e.passed
        for e in _check_evaluations(instance, result.run_id)
        if e.asset_key == dg.AssetKey("parsed_gpu")
    }
    bad_key = f"{HOSTS[1]}|{HOURS[-1]}"
    assert verdicts[(bad_key, "quarantine_rate")] is False
    assert all(verdicts[(f"{h}|{HOURS[-1]}", "quarantine_rate")] for h in (HOSTS[0], HOSTS[2]))
    (failure,) = [e for e in result.all_events if e.is_step_failure and e.step_key == "parsed_gpu"]
    assert bad_key in failure.event_specific_data.error.message
    assert "window_features" not in {e.step_key for e in result.all_events if e.is_step_success}
    assert HOSTS[1] not in PartitionStore(str(tmp_path / "store")).hosts("features")
