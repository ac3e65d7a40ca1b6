"""defs/stages.py: a stage's host-hours run as ONE range run only when they form the rectangle a
range covers (hosts contiguous in registration order x consecutive hours); otherwise one run each."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import dagster as dg
import pytest

from mlops_assets.defs.partitions import RANGE_END_TAG, RANGE_START_TAG, host_hour_key
from mlops_assets.defs.stages import range_tags

HOSTS = ["gpu-node-01", "gpu-node-02", "gpu-node-03"]
T0 = datetime(2026, 11, 3, 22, tzinfo=UTC)


def _keys(hosts: list[str], hours: list[int]) -> list[dg.MultiPartitionKey]:
    return [host_hour_key(h, T0 + timedelta(hours=i)) for h in hosts for i in hours]


@pytest.fixture
def instance():
    with dg.instance_for_test() as inst:
        inst.add_dynamic_partitions("hosts", HOSTS)
        yield inst


def test_a_rectangle_becomes_one_range_across_midnight(instance: dg.DagsterInstance) -> None:
    tags = range_tags(instance, _keys(HOSTS[:2], list(range(4))))
    assert tags == {
        RANGE_START_TAG: "gpu-node-01|2026-11-03-22:00",
        RANGE_END_TAG: "gpu-node-02|2026-11-04-01:00",
    }


@pytest.mark.parametrize(
    "hosts, hours",
    [
        (["gpu-node-01", "gpu-node-03"], [0, 1]),  # a range would also cover gpu-node-02
        (HOSTS, [0, 2]),  # a range would also cover the hour between
        (["gpu-node-09"], [0, 1]),  # not a registered host
    ],
)
def test_what_a_range_would_widen_is_not_a_range(
    instance: dg.DagsterInstance, hosts: list[str], hours: list[int]
) -> None:
    assert range_tags(instance, _keys(hosts, hours)) is None


def test_a_ragged_set_is_not_a_range(instance: dg.DagsterInstance) -> None:
    keys = _keys(HOSTS[:1], [0, 1]) + _keys(HOSTS[1:2], [0])  # hosts x hours product has 4, keys 3
    assert range_tags(instance, keys) is None
