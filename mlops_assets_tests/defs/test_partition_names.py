"""A host partition added by hand (UI, GraphQL, the instance API) named like a path: the run fails
loudly before any source is read, and nothing is written inside or outside the storage root."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pytest

from mlops_assets.defs.ingest.assets import raw_logs
from mlops_assets.resources import LogSourceResource, StorageResource
from mlops_assets_tests.sshd import SIM_HOST


@pytest.fixture
def instance() -> Iterator[dg.DagsterInstance]:
    with dg.instance_for_test() as inst:
        yield inst


@pytest.mark.parametrize("hostile", ["../x", "../../x", "/tmp/x"])
def test_hostile_dynamic_partition_fails_without_writing(
    hostile: str, sim_root: Path, tmp_path: Path, instance: dg.DagsterInstance
) -> None:
    landing = tmp_path / "landing" / "inner"
    landing.mkdir(parents=True)
    shutil.copytree(sim_root / SIM_HOST, landing / SIM_HOST)
    shutil.copytree(sim_root / SIM_HOST, tmp_path / "landing" / "x")  # what `../x` would point at
    store_root = tmp_path / "store"
    before = sorted(p for p in tmp_path.rglob("*"))

    instance.add_dynamic_partitions("hosts", [hostile])
    assert hostile in instance.get_dynamic_partitions("hosts")
    result = dg.materialize(
        [raw_logs],
        partition_key=dg.MultiPartitionKey({"host": hostile, "hour": "2026-11-01-02:00"}),
        instance=instance,
        resources={
            "log_source": LogSourceResource(kind="directory", directory=str(landing)),
            "storage": StorageResource(root=str(store_root)),
        },
        raise_on_error=False,
    )
    assert not result.success
    failure = next(e for e in result.all_events if e.is_step_failure)
    error = failure.step_failure_data.error
    message = "".join(e.message for e in (error, error.cause) if e is not None)
    assert "cannot name storage or partitions" in message and "1-63 characters of letters" in message
    assert sorted(p for p in tmp_path.rglob("*")) == before
    assert not store_root.exists()
