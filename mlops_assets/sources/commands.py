"""The exact remote commands the SSH source runs, built only from validated names, and how their
output is trimmed to a half-open window [start, end).

Every interpolated value is first checked against an allowlist regex and then ``shlex.quote``d: a
name like ``x; rm -rf /`` is refused with a clear error instead of ever reaching a shell. Time
bounds are passed as integer epoch seconds (``@S`` for journalctl, ``S`` for docker) so the remote
timezone never matters; the tools' ``--until`` is inclusive, so output is trimmed locally to < end.
"""

from __future__ import annotations

import re
import shlex
from datetime import UTC, datetime

from mlops_assets.lib.contracts.raw import GPU_BASE_FIELDS, GPU_QUERY_FIELDS

CONTAINER_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")  # docker's own rule for names
UNIT_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9:_.@\\-]{0,255}$")  # systemd unit names
CURSOR_RE = re.compile(r"^[A-Za-z][A-Za-z0-9=;_-]{0,511}$")  # s=<hex>;i=<hex>;b=<hex>;m=<hex>;t=<hex>;x=<hex>
PATH_RE = re.compile(r"^/[A-Za-z0-9._/-]{1,511}$")


class UnsafeNameError(ValueError):
    """A name that would be interpolated into a remote command failed the allowlist."""


def _check(kind: str, value: str, pattern: re.Pattern[str], hint: str) -> str:
    if not isinstance(value, str) or not pattern.match(value) or ".." in value.split("/"):
        raise UnsafeNameError(f"refusing {kind} {value!r}: {hint} (allowed: {pattern.pattern})")
    return value


def validate_container_name(name: str) -> str:
    return _check("container name", name, CONTAINER_RE, "docker names are letters, digits, '_', '.', '-'")


def validate_unit_name(name: str) -> str:
    return _check("systemd unit name", name, UNIT_RE, "unit names are letters, digits and ':_.@-\\'")


def validate_cursor(cursor: str) -> str:
    return _check("journal cursor", cursor, CURSOR_RE, "a journal __CURSOR is 's=…;i=…;b=…;…' hex fields")


def validate_remote_path(path: str) -> str:
    return _check("remote path", path, PATH_RE, "use an absolute path without spaces or shell characters")


def epoch(ts: datetime) -> int:
    if ts.tzinfo is None:
        raise ValueError(f"{ts!r} has no timezone: windows are UTC")
    if ts.microsecond or ts.second:
        raise ValueError(f"window bound {ts.isoformat()} must be on a whole minute (hourly partitions)")
    return int(ts.timestamp())


def smi_ts(ts: datetime) -> str:
    """A bound in nvidia-smi's own timestamp format, which sorts as text."""
    return ts.astimezone(UTC).strftime("%Y/%m/%d %H:%M:%S.000")


# --- collection ---------------------------------------------------------------------------------

_GPU_AWK = (
    "/^timestamp/ { if (!h) { print; h = 1 } next } "
    "/^[0-9][0-9][0-9][0-9]\\/[0-9][0-9]\\/[0-9][0-9] / { t = substr($0, 1, 23); w = (t >= s && t < e); "
    "if (w) print; next } "
    "{ if (w) print }"
)


def gpu_window(log_path: str, start: datetime, end: datetime) -> str:
    """Rows of the sampling log with start <= timestamp < end, plus the header once.

    Lines without a timestamp (nvidia-smi error text such as "GPU has fallen off the bus") follow the
    window of the sample before them, so a failure is collected with the hour it happened in.
    """
    path = shlex.quote(validate_remote_path(log_path))
    return f"LC_ALL=C awk -v s={shlex.quote(smi_ts(start))} -v e={shlex.quote(smi_ts(end))} {shlex.quote(_GPU_AWK)} {path}"


def gpu_sampler(log_path: str, interval_s: float, fields: tuple[str, ...] = GPU_QUERY_FIELDS) -> str:
    """The sampler the host must run (systemd unit with TZ=UTC); shown by check-host as the fix.

    ``fields`` is what this host's driver accepts (:func:`supported_gpu_fields`): nvidia-smi
    rejects the WHOLE query when one name is unknown to an older driver, so check-host learns the
    list once from ``--help-query-gpu`` and prints the sampler for exactly that driver. A runtime
    ``||`` fallback was not chosen: the sampler writes with ``-f`` (truncating the file) and a
    transient failure would silently restart it with fewer fields. The parser maps columns by the
    header, so a log written with a subset parses and the missing fields are null.
    """
    unknown = [f for f in fields if f not in GPU_QUERY_FIELDS]
    if unknown or "timestamp" not in fields:
        raise ValueError(f"sampler fields must be a subset of GPU_QUERY_FIELDS with timestamp; got {unknown}")
    ms = max(int(interval_s * 1000), 1)
    return (
        f"TZ=UTC nvidia-smi --query-gpu={','.join(fields)} --format=csv,nounits "
        f"-lms {ms} -f {shlex.quote(validate_remote_path(log_path))}"
    )


GPU_HELP = "nvidia-smi --help-query-gpu"
_HELP_NAMES = re.compile(r'"([A-Za-z0-9_.]+)"')


def supported_gpu_fields(help_text: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(GPU_QUERY_FIELDS this driver lists in ``--help-query-gpu``, the ones it does not).

    Each property line of the help starts with its quoted name(s): ``"clocks.current.sm" or
    "clocks.sm"``. The base fields are known to every supported driver and always kept; when the
    help text lists no property at all (not a help output) every field is kept and none reported
    missing, so a garbled answer never shrinks the query.
    """
    names = {n for line in help_text.splitlines() if line.startswith('"') for n in _HELP_NAMES.findall(line)}
    if not names:
        return GPU_QUERY_FIELDS, ()
    kept = tuple(f for f in GPU_QUERY_FIELDS if f in GPU_BASE_FIELDS or f in names)
    return kept, tuple(f for f in GPU_QUERY_FIELDS if f not in kept)


def journal(
    start: datetime, end: datetime, after_cursor: str | None, kernel: bool, units: tuple[str, ...] = ()
) -> str:
    """journalctl JSON for the window: resume after the cursor when contiguous, else by time."""
    parts = ["journalctl", "-o", "json", "--no-pager"]
    if kernel:
        parts.append("-k")
    for unit in units:
        parts += ["-u", shlex.quote(validate_unit_name(unit))]
    if after_cursor:
        parts.append("--after-cursor=" + shlex.quote(validate_cursor(after_cursor)))
    else:
        parts.append(f"--since=@{epoch(start)}")
    parts.append(f"--until=@{epoch(end)}")
    return " ".join(parts)


def docker_ps() -> str:
    return "docker ps -a --no-trunc --format '{{json .}}'"


def docker_logs(name: str, start: datetime, end: datetime) -> str:
    n = shlex.quote(validate_container_name(name))
    return f"docker logs --timestamps --since {epoch(start)} --until {epoch(end)} {n}"


def docker_events(start: datetime, end: datetime) -> str:
    return f"docker events --since {epoch(start)} --until {epoch(end)} --format '{{{{json .}}}}'"


# --- probing and checks -------------------------------------------------------------------------


def gpu_tail(log_path: str) -> str:
    """Size, mtime and last line of the sampling log: cheap, changes whenever a sample lands."""
    p = shlex.quote(validate_remote_path(log_path))
    return f"stat -c '%s %Y' {p} && tail -n 1 {p}"


def journal_last(kernel: bool) -> str:
    return "journalctl -o json --no-pager -n 1" + (" -k" if kernel else "")


REMOTE_CLOCK = "date -u +%s.%N"


# --- bounding every remote command on the host itself -------------------------------------------

KILL_GRACE_S = 5  # SIGTERM at the timeout, SIGKILL this much later if the command ignores TERM
TIMED_OUT_STATUSES = (124, 137)  # GNU timeout: 124 after TERM worked, 128+9 after the KILL


def bounded(command: str, timeout_s: float) -> str:
    """``command`` run under coreutils ``timeout`` on the host, as ``sh -c`` so pipelines count too.

    Closing an SSH channel does not stop the remote command (sshd only closes its pipes), so a hung
    ``nvidia-smi`` on a dying GPU would otherwise run forever. ``timeout`` puts itself and the command
    in a new process group and signals that whole group: TERM at ``timeout_s``, KILL ``KILL_GRACE_S``
    later. ``command`` is already built from validated, quoted values; it is quoted once more here.
    """
    if not timeout_s > 0:
        raise ValueError(f"remote command timeout must be > 0 s, got {timeout_s!r}")
    return f"timeout -k {KILL_GRACE_S} {timeout_s:g} sh -c {shlex.quote(command)}"


# --- trimming output to [start, end) ------------------------------------------------------------

REALTIME_RE = re.compile(rb'"__REALTIME_TIMESTAMP"\s*:\s*"(\d+)"')
_CURSOR = re.compile(rb'"__CURSOR"\s*:\s*"([^"]+)"')
_TIME_NANO = re.compile(rb'"timeNano"\s*:\s*(\d+)')
_TIME_SEC = re.compile(rb'"time"\s*:\s*(\d+)')


def _join(lines: list[bytes]) -> bytes:
    return b"\n".join(lines) + b"\n" if lines else b""


def trim_journal(data: bytes, start: datetime, end: datetime) -> bytes:
    """Keep entries with start <= __REALTIME_TIMESTAMP < end (a line without one is kept: the query
    already bounded it, and the parser quarantines what it cannot read)."""
    lo, hi = int(start.timestamp()) * 1_000_000, int(end.timestamp()) * 1_000_000
    kept = []
    for line in data.splitlines():
        if not line.strip():
            continue
        m = REALTIME_RE.search(line)
        if m is None or lo <= int(m.group(1)) < hi:
            kept.append(line)
    return _join(kept)


def last_cursor(data: bytes) -> str | None:
    """__CURSOR of the last entry in a journal member (the resume point after it is written)."""
    for line in reversed(data.splitlines()):
        m = _CURSOR.search(line)
        if m:
            return m.group(1).decode("ascii", "replace")
    return None


def trim_docker_logs(data: bytes, start: datetime, end: datetime) -> bytes:
    """Keep lines whose RFC3339 prefix is in the window; bounds are whole seconds, so comparing the
    'YYYY-MM-DDTHH:MM:SS' prefix as text is exact. Unprefixed lines follow the line before them."""
    lo = start.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S").encode()
    hi = end.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S").encode()
    lines = data.splitlines()
    if lines and lo <= lines[0][:19] < hi and lo <= lines[-1][:19] < hi:
        return data if data.endswith(b"\n") else data + b"\n"
    kept, inside = [], False
    for line in lines:
        if len(line) >= 20 and line[4:5] == b"-" and line[10:11] == b"T":
            inside = lo <= line[:19] < hi
        if inside:
            kept.append(line)
    return _join(kept)


def trim_docker_events(data: bytes, start: datetime, end: datetime) -> bytes:
    lo, hi = int(start.timestamp()) * 10**9, int(end.timestamp()) * 10**9
    kept = []
    for line in data.splitlines():
        if not line.strip():
            continue
        m = _TIME_NANO.search(line)
        ns = int(m.group(1)) if m else None
        if ns is None:
            s = _TIME_SEC.search(line)
            ns = int(s.group(1)) * 10**9 if s else None
        if ns is None or lo <= ns < hi:
            kept.append(line)
    return _join(kept)
