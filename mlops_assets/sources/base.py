"""The LogSource interface: fetch one host's raw logs for one time window, exactly as collected.

The raw layout, member names and query fields are contracts of the pure core: lib/contracts/raw.py.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from mlops_assets.lib.contracts.raw import SOURCES, RawBundle


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
