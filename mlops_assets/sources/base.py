"""The LogSource interface: fetch one host's raw logs for one time window, exactly as collected.

Raw layout (what the simulator writes, what the directory source reads, what SSH commands return):

    ROOT/<host>/nvidia-smi.csv            nvidia-smi --query-gpu=<GPU_QUERY_FIELDS> --format=csv,nounits -l N
    ROOT/<host>/journal.json              journalctl -o json --no-pager (one object per line, __CURSOR kept)
    ROOT/<host>/kernel.json               journalctl -k -o json --no-pager
    ROOT/<host>/docker/ps.json            docker ps -a --format '{{json .}}'
    ROOT/<host>/docker/events.json        docker events --since S --until U --format '{{json .}}'
    ROOT/<host>/docker/logs/<name>.stdout docker logs --timestamps <name>   (its stdout)
    ROOT/<host>/docker/logs/<name>.stderr docker logs --timestamps <name>   (its stderr)
    ROOT/labels.csv                       simulator only: host,start,end,fault,sources

A fetch returns a :data:`RawBundle`: source -> member name -> bytes, with the member names below.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

SOURCES: tuple[str, ...] = ("gpu", "journal", "kernel", "docker_logs", "docker_events")

# Member names inside a RawBundle (docker_logs members are "<container>.stdout" / "<container>.stderr").
MEMBER_GPU = "nvidia-smi.csv"
MEMBER_JOURNAL = "journal.json"
MEMBER_KERNEL = "kernel.json"
MEMBER_DOCKER_EVENTS = "events.json"
MEMBER_DOCKER_PS = "ps.json"

GPU_QUERY_FIELDS: tuple[str, ...] = (
    "timestamp",
    "index",
    "uuid",
    "name",
    "pci.bus_id",
    "temperature.gpu",
    "utilization.gpu",
    "utilization.memory",
    "memory.used",
    "memory.total",
    "power.draw",
    "power.limit",
    "fan.speed",
    "clocks.sm",
    "pstate",
    "clocks_throttle_reasons.active",
    "ecc.errors.uncorrected.volatile.total",
)

RawBundle = dict[str, dict[str, bytes]]


@dataclass(frozen=True)
class HostProbe:
    """A cheap look at a host: is it reachable, and up to when does it have data."""

    host: str
    reachable: bool
    latest_ts: datetime | None  # newest record seen (UTC), None when unknown/no data
    fingerprint: str  # changes whenever new data arrived (cursor, size+mtime, ...): goes into run_keys
    error: str | None = None  # why it is unreachable, with the fix when known


class LogSource(ABC):
    """Fetch raw logs of one host for a half-open UTC window [start, end)."""

    @abstractmethod
    def hosts(self) -> list[str]:
        """Names of the hosts this source knows."""

    @abstractmethod
    def probe(self, host: str) -> HostProbe:
        """Cheap check for new data; must not raise for an unreachable host."""

    @abstractmethod
    def fetch(self, host: str, start: datetime, end: datetime, sources: Sequence[str] = SOURCES) -> RawBundle:
        """Raw bytes of each requested source for records with start <= ts < end.

        Raises a clear exception when the host cannot be read: a partition must fail, never be
        silently empty.
        """

    def commit(self, host: str, start: datetime, end: datetime, bundle: RawBundle) -> None:
        """Called only after ``bundle`` for [start, end) is durably written: advance cursors here.

        Sources without incremental state (a directory of files) have nothing to advance.
        """
        return None
