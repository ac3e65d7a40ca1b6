"""The local instance's event log: Dagster's SQLite storage, with its engines kept instead of rebuilt.

Dagster's ``SqliteEventLogStorage`` builds a new SQLAlchemy engine for every read and write (the
engine's compiled-statement cache is thrown away each time) and opens and closes the database file
around every statement. A 20-host fleet-hour writes ~940 events, and most of the ~8 ms each was
spent creating engines, compiling the same INSERTs again and reopening files
(`bench/bench_fleet_hour.py`: `event_log_s`, `events_by_type`).

This subclass keeps one engine per database file (LRU-bounded, so a long-lived webserver or
daemon does not collect one per run it ever read):

- the cross-run index (``index.db``: asset events, check verdicts, run status) keeps a small pool of
  open connections;
- a run's own file (``<run_id>.db``) is still opened and closed around each write. Closing the last
  connection checkpoints the WAL into ``<run_id>.db``, and that file change is what the webserver's
  watchdog waits for to stream a running run's logs. Pooling these connections would stall the live
  view until the run ends.
- a batch of events (Dagster sends the planned materializations of a run and the materializations
  of a range step as batches when ``DAGSTER_EVENT_BATCH_SIZE`` > 0; the Makefile sets it) is written
  in ONE transaction per file instead of one per event: all of it or, on an error, none of it (the
  instance then stores the events one by one).

What is stored and where is unchanged (same files, schema and watchers), so a webserver or CLI
running stock Dagster reads the same home. Configured in ``dagster.yaml`` (local only; production
uses PostgreSQL, deploy/dagster.prod.yaml).
"""

from __future__ import annotations

import os
import threading
import weakref
from collections import OrderedDict
from collections.abc import Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from typing import Any

from dagster import Field, StringSource
from dagster._config import UserConfigSchema
from dagster._core.events.log import EventLogEntry
from dagster._core.storage.event_log.sqlite.sqlite_event_log import (
    INDEX_SHARD_NAME,
    SqliteEventLogStorage,
)
from dagster._core.storage.sqlite import SQLITE_BUSY_TIMEOUT_SECONDS, create_db_conn_string
from dagster._serdes import ConfigurableClassData
from sqlalchemy import create_engine
from sqlalchemy.engine import Connection, Engine, RootTransaction
from sqlalchemy.pool import NullPool, QueuePool

MAX_RUN_ENGINES = 32  # run files read or written recently by this process
INDEX_POOL_SIZE = 4  # open connections to index.db (the webserver reads from several threads)

_LIVE: weakref.WeakSet[KeptEngineSqliteEventLogStorage] = weakref.WeakSet()


class KeptEngineSqliteEventLogStorage(SqliteEventLogStorage):
    """``SqliteEventLogStorage`` that reuses one engine per shard (see the module docstring)."""

    def __init__(self, base_dir: str, inst_data: ConfigurableClassData | None = None) -> None:
        self._engines: OrderedDict[str, Engine] = OrderedDict()
        self._engines_lock = threading.Lock()
        self._batch = threading.local()  # .open: shard -> (connection, transaction) of this thread's batch
        super().__init__(base_dir, inst_data)
        _LIVE.add(self)

    @classmethod
    def config_type(cls) -> UserConfigSchema:
        return {"base_dir": Field(StringSource, is_required=False)}

    @classmethod
    def from_config_value(  # ty: ignore[invalid-method-override]
        cls, inst_data: ConfigurableClassData | None, config_value: Mapping[str, Any]
    ) -> KeptEngineSqliteEventLogStorage:
        """``base_dir`` defaults to where Dagster keeps a local home's event logs."""
        base_dir = config_value.get("base_dir")
        if not base_dir:
            home = os.getenv("DAGSTER_HOME")
            if not home:
                raise ValueError(
                    "KeptEngineSqliteEventLogStorage: set DAGSTER_HOME (the Makefile does) or give "
                    "event_log_storage.config.base_dir in dagster.yaml"
                )
            base_dir = os.path.join(home, "history", "runs")
        return cls(base_dir, inst_data=inst_data)

    def _engine(self, shard: str) -> Engine:
        with self._engines_lock:
            engine = self._engines.get(shard)
            if engine is not None:
                self._engines.move_to_end(shard)
                return engine
            url = create_db_conn_string(self._base_dir, shard)
            args = {"timeout": SQLITE_BUSY_TIMEOUT_SECONDS}
            if shard == INDEX_SHARD_NAME:
                # pooled connections move between threads (the webserver): one at a time, never shared
                engine = create_engine(
                    url,
                    poolclass=QueuePool,
                    pool_size=INDEX_POOL_SIZE,
                    max_overflow=8,
                    connect_args={**args, "check_same_thread": False},
                )
            else:
                engine = create_engine(url, poolclass=NullPool, connect_args=args)
            self._engines[shard] = engine
            runs = [s for s in self._engines if s != INDEX_SHARD_NAME]  # least recently used first
            if len(runs) > MAX_RUN_ENGINES:
                self._engines.pop(runs[0]).dispose()
            return engine

    def _ready_engine(self, shard: str) -> Engine:
        engine = self._engine(shard)
        if shard not in self._initialized_dbs:
            self._initdb(engine)
            self._initialized_dbs.add(shard)
        return engine

    @contextmanager
    def _connect(self, shard: str) -> Iterator[Connection]:
        # Same contract as the parent: one statement group at a time per process, in a transaction.
        batch: dict[str, tuple[Connection, RootTransaction]] | None = getattr(self._batch, "open", None)
        if batch is not None:  # this thread holds _db_lock for its batch: every write joins it
            if shard not in batch:
                conn = self._batch.stack.enter_context(self._ready_engine(shard).connect())
                batch[shard] = (conn, conn.begin())
            yield batch[shard][0]
            return
        with self._db_lock:
            with self._ready_engine(shard).connect() as conn, conn.begin():
                yield conn

    def store_event_batch(self, events: Sequence[EventLogEntry]) -> None:
        """Each event stored exactly as ``store_event`` does, in one transaction per file; committed
        run file first, then the index (the order a single event is written in)."""
        with self._db_lock, ExitStack() as stack:
            self._batch.open, self._batch.stack = {}, stack
            try:
                for event in events:
                    self.store_event(event)
                for _, transaction in self._batch.open.values():
                    transaction.commit()
            finally:
                self._batch.open = None  # the stack's exit closes (and, uncommitted, rolls back) them

    def has_table(self, table_name: str) -> bool:
        with self._engine(INDEX_SHARD_NAME).connect() as conn:
            return bool(conn.dialect.has_table(conn, table_name))

    def wipe(self) -> None:
        self._dispose_engines(close=True)  # run files are deleted: no connection may outlive them
        super().wipe()

    def dispose(self) -> None:
        super().dispose()
        self._dispose_engines(close=True)

    def _dispose_engines(self, close: bool) -> None:
        with self._engines_lock:
            for engine in self._engines.values():
                engine.dispose(close=close)
            self._engines.clear()


def _forget_inherited_connections() -> None:
    """A forked child must not use (or close) the parent's pooled SQLite connections."""
    for storage in list(_LIVE):
        storage._engines_lock = threading.Lock()  # another thread may have held it at the fork
        storage._dispose_engines(close=False)


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_inherited_connections)
