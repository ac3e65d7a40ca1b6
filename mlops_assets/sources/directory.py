"""DirectorySource: read raw logs from a landing folder (or a .tar.gz of one) laid out as in base.py.

Each file may be in any format its source accepts (lib/parsing/landing.py: a journalctl short or
short-iso export as journal.json, a kern.log or dmesg --time-format iso as kernel.json, docker
events text, nvidia-smi CSV with any --query-gpu list); the format is detected per file and sent
with each window as a ``<member>.format`` member. A file in a format its source does not accept
makes fetch raise and probe report the host unreachable, naming the file, the format seen and the
fix. A fetch slices every file to records with start <= ts < end. Lines without a timestamp of their own
(nvidia-smi error lines, traceback continuations, unparseable lines) stay with the record before
them, so nothing is ever dropped and the union of consecutive windows is the whole file exactly.
Yearless syslog times take their year from a journalctl banner, else the file's mtime.
"""

from __future__ import annotations

import calendar
import hashlib
import tarfile
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath

from mlops_assets.lib.contracts.raw import (
    FORMAT_SUFFIX,
    MEMBER_DOCKER_EVENTS,
    MEMBER_DOCKER_PS,
    MEMBER_GPU,
    MEMBER_JOURNAL,
    MEMBER_KERNEL,
    SOURCES,
    RawBundle,
)
from mlops_assets.lib.parsing.landing import (
    LineIndex,
    UnsupportedFormatError,
    check_format,
    file_format,
    format_member,
    index_lines,
    no_wall_clock,
)
from mlops_assets.lib.parsing.line_times import NONE, gpu_line_times, text_line_times
from mlops_assets.lib.storage.keys import HOST_NAME_RULE, is_valid_host
from mlops_assets.sources.base import HostProbe, LogSource

TAIL_BYTES = 64 * 1024
HEAD_BYTES = 64 * 1024


def _mtime(path: Path) -> datetime:
    return datetime.fromtimestamp(path.stat().st_mtime, tz=UTC)


def _head(path: Path) -> bytes:
    with path.open("rb") as fh:
        return fh.read(HEAD_BYTES)


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

    def _indexed(self, path: Path, source: str) -> tuple[str, str, LineIndex]:
        """(parser kind, format, index) of a file, once per (size, mtime) for the whole process:
        every hourly run of a day slices the same files, and each run builds a new DirectorySource.
        Raises UnsupportedFormatError for a format the source does not accept."""
        st = path.stat()
        key = (str(path.resolve()), st.st_size, st.st_mtime_ns)
        entry = _INDEX_CACHE.pop(key, None)
        if entry is None:
            data = path.read_bytes()
            head = data[:HEAD_BYTES]
            kind = check_format(str(path), head, source)
            entry = (kind, file_format(head, source) or "", index_lines(data, kind, str(path), _mtime(path)))
        _INDEX_CACHE[key] = entry  # re-insert: most recently used last
        while len(_INDEX_CACHE) > _INDEX_CACHE_MAX:
            del _INDEX_CACHE[next(iter(_INDEX_CACHE))]
        return entry

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
                    continue
                kind, fmt, index = self._indexed(path, source)
                idx, members[member] = index.window(s_ns, e_ns)
                year = datetime.fromtimestamp(int(index.eff[idx[0]]) // 10**9, tz=UTC).year if idx else None
                hint = format_member(kind, source, fmt, year)
                if hint is not None:
                    members[member + FORMAT_SUFFIX] = hint
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
                try:
                    kind = check_format(str(path), _head(path), source)
                except UnsupportedFormatError as exc:
                    return HostProbe(host, False, None, "", error=str(exc))
                ts = _tail_latest(path, kind)
                if ts is None and st.st_size and kind != "gpu" and not _has_wall_clock(path):
                    return HostProbe(host, False, None, "", error=no_wall_clock(str(path), kind))
                if ts is not None and (latest is None or ts > latest):
                    latest = ts
        fp = hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]
        when = datetime.fromtimestamp(latest // 1000 / 1e6, tz=UTC) if latest is not None else None
        return HostProbe(host, True, when, fp)


_INDEX_CACHE: dict[tuple[str, int, int], tuple[str, str, LineIndex]] = {}
_INDEX_CACHE_MAX = 256  # files; a host has ~15, and an index holds the file's bytes once

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


def _has_wall_clock(path: Path) -> bool:
    own, _ = text_line_times(_head(path).splitlines(), _mtime(path))
    return bool((own > NONE).any())


def _tail_latest(path: Path, kind: str) -> int | None:
    """Newest timestamp among the last TAIL_BYTES of a file (cheap: no full read)."""
    with path.open("rb") as fh:
        size = fh.seek(0, 2)
        fh.seek(max(0, size - TAIL_BYTES))
        tail = fh.read()
    lines = tail.splitlines()
    if size > TAIL_BYTES:
        lines = lines[1:]  # first line may be cut
    if kind == "gpu":  # the timestamp column is told by the header at the top
        header = _head(path).split(b"\n", 1)[0]
        own = gpu_line_times([header, *lines])[1:]
    else:
        own, _ = text_line_times(lines, _mtime(path))
    own = own[own > NONE]
    return int(own.max()) if len(own) else None
