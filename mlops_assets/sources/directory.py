"""DirectorySource: read raw logs from a landing folder (or a .tar.gz of one) laid out as in base.py.

A fetch slices every file to records with start <= ts < end. Lines without a timestamp of their own
(nvidia-smi error lines, traceback continuations, unparseable lines) stay with the record before
them, so nothing is ever dropped and the union of consecutive windows is the whole file exactly.
"""

from __future__ import annotations

import calendar
import hashlib
import re
import tarfile
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath

import numpy as np

from mlops_assets.lib.contracts.raw import (
    MEMBER_DOCKER_EVENTS,
    MEMBER_DOCKER_PS,
    MEMBER_GPU,
    MEMBER_JOURNAL,
    MEMBER_KERNEL,
    SOURCES,
    RawBundle,
)
from mlops_assets.lib.storage.keys import HOST_NAME_RULE, is_valid_host
from mlops_assets.sources.base import HostProbe, LogSource

TAIL_BYTES = 64 * 1024
_SMI_TS = re.compile(rb"^(\d{4})/(\d{2})/(\d{2}) (\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?\s*,")
_JOURNAL_TS = re.compile(rb'"__REALTIME_TIMESTAMP"\s*:\s*"(\d+)"')
_DOCKER_TS = re.compile(
    rb"^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:\d{2}) "
)
_EVENT_NANO = re.compile(rb'"timeNano"\s*:\s*(\d+)')
_EVENT_SEC = re.compile(rb'"time"\s*:\s*(\d+)')
_SMI_HEADER = b"timestamp"


def _civil_ns(m: re.Match[bytes]) -> int:
    y, mo, d, h, mi, s = (int(g) for g in m.groups()[:6])
    frac = (m.group(7) or b"").ljust(9, b"0")
    return calendar.timegm((y, mo, d, h, mi, s)) * 10**9 + int(frac or b"0")


def ts_gpu(line: bytes) -> int | None:
    m = _SMI_TS.match(line)
    return _civil_ns(m) if m else None


def ts_journal(line: bytes) -> int | None:
    m = _JOURNAL_TS.search(line)
    return int(m.group(1)) * 1000 if m else None


def ts_docker_log(line: bytes) -> int | None:
    m = _DOCKER_TS.match(line)
    if not m:
        return None
    ns = _civil_ns(m)
    tz = m.group(8)
    if tz != b"Z":
        sign = 1 if tz[:1] == b"+" else -1
        ns -= sign * (int(tz[1:3]) * 3600 + int(tz[4:6]) * 60) * 10**9
    return ns


def ts_event(line: bytes) -> int | None:
    m = _EVENT_NANO.search(line)
    if m:
        return int(m.group(1))
    m = _EVENT_SEC.search(line)
    return int(m.group(1)) * 10**9 if m else None


class _Indexed:
    """One file split into lines with each line's effective timestamp (inherited when absent)."""

    def __init__(self, data: bytes, ts_of: Callable[[bytes], int | None], header: bool) -> None:
        lines = data.splitlines(keepends=True)
        if lines and not lines[-1].endswith(b"\n"):
            lines[-1] += b"\n"  # a truncated last line still ends up in exactly one slice
        self.header = b""
        if header and lines and lines[0].lstrip().startswith(_SMI_HEADER):
            self.header, lines = lines[0], lines[1:]
        own = [ts_of(line) for line in lines]
        eff = np.empty(len(lines), dtype=np.int64)
        first = next((t for t in own if t is not None), 0)
        prev = first
        for i, t in enumerate(own):
            prev = prev if t is None else t
            eff[i] = prev
        self.lines, self.eff = lines, eff

    def slice(self, start_ns: int, end_ns: int) -> bytes:
        idx = np.flatnonzero((self.eff >= start_ns) & (self.eff < end_ns))
        body = b"".join(self.lines[i] for i in idx.tolist())
        return self.header + body if body or self.header else b""

    def latest(self) -> int | None:
        return int(self.eff.max()) if len(self.eff) and self.eff.max() > 0 else None


def _to_ns(ts: datetime) -> int:
    if ts.tzinfo is None:
        raise ValueError(f"{ts!r} has no timezone: pass aware UTC datetimes to fetch()")
    return calendar.timegm(ts.astimezone(UTC).timetuple()) * 10**9 + ts.microsecond * 1000


def safe_extract(archive: Path, dest: Path) -> Path:
    """Extract a .tar.gz/.tgz into ``dest``, refusing absolute paths, `..`, links and devices."""
    with tarfile.open(archive, "r:*") as tar:
        members = tar.getmembers()
        for m in members:
            p = PurePosixPath(m.name)
            if p.is_absolute() or ".." in p.parts or m.name.startswith(("/", "\\")):
                raise ValueError(
                    f"refusing archive {archive}: member {m.name!r} escapes the extraction folder"
                )
            if not (m.isfile() or m.isdir()):
                raise ValueError(
                    f"refusing archive {archive}: member {m.name!r} is a link or device, only files are allowed"
                )
        dest.mkdir(parents=True, exist_ok=True)
        tar.extractall(dest, members=members, filter="data")
    return dest


class DirectorySource(LogSource):
    """Landing folder ROOT/<host>/... (base.py layout); ``root`` may also be a .tar.gz/.tgz of it."""

    def __init__(self, root: str | Path, cache_dir: str | Path | None = None) -> None:
        root = Path(root)
        if root.is_file() and root.name.endswith((".tar.gz", ".tgz")):
            stem = root.name.removesuffix(".tar.gz").removesuffix(".tgz")
            digest = hashlib.sha256(f"{root.stat().st_size}:{root.stat().st_mtime_ns}".encode()).hexdigest()[
                :12
            ]
            dest = Path(cache_dir) if cache_dir else root.parent / f".{stem}.extracted-{digest}"
            if not dest.is_dir():
                tmp = dest.with_name(dest.name + ".tmp")
                safe_extract(root, tmp)
                tmp.rename(dest)
            root = self._single_top(dest)
        if not root.is_dir():
            raise FileNotFoundError(
                f"log directory {root} does not exist: point MLOPS_RAW_DIR at a folder or .tar.gz of host folders"
            )
        self.root = root

    @staticmethod
    def _single_top(dest: Path) -> Path:
        """An archive of `DIR/` (one top folder holding host folders) is read from inside it."""
        entries = [p for p in dest.iterdir() if not p.name.startswith(".")]
        if len(entries) == 1 and entries[0].is_dir() and not _is_host_dir(entries[0]):
            return entries[0]
        return dest

    def hosts(self) -> list[str]:
        return sorted(p.name for p in self.root.iterdir() if p.is_dir() and _is_host_dir(p))

    def _host_dir(self, host: str) -> Path:
        if not is_valid_host(host):
            raise KeyError(f"host name {host!r} cannot name a landing folder: it must be {HOST_NAME_RULE}")
        d = self.root / host
        if not d.is_dir() or not _is_host_dir(d):
            raise KeyError(
                f"unknown host {host!r} in {self.root}; known hosts: {', '.join(self.hosts()) or 'none'}"
            )
        return d

    def _files(self, d: Path) -> dict[str, dict[str, Path]]:
        out: dict[str, dict[str, Path]] = {s: {} for s in SOURCES}
        for source, member, rel in (
            ("gpu", MEMBER_GPU, MEMBER_GPU),
            ("journal", MEMBER_JOURNAL, MEMBER_JOURNAL),
            ("kernel", MEMBER_KERNEL, MEMBER_KERNEL),
            ("docker_events", MEMBER_DOCKER_EVENTS, f"docker/{MEMBER_DOCKER_EVENTS}"),
            ("docker_events", MEMBER_DOCKER_PS, f"docker/{MEMBER_DOCKER_PS}"),
        ):
            if (d / rel).is_file():
                out[source][member] = d / rel
        logs = d / "docker" / "logs"
        if logs.is_dir():
            for p in sorted(logs.iterdir()):
                if p.is_file() and p.suffix in (".stdout", ".stderr"):
                    out["docker_logs"][p.name] = p
        return out

    def _indexed(self, path: Path, source: str) -> _Indexed:
        """Index a file once per (size, mtime) for the whole process: every hourly run of a day
        slices the same files, and each run builds a new DirectorySource."""
        st = path.stat()
        key = (str(path.resolve()), st.st_size, st.st_mtime_ns)
        idx = _INDEX_CACHE.pop(key, None)
        if idx is None:
            idx = _Indexed(path.read_bytes(), _TS_OF[source], header=source == "gpu")
        _INDEX_CACHE[key] = idx  # re-insert: most recently used last
        while len(_INDEX_CACHE) > _INDEX_CACHE_MAX:
            del _INDEX_CACHE[next(iter(_INDEX_CACHE))]
        return idx

    def fetch(self, host: str, start: datetime, end: datetime, sources: Sequence[str] = SOURCES) -> RawBundle:
        unknown = [s for s in sources if s not in SOURCES]
        if unknown:
            raise ValueError(f"unknown sources {unknown}; known: {list(SOURCES)}")
        s_ns, e_ns = _to_ns(start), _to_ns(end)
        files = self._files(self._host_dir(host))
        bundle: RawBundle = {}
        for source in sources:
            members: dict[str, bytes] = {}
            for member, path in files[source].items():
                if member == MEMBER_DOCKER_PS:
                    members[member] = path.read_bytes()  # a snapshot, not a time series
                else:
                    members[member] = self._indexed(path, source).slice(s_ns, e_ns)
            bundle[source] = members
        return bundle

    def probe(self, host: str) -> HostProbe:
        try:
            files = self._files(self._host_dir(host))
        except (KeyError, OSError) as exc:
            return HostProbe(host, False, None, "", error=str(exc))
        parts, latest = [], None
        for source in SOURCES:
            for member, path in sorted(files[source].items()):
                st = path.stat()
                parts.append(f"{source}/{member}:{st.st_size}:{st.st_mtime_ns}")
                if member == MEMBER_DOCKER_PS:
                    continue
                ts = _tail_latest(path, _TS_OF[source])
                if ts is not None and (latest is None or ts > latest):
                    latest = ts
        fp = hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]
        when = datetime.fromtimestamp(latest // 1000 / 1e6, tz=UTC) if latest is not None else None
        return HostProbe(host, True, when, fp)


_INDEX_CACHE: dict[tuple[str, int, int], _Indexed] = {}
_INDEX_CACHE_MAX = 256  # files; a host has ~15, and an index holds the file's bytes once

_TS_OF: dict[str, Callable[[bytes], int | None]] = {
    "gpu": ts_gpu,
    "journal": ts_journal,
    "kernel": ts_journal,
    "docker_logs": ts_docker_log,
    "docker_events": ts_event,
}
_RAW_NAMES = (
    MEMBER_GPU,
    MEMBER_JOURNAL,
    MEMBER_KERNEL,
    f"docker/{MEMBER_DOCKER_EVENTS}",
    f"docker/{MEMBER_DOCKER_PS}",
    "docker/logs",
)


def _is_host_dir(d: Path) -> bool:
    return any((d / name).exists() for name in _RAW_NAMES)


def _tail_latest(path: Path, ts_of: Callable[[bytes], int | None]) -> int | None:
    """Newest timestamp among the last TAIL_BYTES of a file (cheap: no full read)."""
    with path.open("rb") as fh:
        size = fh.seek(0, 2)
        fh.seek(max(0, size - TAIL_BYTES))
        tail = fh.read()
    lines = tail.splitlines()
    if size > TAIL_BYTES:
        lines = lines[1:]  # first line may be cut
    stamps = [t for t in (ts_of(line) for line in lines) if t is not None]
    return max(stamps) if stamps else None
