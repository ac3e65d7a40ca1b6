"""SSH LogSource: collect one host-hour over ONE paramiko connection, several channels at once.

How each source is collected (commands in sources/commands.py, connection safety in ssh_transport.py):

- gpu: the host's OWN sampling log (``gpu.log_path``, written continuously by
  ``TZ=UTC nvidia-smi --query-gpu=… --format=csv,nounits -lms N -f FILE``), filtered remotely by time
  with awk. The collector never samples itself, so a late, retried or killed collection still gets
  every sample of the hour exactly once, and only the hour's rows cross the network.
- journal / kernel: ``journalctl -o json`` resumed ``--after-cursor`` the stored ``__CURSOR`` when the
  window directly follows the last committed one, else ``--since`` the window start (first run,
  backfill, re-run). Output is trimmed to [start, end) locally (``--until`` is inclusive).
- docker_logs: ``docker logs --timestamps --since S --until U NAME`` per container of ``docker ps -a``
  (or the configured list), stdout and stderr captured separately into ``NAME.stdout``/``NAME.stderr``.
- docker_events: ``docker events --since S --until U`` plus the ``docker ps -a`` inventory (ps.json).

Exactly-once: ``fetch`` never moves state; ``commit`` (called after the partition is durably written)
advances the per-host cursor file, never backwards. A re-run of a partition replaces it.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import paramiko

from mlops_assets.lib.contracts.raw import (
    MEMBER_DOCKER_EVENTS,
    MEMBER_DOCKER_PS,
    MEMBER_GPU,
    MEMBER_JOURNAL,
    MEMBER_KERNEL,
    SOURCES,
    RawBundle,
)
from mlops_assets.sources import commands as cmd
from mlops_assets.sources.base import HostProbe, LogSource
from mlops_assets.sources.cursors import CursorStore
from mlops_assets.sources.hosts import HostConfig, load_hosts
from mlops_assets.sources.ssh_transport import (
    PARALLEL_CHANNELS,
    RemoteCommandError,
    SshCollectionError,
    checked,
    connect,
    run_command,
)

JOURNAL_SOURCES = {"journal": (MEMBER_JOURNAL, False), "kernel": (MEMBER_KERNEL, True)}

# (source, member, command, post-processing of checked stdout, fallback command when the first fails)
Job = tuple[str, str, str, Callable[[bytes], bytes], str | None]


class SshLogSource(LogSource):
    """Raw logs of the hosts in hosts.yaml, collected over SSH with durable journal cursors."""

    def __init__(self, hosts: Sequence[HostConfig], cursor_dir: str | os.PathLike[str]) -> None:
        self.configs = {h.name: h for h in hosts}
        self.cursors = CursorStore(cursor_dir)

    @classmethod
    def from_hosts_file(
        cls, hosts_file: str | os.PathLike[str], cursor_dir: str | os.PathLike[str]
    ) -> SshLogSource:
        return cls(load_hosts(hosts_file), cursor_dir=cursor_dir)

    def hosts(self) -> list[str]:
        return sorted(n for n, h in self.configs.items() if not h.retired)

    def retired_hosts(self) -> list[str]:
        return sorted(n for n, h in self.configs.items() if h.retired)

    def config(self, host: str) -> HostConfig:
        try:
            return self.configs[host]
        except KeyError:
            raise KeyError(f"host {host!r} is not in hosts.yaml (known: {sorted(self.configs)})") from None

    # --- fetch / commit -----------------------------------------------------------------------

    def _resume_cursor(self, host: str, source: str, start: datetime) -> str | None:
        state = self.cursors.get(host, source)
        if state is None or not state.cursor or datetime.fromisoformat(state.window_end) != start:
            return None
        return state.cursor

    @staticmethod
    def _job(client: paramiko.SSHClient, cfg: HostConfig, job: Job) -> bytes:
        res = run_command(client, job[2], cfg.timeouts.command_s, cfg.max_output_bytes)
        if res.status not in (0, -1) and job[4] is not None and b"cursor" in res.stderr.lower():
            # The stored cursor is gone (journal vacuumed or rotated away): resume by time instead.
            res = run_command(client, job[4], cfg.timeouts.command_s, cfg.max_output_bytes)
        return job[3](checked(res, cfg.name))

    def _run_all(
        self, client: paramiko.SSHClient, cfg: HostConfig, jobs: list[Job]
    ) -> dict[tuple[str, str], bytes]:
        """Run jobs on parallel channels of one connection; the first failure fails the call."""
        if not jobs:
            return {}
        with ThreadPoolExecutor(min(PARALLEL_CHANNELS, len(jobs))) as pool:
            futures = [pool.submit(self._job, client, cfg, j) for j in jobs]
            return {(j[0], j[1]): f.result() for j, f in zip(jobs, futures, strict=True)}

    def fetch(self, host: str, start: datetime, end: datetime, sources: Sequence[str] = SOURCES) -> RawBundle:
        cfg = self.config(host)
        start, end = start.astimezone(UTC), end.astimezone(UTC)
        if end <= start:
            raise ValueError(f"empty window [{start}, {end})")
        wanted = [s for s in sources if s in cfg.sources]
        jobs: list[Job] = []
        if "gpu" in wanted:
            jobs.append(("gpu", MEMBER_GPU, cmd.gpu_window(cfg.gpu.log_path, start, end), lambda b: b, None))
        for source in ("journal", "kernel"):
            if source in wanted:
                member, kernel = JOURNAL_SOURCES[source]
                units = cfg.journal_units if source == "journal" else ()
                cursor = self._resume_cursor(host, source, start)
                by_time = cmd.journal(start, end, None, kernel, units)
                command = cmd.journal(start, end, cursor, kernel, units) if cursor else by_time
                jobs.append(
                    (
                        source,
                        member,
                        command,
                        lambda b: cmd.trim_journal(b, start, end),
                        by_time if cursor else None,
                    )
                )
        if "docker_events" in wanted:
            jobs.append(
                (
                    "docker_events",
                    MEMBER_DOCKER_EVENTS,
                    cmd.docker_events(start, end),
                    lambda b: cmd.trim_docker_events(b, start, end),
                    None,
                )
            )
        if "docker_events" in wanted or "docker_logs" in wanted:
            jobs.append(("docker_events", MEMBER_DOCKER_PS, cmd.docker_ps(), lambda b: b, None))

        bundle: RawBundle = {s: {} for s in wanted}
        jobs.sort(key=lambda j: j[1] != MEMBER_DOCKER_PS)  # container logs wait only for `docker ps`
        client = connect(cfg)
        try:
            with ThreadPoolExecutor(PARALLEL_CHANNELS) as pool:
                try:
                    futures = {(j[0], j[1]): pool.submit(self._job, client, cfg, j) for j in jobs}
                    logs = {}
                    if "docker_logs" in wanted:
                        names = cfg.containers or container_names(
                            futures[("docker_events", MEMBER_DOCKER_PS)].result(), host
                        )
                        logs = {
                            n: pool.submit(
                                run_command,
                                client,
                                cmd.docker_logs(n, start, end),
                                cfg.timeouts.command_s,
                                cfg.max_output_bytes,
                            )
                            for n in names
                        }
                    for (source, member), fut in futures.items():
                        if source in bundle:
                            bundle[source][member] = fut.result()
                    for name, fut in logs.items():
                        res = fut.result()
                        if res.status != 0:
                            checked(res, cfg.name)  # raises with the fix
                        # one command, two streams: stdout and stderr stay apart
                        bundle["docker_logs"][f"{name}.stdout"] = cmd.trim_docker_logs(res.stdout, start, end)
                        bundle["docker_logs"][f"{name}.stderr"] = cmd.trim_docker_logs(res.stderr, start, end)
                except BaseException:
                    client.close()  # abort the other channels instead of waiting for them
                    raise
        finally:
            client.close()
        return bundle

    def commit(self, host: str, start: datetime, end: datetime, bundle: RawBundle) -> None:
        """Advance journal/kernel cursors to the last entry written; a no-op for older windows."""
        for source, (member, _) in JOURNAL_SOURCES.items():
            if source in bundle:
                data = bundle[source].get(member, b"")
                self.cursors.advance(host, source, cmd.last_cursor(data), end.astimezone(UTC))

    # --- probe --------------------------------------------------------------------------------

    def probe(self, host: str) -> HostProbe:
        """Newest record time and a fingerprint of the newest data, in one short connection."""
        try:
            cfg = self.config(host)
            jobs: list[Job] = []
            if "gpu" in cfg.sources:
                jobs.append(("gpu", "tail", cmd.gpu_tail(cfg.gpu.log_path), lambda b: b, None))
            for source in ("journal", "kernel"):
                if source in cfg.sources:
                    jobs.append((source, "last", cmd.journal_last(source == "kernel"), lambda b: b, None))
            if not jobs:  # docker-only host: an hour is complete when the host's clock has passed it
                jobs.append(("clock", "now", cmd.REMOTE_CLOCK, lambda b: b, None))
            client = connect(cfg)
            try:
                got = self._run_all(client, cfg, jobs)
            finally:
                client.close()
        except (SshCollectionError, KeyError, OSError, RuntimeError) as exc:
            return HostProbe(host=host, reachable=False, latest_ts=None, fingerprint="", error=str(exc))
        latest = [
            ts
            for ts in (
                _gpu_last_ts(got.get(("gpu", "tail"), b"")),
                _journal_last_ts(got.get(("journal", "last"), b"")),
                _journal_last_ts(got.get(("kernel", "last"), b"")),
                _clock_ts(got.get(("clock", "now"), b"")),
            )
            if ts is not None
        ]
        digest = hashlib.sha256(b"\0".join(got[k] for k in sorted(got))).hexdigest()[:16]
        return HostProbe(
            host=host, reachable=True, latest_ts=max(latest) if latest else None, fingerprint=digest
        )


def container_names(ps_json: bytes, host: str) -> list[str]:
    """Names from ``docker ps -a --format '{{json .}}'``; a name failing docker's own rule is refused."""
    names: list[str] = []
    for line in ps_json.splitlines():
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except ValueError as exc:
            raise RemoteCommandError(
                f"{host}: `docker ps` printed a non-JSON line {line[:200]!r}: {exc}"
            ) from None
        for name in str(row.get("Names", "")).split(","):
            if name:
                names.append(cmd.validate_container_name(name.strip().lstrip("/")))
    return sorted(set(names))


def _gpu_last_ts(tail: bytes) -> datetime | None:
    for line in reversed(tail.splitlines()):
        try:
            return datetime.strptime(line[:23].decode("ascii"), "%Y/%m/%d %H:%M:%S.%f").replace(tzinfo=UTC)
        except (UnicodeDecodeError, ValueError):
            continue
    return None


def _clock_ts(out: bytes) -> datetime | None:
    try:
        return datetime.fromtimestamp(float(out.strip()), tz=UTC) if out.strip() else None
    except ValueError:
        return None


def _journal_last_ts(last: bytes) -> datetime | None:
    m = cmd.REALTIME_RE.search(last)
    return datetime.fromtimestamp(int(m.group(1)) / 1e6, tz=UTC) if m else None
