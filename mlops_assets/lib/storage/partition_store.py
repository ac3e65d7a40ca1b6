"""Atomic, partition-addressed file storage under one root (local path, or s3:// / gs:// via fsspec).

Every write goes to a temporary name and is renamed into place, so a reader never sees half a file
and a killed run leaves either the old partition or the new one. Re-writing a partition replaces it.
"""

from __future__ import annotations

import io
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path

import fsspec
import pandas as pd

from mlops_assets.lib.storage.keys import (
    validate_host,
    validate_partition_key,
    validate_path_parts,
    validate_table,
)


def _is_local(root: str) -> bool:
    return "://" not in root or root.startswith("file://")


def _local(root: str) -> str:
    return root[len("file://") :] if root.startswith("file://") else root


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> None:
    """Write ``data`` to ``path`` so that the file is either absent/old or complete and new."""
    path = str(path)
    if not _is_local(path):
        # Object stores publish an object only when its upload completes: a PUT is atomic.
        with fsspec.open(path, "wb") as fh:
            fh.write(data)
        return
    path = _local(path)
    directory = os.path.dirname(path) or "."
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=directory)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def atomic_write_text(path: str | os.PathLike[str], text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def write_parquet(path: str | os.PathLike[str], df: pd.DataFrame) -> None:
    buf = io.BytesIO()
    df.to_parquet(buf, index=False)
    atomic_write_bytes(path, buf.getvalue())


def read_parquet(path: str | os.PathLike[str]) -> pd.DataFrame:
    return pd.read_parquet(str(path))


def exists(path: str | os.PathLike[str]) -> bool:
    path = str(path)
    if _is_local(path):
        return os.path.exists(_local(path))
    fs, p = fsspec.core.url_to_fs(path)
    return fs.exists(p)


def read_bytes(path: str | os.PathLike[str]) -> bytes:
    with fsspec.open(str(path), "rb") as fh:
        return fh.read()


def list_dir(path: str | os.PathLike[str]) -> list[str]:
    """Names directly inside ``path`` (empty when it does not exist)."""
    path = str(path)
    if _is_local(path):
        p = Path(_local(path))
        return sorted(x.name for x in p.iterdir()) if p.is_dir() else []
    fs, p = fsspec.core.url_to_fs(path)
    return sorted(os.path.basename(x.rstrip("/")) for x in fs.ls(p, detail=False)) if fs.exists(p) else []


def join(root: str, *parts: str) -> str:
    """``root/part/...``; every part is checked so the result cannot leave ``root``."""
    validate_path_parts(*parts)
    return "/".join([root.rstrip("/"), *parts])


class PartitionStore:
    """Tables addressed by (table, host, window key) under ``root``: ``root/table/host/key.parquet``.

    Training and drift read *ranges* through here rather than through the IO manager, which fails on
    any missing partition (DESIGN.md section 4).
    """

    def __init__(self, root: str) -> None:
        self.root = root

    def path(self, table: str, host: str, key: str, ext: str = "parquet") -> str:
        """Where (table, host, key) lives; a host or key that could leave the root raises ValueError."""
        validate_table(table)
        validate_host(host)
        validate_partition_key(key)
        return join(self.root, table, host, f"{safe_key(key)}.{ext}")

    def write(self, table: str, host: str, key: str, df: pd.DataFrame) -> str:
        p = self.path(table, host, key)
        write_parquet(p, df)
        return p

    def read(self, table: str, host: str, key: str) -> pd.DataFrame:
        return read_parquet(self.path(table, host, key))

    def hosts(self, table: str) -> list[str]:
        return list_dir(join(self.root, validate_table(table)))

    def keys(self, table: str, host: str) -> list[str]:
        validate_table(table)
        validate_host(host)
        return [
            unsafe_key(n[: -len(".parquet")])
            for n in list_dir(join(self.root, table, host))
            if n.endswith(".parquet")
        ]

    def read_many(
        self, table: str, hosts: Iterable[str] | None = None, keys: Iterable[str] | None = None
    ) -> pd.DataFrame:
        """Concatenate the stored partitions that exist (hosts/keys filter when given)."""
        wanted = set(keys) if keys is not None else None
        frames = []
        for host in hosts if hosts is not None else self.hosts(table):
            for key in self.keys(table, host):
                if wanted is None or key in wanted:
                    frames.append(self.read(table, host, key))
        frames = [f for f in frames if not f.empty]
        return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def safe_key(key: str) -> str:
    """Partition keys like ``2026-11-23-14:00`` contain ':'; keep file names portable."""
    return key.replace(":", "")


def unsafe_key(name: str) -> str:
    """Inverse of :func:`safe_key` for hourly keys ``YYYY-MM-DD-HHMM`` -> ``YYYY-MM-DD-HH:MM``."""
    if len(name) == 15 and name[10] == "-" and name[13:].isdigit():
        return f"{name[:13]}:{name[13:]}"
    return name


def raw_table(source: str) -> str:
    return f"raw_{source}"


def write_raw_members(
    store: PartitionStore, source: str, host: str, key: str, members: dict[str, bytes]
) -> str:
    """Store one source's raw members for a partition as ONE file, so the swap is atomic."""
    names = sorted(members)
    df = pd.DataFrame({"member": names, "data": [members[n] for n in names]})
    return store.write(raw_table(source), host, key, df)


def read_raw_members(store: PartitionStore, source: str, host: str, key: str) -> dict[str, bytes]:
    """The exact bytes collected for (source, host, window); raises if the partition was never written."""
    path = store.path(raw_table(source), host, key)
    if not exists(path):
        raise FileNotFoundError(
            f"raw {source} for {host} {key} not found at {path}: materialize raw_{source} first"
        )
    df = read_parquet(path)
    return {str(m): bytes(d) for m, d in zip(df["member"], df["data"], strict=True)}
