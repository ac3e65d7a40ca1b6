"""Bounded parallelism over the hosts of a fleet-hour step; a host that fails is named, never hidden.

Two kinds of workers, chosen by the step:
- threads, for work that waits (collecting over SSH) or that must not be forked (scoring: sklearn's
  OpenMP pool does not survive a fork);
- forked processes, for CPU-bound pandas work (parse, health, features). Threads give it no speed-up:
  it holds the GIL. The work is a closure over the step's store and miner, which cannot be pickled, so
  it is handed to the children by inheritance (a module global set just before the pool forks); only
  the host-hour keys go in and the results (metadata, check verdicts) come back pickled.

Each host's hours run in order in one worker (a source's cursor and the health escalation resume from
the previous hour). In a forked worker a host-hour that runs past MLOPS_FLEET_HOST_HOUR_TIMEOUT_S fails
by name and the worker goes on with the next.
"""

from __future__ import annotations

import multiprocessing
import os
import pickle
import signal
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import dagster as dg

PARALLELISM_ENV = "MLOPS_FLEET_PARALLELISM"
PROCESSES_ENV = "MLOPS_FLEET_PROCESSES"
TIMEOUT_ENV = "MLOPS_FLEET_HOST_HOUR_TIMEOUT_S"

Key = tuple[str, str]
# (host-hour, result, error text, the exception itself: kept in this process only, never pickled)
Outcome = tuple[Key, Any, str | None, BaseException | None]

_FORK_WORK: Callable[[str, str], Any] | None = None  # inherited by the pool being forked
_FORK_LIMIT_S = 0.0  # its time limit per host-hour
_FORK_LOCK = threading.Lock()  # one pool forks at a time, so the global names ITS work


def fleet_parallelism() -> int:
    raw = os.getenv(PARALLELISM_ENV, "4")
    if not raw.strip().isdigit() or int(raw) < 1:
        raise ValueError(f"{PARALLELISM_ENV} must be a positive integer, got {raw!r}")
    return int(raw)


def processes_allowed() -> bool:
    """Forked workers unless MLOPS_FLEET_PROCESSES=0 (then CPU-bound steps use threads too)."""
    raw = os.getenv(PROCESSES_ENV, "1").strip()
    if raw not in ("0", "1"):
        raise ValueError(f"{PROCESSES_ENV} must be 0 or 1, got {raw!r}")
    return raw == "1"


def host_hour_timeout() -> float:
    """Seconds a host-hour may take in a forked worker before it fails by name (default 30 min)."""
    raw = os.getenv(TIMEOUT_ENV, "1800").strip()
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not value > 0:
        raise ValueError(f"{TIMEOUT_ENV} must be a positive number of seconds, got {raw!r}")
    return value


class HostHourTimeout(Exception):
    """A host-hour's work in a forked worker ran past MLOPS_FLEET_HOST_HOUR_TIMEOUT_S."""


def _on_alarm(signum: int, frame: object) -> None:
    raise HostHourTimeout(f"no result after {_FORK_LIMIT_S:g} s ({TIMEOUT_ENV}); the worker goes on")


def _time_limited(work: Callable[[str, str], Any]) -> Callable[[str, str], Any]:
    """The work with a SIGALRM timer around each host-hour (a pool worker runs tasks in its main
    thread, where Python delivers signals; a blocking sleep, read or lock wait is interrupted)."""

    def limited(host: str, hour: str) -> Any:
        signal.setitimer(signal.ITIMER_REAL, _FORK_LIMIT_S)
        try:
            return work(host, hour)
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)

    return limited


def usable_cpus() -> int:
    """CPUs this process may use: its affinity, capped by a container's CPU quota (cgroup v2
    ``cpu.max`` or v1 ``cpu.cfs_quota_us``): a pod limited to 2 CPUs on a 64-core node forks 2."""
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    quota = _cgroup_cpu_quota()
    return max(1, min(cpus, int(quota))) if quota else cpus


def _cgroup_cpu_quota(root: str = "/sys/fs/cgroup") -> float | None:
    """CPUs of the quota (quota / period), or None when there is none."""
    v2 = _read(f"{root}/cpu.max")  # "max 100000" or "200000 100000"
    if v2 is not None:
        quota, _, period = v2.partition(" ")
    else:
        quota, period = _read(f"{root}/cpu/cpu.cfs_quota_us"), _read(f"{root}/cpu/cpu.cfs_period_us")
    if not quota or not period or quota in ("max", "-1"):
        return None
    return float(quota) / float(period)


def _read(path: str) -> str | None:
    try:
        with open(path) as f:
            return f.read().strip()
    except OSError:  # no such controller on this machine: no quota to honour
        return None


@dataclass
class FanOut:
    """Per host-hour results of one step, and the host-hours that failed with their error."""

    results: dict[Key, Any] = field(default_factory=dict)
    failures: dict[Key, str] = field(default_factory=dict)

    def failure_metadata(self) -> dict[str, str]:
        return {
            str(dg.MultiPartitionKey({"host": h, "hour": k})): e
            for (h, k), e in sorted(self.failures.items())
        }


def _host_run(work: Callable[[str, str], Any], host_keys: Sequence[Key]) -> list[Outcome]:
    out: list[Outcome] = []
    for key in sorted(host_keys, key=lambda hk: hk[1]):
        try:
            out.append((key, work(*key), None, None))
        except Exception as exc:  # noqa: BLE001 - one host's failure is reported by name, never hidden
            out.append((key, None, f"{type(exc).__name__}: {exc}", exc))
    return out


def _forked_host_run(host_keys: Sequence[Key]) -> bytes:
    """Runs in a forked worker. The exception objects stay here (they need not be picklable); the
    outcomes go back as bytes the parent unpickles itself, so a result that cannot cross processes
    fails its own host by name instead of breaking the whole pool."""
    if _FORK_WORK is None:
        raise RuntimeError("forked fleet worker has no work: the pool was not started by fan_out")
    signal.signal(signal.SIGALRM, _on_alarm)
    outcomes = [(k, v, err, None) for k, v, err, _ in _host_run(_time_limited(_FORK_WORK), host_keys)]
    try:
        return pickle.dumps(outcomes)
    except Exception as exc:  # noqa: BLE001 - named, with what to fix
        why = _not_plain(exc)
        return pickle.dumps([(k, None, err or why, None) for k, _, err, _ in outcomes])


def _not_plain(exc: BaseException) -> str:
    return (
        f"result could not be returned from the worker process ({type(exc).__name__}: {exc}); "
        "per-host-hour work run with processes=True must return plain, picklable data"
    )


def _returned(host_keys: Sequence[Key], payload: bytes) -> list[Outcome]:
    try:
        return pickle.loads(payload)
    except Exception as exc:  # noqa: BLE001 - named, with what to fix
        return [(k, None, _not_plain(exc), None) for k in host_keys]


def _lost(host_keys: Sequence[Key], exc: BaseException) -> list[Outcome]:
    """Every host-hour of a worker that died or whose results could not be sent back."""
    why = (
        f"worker process lost ({type(exc).__name__}: {exc}); killed by the OOM killer? "
        "see dmesg on the machine running this step"
    )
    return [(k, None, why, None) for k in host_keys]


def _in_processes(work: Callable[[str, str], Any], groups: list[list[Key]], workers: int) -> list[Outcome]:
    global _FORK_WORK, _FORK_LIMIT_S
    limit = host_hour_timeout()  # read and checked here: a bad value fails the step, not each worker
    with _FORK_LOCK:
        _FORK_WORK, _FORK_LIMIT_S = work, limit
        try:
            context = multiprocessing.get_context("fork")
            with ProcessPoolExecutor(workers, mp_context=context) as pool:
                futures: list[Future] = [pool.submit(_forked_host_run, ks) for ks in groups]
                done: list[Outcome] = []
                for ks, fut in zip(groups, futures, strict=True):
                    try:
                        done.extend(_returned(ks, fut.result()))
                    except Exception as exc:  # noqa: BLE001 - BrokenProcessPool / unpicklable result: named
                        done.extend(_lost(ks, exc))
                return done
        finally:
            _FORK_WORK = None


def fan_out(
    context: dg.AssetExecutionContext,
    keys: Sequence[Key],
    work: Callable[[str, str], Any],
    parallelism: int | None = None,
    processes: bool = False,
) -> FanOut:
    """Run ``work(host, hour)`` for every key: hosts concurrently (at most ``parallelism``; in forked
    processes when ``processes`` and there are 2+ hosts and CPUs), each host's hours in order.

    A host-hour that raises is logged and reported by name; the others finish. When every key
    failed there is nothing to materialize, so the step fails with all the errors.
    """
    by_host: dict[str, list[Key]] = {}
    for key in keys:
        by_host.setdefault(key[0], []).append(key)
    groups = list(by_host.values())
    workers = max(1, min(parallelism or fleet_parallelism(), len(groups)))
    if processes and processes_allowed():
        workers = min(workers, usable_cpus())
    if workers == 1:
        done = [o for ks in groups for o in _host_run(work, ks)]
    elif processes and processes_allowed():
        done = _in_processes(work, groups, workers)
    else:
        with ThreadPoolExecutor(workers) as pool:
            done = [o for os_ in pool.map(lambda ks: _host_run(work, ks), groups) for o in os_]

    out = FanOut()
    errors: dict[Key, BaseException] = {}
    for key, value, error, exc in done:
        if error is None:
            out.results[key] = value
            continue
        out.failures[key] = error
        if exc is not None:
            errors[key] = exc
        context.log.error(f"{key[0]} {key[1]} failed: {error}")
    if len(keys) == 1 and out.failures:
        raise errors[keys[0]]  # a single host-hour runs in this process and fails exactly as its work did
    if not out.results and out.failures:
        listed = "; ".join(f"{h} {k}: {e}" for (h, k), e in sorted(out.failures.items()))
        raise RuntimeError(f"every host-hour of this step failed: {listed}")
    return out
