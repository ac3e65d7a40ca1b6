"""raw_freshness: one verdict per source over every registered host, naming the hosts behind."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import dagster as dg

from mlops_assets.defs.ingest.freshness import MAX_RAW_LAG_HOURS, freshness_result
from mlops_assets.lib.storage.partition_store import PartitionStore, write_raw_members

NOW = datetime(2026, 11, 2, 12, 30, tzinfo=UTC)
KEY = dg.AssetKey("raw_kernel")


def _store(tmp_path: Path, newest: dict[str, str]) -> PartitionStore:
    store = PartitionStore(str(tmp_path))
    for host, hour in newest.items():
        for h in (hour, "2026-11-01-00:00"):  # an older hour too: only the newest one counts
            write_raw_members(store, "kernel", host, h, {"kernel.json": b'{"MESSAGE": "x"}\n'})
    return store


def test_every_host_within_the_lag_passes(tmp_path: Path) -> None:
    store = _store(tmp_path, {"a": "2026-11-02-11:00", "b": "2026-11-02-10:00"})
    result = freshness_result(store, "kernel", KEY, ["a", "b"], now=NOW)
    assert result.passed and result.severity == dg.AssetCheckSeverity.WARN
    assert result.metadata["hosts_behind"].value == {}
    assert result.metadata["worst_lag_hours"].value == 1.5  # 10:00-11:00 ended 1.5 h before 12:30


def test_a_host_that_stopped_sending_and_one_never_collected_are_named(tmp_path: Path) -> None:
    store = _store(tmp_path, {"a": "2026-11-02-11:00", "b": "2026-11-02-06:00"})
    result = freshness_result(store, "kernel", KEY, ["a", "b", "c"], now=NOW)
    assert not result.passed
    assert result.metadata["hosts_behind"].value == {"b": 5.5, "c": "never collected"}
    assert result.metadata["hosts"].value == 3 and result.metadata["max_lag_hours"].value == MAX_RAW_LAG_HOURS
    assert "2 of 3 hosts behind: b, c" in (result.description or "")


def test_with_no_registered_host_nothing_is_fresh(tmp_path: Path) -> None:
    result = freshness_result(PartitionStore(str(tmp_path)), "kernel", KEY, [], now=NOW)
    assert not result.passed and result.description == "no host is registered"


def test_the_lag_follows_the_newest_hour_at_the_limit(tmp_path: Path) -> None:
    # 3 h limit: the 08:00 hour ended 09:00, 3.5 h before 12:30 -> behind; 09:00 ended 3.0 h before
    hours = ["2026-11-02-08:00", "2026-11-02-09:00"]
    verdicts = []
    for i, hour in enumerate(hours):
        store = _store(tmp_path / str(i), {"a": hour})
        verdicts.append(freshness_result(store, "kernel", KEY, ["a"], now=NOW).passed)
    assert verdicts == [MAX_RAW_LAG_HOURS >= 3.5, MAX_RAW_LAG_HOURS >= 3.0]
