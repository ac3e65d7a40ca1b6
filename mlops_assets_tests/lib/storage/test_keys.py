"""Host names and partition keys that could leave the storage root fail loudly, saying what is allowed."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from mlops_assets.lib.storage.keys import (
    HOST_NAME_RE,
    validate_host,
    validate_partition_key,
    validate_path_parts,
)
from mlops_assets.lib.storage.partition_store import PartitionStore, join

HOSTILE = [
    "../x",
    "../../etc",
    "..",
    ".",
    "/etc/passwd",
    "a/b",
    "a\\b",
    "gpu\x00node",
    "x" * 64,
    "",
    "-leading-dash",
    ".hidden",
    "a..b",
    "node 01",
    "nöde",
    "host\n",
]


@pytest.mark.parametrize("name", HOSTILE)
def test_hostile_host_names_are_refused_with_the_rule(name: str) -> None:
    with pytest.raises(ValueError, match="must be 1-63 characters of letters, digits"):
        validate_host(name)


@pytest.mark.parametrize("name", ["gpu-node-01", "a", "node.example.com", "GPU_7", "x" * 63])
def test_ordinary_host_names_pass_unchanged(name: str) -> None:
    assert validate_host(name) == name and HOST_NAME_RE.match(name)


@pytest.mark.parametrize("key", ["../x", "/abs", "2026-11-01/../..", "k\x00", "", "k" * 129, "a b"])
def test_hostile_partition_keys_are_refused(key: str) -> None:
    with pytest.raises(ValueError, match=r"partition key .* \(hourly keys look like"):
        validate_partition_key(key)


def test_hourly_and_daily_keys_pass() -> None:
    assert validate_partition_key("2026-11-01-02:00") == "2026-11-01-02:00"
    assert validate_partition_key("2026-11-01") == "2026-11-01"


@pytest.mark.parametrize("part", ["../x", "a/../b", "/etc", "a//b", "a/./b", "x\x00", "a\\b"])
def test_join_refuses_parts_that_leave_the_root(part: str) -> None:
    with pytest.raises(ValueError, match="no '..'"):
        join("/data", "reports", part)
    with pytest.raises(ValueError):
        validate_path_parts(part)


def test_join_keeps_nested_relative_parts() -> None:
    assert join("s3://bucket/root/", "templates/current.json") == "s3://bucket/root/templates/current.json"


@pytest.mark.parametrize("host", ["../x", "../../x", "/tmp/x", "a/b"])
def test_partition_store_never_writes_outside_its_root(tmp_path: Path, host: str) -> None:
    store = PartitionStore(str(tmp_path / "store"))
    with pytest.raises(ValueError, match="cannot name storage"):
        store.write("features", host, "2026-11-01-02:00", pd.DataFrame({"a": [1]}))
    with pytest.raises(ValueError, match="cannot name storage"):
        store.read("features", host, "2026-11-01-02:00")
    with pytest.raises(ValueError, match="partition key"):
        store.write("features", "gpu-node-01", "../../x", pd.DataFrame({"a": [1]}))
    with pytest.raises(ValueError, match="table name"):
        store.write("../features", "gpu-node-01", "2026-11-01-02:00", pd.DataFrame({"a": [1]}))
    assert [p for p in tmp_path.rglob("*")] == []
