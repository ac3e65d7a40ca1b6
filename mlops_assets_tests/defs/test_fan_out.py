"""fan_out: hosts in parallel (threads, or forked workers for CPU-bound steps), hours in order per
host, and every host-hour either returned or named as failed."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import dagster as dg
import pytest

from mlops_assets.defs.fan_out import (
    PROCESSES_ENV,
    TIMEOUT_ENV,
    _cgroup_cpu_quota,
    fan_out,
    host_hour_timeout,
    processes_allowed,
    usable_cpus,
)

KEYS = [(h, k) for h in ("a", "b", "c") for k in ("2026-01-01-02:00", "2026-01-01-00:00", "2026-01-01-01:00")]
needs_two_cpus = pytest.mark.skipif(usable_cpus() < 2, reason="forked workers need 2+ CPUs (else in-process)")


def _context() -> dg.AssetExecutionContext:
    return dg.build_asset_context()


def pid_and_hour(host: str, hour: str) -> dict[str, object]:
    if host == "b" and hour.endswith("01:00"):
        raise ValueError("raw file unreadable")
    return {"pid": os.getpid(), "hour": hour, "rows": dg.MetadataValue.json({"n": 1})}


@needs_two_cpus
def test_forked_workers_return_every_host_hour_and_name_the_one_that_failed() -> None:
    done = fan_out(_context(), KEYS, pid_and_hour, parallelism=2, processes=True)
    assert set(done.results) | set(done.failures) == set(KEYS)
    assert list(done.failures) == [("b", "2026-01-01-01:00")]
    assert done.failures[("b", "2026-01-01-01:00")] == "ValueError: raw file unreadable"
    pids = {v["pid"] for v in done.results.values()}
    assert os.getpid() not in pids and 1 <= len(pids) <= 2, "run in (at most 2) forked workers"
    assert done.failure_metadata() == {"b|2026-01-01-01:00": "ValueError: raw file unreadable"}


def hour_order(host: str, hour: str) -> list[str]:
    """Every hour this worker process ran so far (a worker runs one host's hours back to back)."""
    hour_order.seen = [*getattr(hour_order, "seen", []), hour]
    return list(hour_order.seen)


@needs_two_cpus
def test_each_host_s_hours_run_in_order_in_one_worker() -> None:
    done = fan_out(_context(), [k for k in KEYS if k[0] != "b"], hour_order, parallelism=2, processes=True)
    for host in ("a", "c"):
        ran_before = done.results[(host, "2026-01-01-02:00")]
        assert ran_before[-3:] == ["2026-01-01-00:00", "2026-01-01-01:00", "2026-01-01-02:00"]


def unpicklable(host: str, hour: str) -> object:
    if host == "a":
        return dg.AssetCheckResult(check_name="quarantine_rate", passed=True)  # not picklable in 1.13
    return {"ok": True}


@needs_two_cpus
def test_a_result_that_cannot_cross_processes_fails_its_host_by_name_only() -> None:
    done = fan_out(_context(), KEYS, unpicklable, parallelism=2, processes=True)
    assert {k for k in done.failures} == {k for k in KEYS if k[0] == "a"}
    assert all("must return plain, picklable data" in e for e in done.failures.values())
    assert all(v == {"ok": True} for v in done.results.values())


def killed(host: str, hour: str) -> str:
    if host == "c":
        os.kill(os.getpid(), signal.SIGKILL)  # what the kernel's OOM killer does
    return host


@needs_two_cpus
def test_a_worker_killed_mid_step_is_named_and_nothing_hangs() -> None:
    try:
        done = fan_out(_context(), KEYS, killed, parallelism=2, processes=True)
    except RuntimeError as exc:  # every pending host-hour was lost with the pool
        assert "c 2026-01-01-00:00: worker process lost" in str(exc)
        return
    assert set(done.results) | set(done.failures) == set(KEYS)
    assert "worker process lost" in done.failures[("c", "2026-01-01-00:00")]


def stuck(host: str, hour: str) -> str:
    if host == "a" and hour.endswith("00:00"):
        time.sleep(60)  # a hung read: interrupted by the worker's timer (else this test fails in 60 s)
    return hour


@needs_two_cpus
def test_a_host_hour_past_its_time_limit_fails_by_name_and_its_worker_goes_on(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(TIMEOUT_ENV, "0.5")
    done = fan_out(_context(), KEYS, stuck, parallelism=2, processes=True)
    assert list(done.failures) == [("a", "2026-01-01-00:00")]
    assert done.failures[("a", "2026-01-01-00:00")].startswith("HostHourTimeout: no result after 0.5 s")
    assert done.results[("a", "2026-01-01-01:00")] == "2026-01-01-01:00", "the host's next hour still ran"
    assert len(done.results) == len(KEYS) - 1


def test_threads_when_processes_are_turned_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(PROCESSES_ENV, "0")
    done = fan_out(_context(), KEYS, pid_and_hour, parallelism=2, processes=True)
    assert {v["pid"] for v in done.results.values()} == {os.getpid()}
    assert list(done.failures) == [("b", "2026-01-01-01:00")]


def test_one_host_runs_in_this_process_and_a_single_host_hour_fails_as_its_work_did() -> None:
    done = fan_out(_context(), [k for k in KEYS if k[0] == "a"], pid_and_hour, processes=True)
    assert {v["pid"] for v in done.results.values()} == {os.getpid()}
    with pytest.raises(ValueError, match="raw file unreadable"):
        fan_out(_context(), [("b", "2026-01-01-01:00")], pid_and_hour, processes=True)


def test_every_host_hour_failing_fails_the_step_with_all_errors() -> None:
    with pytest.raises(RuntimeError, match="every host-hour of this step failed: a 2026"):
        fan_out(_context(), KEYS, lambda h, k: 1 / 0, parallelism=2)


def test_the_settings_are_validated(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(PROCESSES_ENV, "yes")
    with pytest.raises(ValueError, match="MLOPS_FLEET_PROCESSES must be 0 or 1"):
        processes_allowed()
    for bad in ("0", "-3", "soon"):
        monkeypatch.setenv(TIMEOUT_ENV, bad)
        with pytest.raises(ValueError, match="MLOPS_FLEET_HOST_HOUR_TIMEOUT_S must be a positive number"):
            host_hour_timeout()


def test_a_container_cpu_quota_caps_the_workers(tmp_path: Path) -> None:
    v2, v1, none = tmp_path / "v2", tmp_path / "v1" / "cpu", tmp_path / "none"
    v2.mkdir()
    v1.mkdir(parents=True)
    (v2 / "cpu.max").write_text("200000 100000\n")
    (v1 / "cpu.cfs_quota_us").write_text("150000\n")
    (v1 / "cpu.cfs_period_us").write_text("100000\n")
    assert _cgroup_cpu_quota(str(v2)) == 2.0
    assert _cgroup_cpu_quota(str(tmp_path / "v1")) == 1.5
    assert _cgroup_cpu_quota(str(none)) is None
    (v2 / "cpu.max").write_text("max 100000\n")
    assert _cgroup_cpu_quota(str(v2)) is None
