"""Shared ConfigurableResources: where data is stored and where raw logs come from.

Domain-specific resources (MLflow, notifier, LLM triage) live with their domain under defs/.
"""

from __future__ import annotations

import dagster as dg

from mlops_assets.environment import settings
from mlops_assets.lib.storage.partition_store import PartitionStore, join
from mlops_assets.sources.base import LogSource


class StorageResource(dg.ConfigurableResource):
    """Root of every table, report and state file (local path, or s3:// / gs:// URL in prod)."""

    root: str

    def store(self) -> PartitionStore:
        return PartitionStore(self.root)

    def path(self, *parts: str) -> str:
        return join(self.root, *parts)


class LogSourceResource(dg.ConfigurableResource):
    """Chooses the LogSource: a landing directory/archive (default) or SSH to the hosts in hosts.yaml."""

    kind: str = "directory"
    directory: str = ""
    hosts_file: str = "hosts.yaml"
    cursor_dir: str = ""

    def source(self) -> LogSource:
        if self.kind == "directory":
            from mlops_assets.sources.directory import DirectorySource

            if not self.directory:
                raise ValueError("LogSourceResource(kind='directory') needs `directory` (MLOPS_RAW_DIR)")
            return DirectorySource(self.directory)
        if self.kind == "ssh":
            from mlops_assets.sources.ssh import SshLogSource

            if not self.cursor_dir:
                raise ValueError("LogSourceResource(kind='ssh') needs `cursor_dir` for the journal cursors")
            return SshLogSource.from_hosts_file(self.hosts_file, cursor_dir=self.cursor_dir)
        raise ValueError(f"LogSourceResource.kind must be 'directory' or 'ssh', got {self.kind!r}")


def default_storage() -> StorageResource:
    return StorageResource(root=settings().storage_root)


def default_log_source() -> LogSourceResource:
    s = settings()
    import os

    return LogSourceResource(
        kind=os.getenv("MLOPS_LOG_SOURCE", "directory"),
        directory=s.raw_dir,
        hosts_file=s.hosts_file,
        cursor_dir=join(s.home, "cursors"),
    )
