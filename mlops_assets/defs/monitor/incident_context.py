"""What surrounds an incident in storage: the host's log lines and GPU telemetry of the hours it spans.

Read through the PartitionStore (not the IO manager): an incident may span hours, and an hour whose
table was never materialized is simply absent, not an error. Cached per (table, host, hour) for one
materialization.
"""

from __future__ import annotations

from datetime import timedelta

import pandas as pd

from mlops_assets.defs.partitions import HOURLY_FMT
from mlops_assets.lib.storage.partition_store import PartitionStore, exists
from mlops_assets.lib.templates import TemplateMiner
from mlops_assets.lib.triage.evidence import log_lines

LOG_TABLES = ("kernel_events", "journal_entries", "docker_lines")


def hour_keys(start: pd.Timestamp, end: pd.Timestamp) -> list[str]:
    """Hourly partition keys covering ``[start, end)``."""
    t = pd.Timestamp(start).tz_convert("UTC").floor("h")
    last = pd.Timestamp(end).tz_convert("UTC") - pd.Timedelta(microseconds=1)
    keys = []
    while t <= last:
        keys.append(t.strftime(HOURLY_FMT))
        t += timedelta(hours=1)
    return keys


class IncidentContext:
    """Lazy, cached reads of one storage root's parsed tables around incidents."""

    def __init__(self, store: PartitionStore, miner: TemplateMiner | None) -> None:
        self.store = store
        self.miner = miner
        self._cache: dict[tuple[str, str, str], pd.DataFrame] = {}

    def table(
        self, table: str, host: str, start: pd.Timestamp, end: pd.Timestamp, ts: str = "ts"
    ) -> pd.DataFrame:
        """Rows of ``table`` for ``host`` with ``start <= <ts column> < end`` (empty when none stored)."""
        frames = []
        for key in hour_keys(start, end):
            k = (table, host, key)
            if k not in self._cache:
                path = self.store.path(table, host, key)
                self._cache[k] = self.store.read(table, host, key) if exists(path) else pd.DataFrame()
            if len(self._cache[k]):
                frames.append(self._cache[k])
        if not frames:
            return pd.DataFrame()
        df = pd.concat(frames, ignore_index=True)
        t = pd.to_datetime(df[ts], utc=True)
        return df[(t >= start) & (t < end)].reset_index(drop=True)

    def lines(self, host: str, start: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame:
        """Kernel, journal and container lines of the interval in :func:`log_lines` form."""
        tables = {t: self.table(t, host, start, end) for t in LOG_TABLES}
        tables = {t: df for t, df in tables.items() if len(df)}
        return log_lines(tables, self._match)

    def learned(self) -> dict[str, int]:
        """Template id -> lines the miner learned it from (empty without a miner: every line is new)."""
        if self.miner is None:
            return {}
        frame = self.miner.templates_frame()
        return dict(zip(frame["template_id"].astype(str), frame["count"].astype(int), strict=True))

    def template_texts(self) -> dict[str, str]:
        if self.miner is None:
            return {}
        frame = self.miner.templates_frame()
        return dict(zip(frame["template_id"].astype(str), frame["template"].astype(str), strict=True))

    def _match(self, messages: list[str]) -> list[str | None]:
        if self.miner is None:
            return [None] * len(messages)
        return list(self.miner.match(messages))
