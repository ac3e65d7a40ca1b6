"""Real background chatter: syslog lines of real machines replayed into a simulated host's journal.

The simulator's own background is written by the same people who wrote the detector; real hosts log
things nobody here thought of. This module reads public samples at simulation time (never copied into
the project): Loghub Linux / OpenSSH / Thunderbird syslog and journald `short` / `short-iso` exports
(folder layout of ../shared/realdata, see its README). Lines are replayed in short contiguous runs, as
they were logged, at a Poisson rate of runs per hour: an ftp daemon's login burst, a gmetad complaint,
ntpd resynchronising, authentication failures of a scanner. Their levels are not in the syslog text,
so a line naming an error is replayed at priority 3, a failure/denial at 5, everything else at 6.
"""

from __future__ import annotations

import functools
import re
from pathlib import Path

from mlops_assets.simulate.host import NS, HostLog
from mlops_assets.simulate.normal import poisson_times

# (relative path, regex of the prefix before "ident[pid]: message")
SAMPLES: tuple[tuple[str, str], ...] = (
    ("loghub/Linux/Linux_2k.log", r"^\w{3} +\d+ [\d:]{8} \S+ "),
    ("loghub/OpenSSH/OpenSSH_2k.log", r"^\w{3} +\d+ [\d:]{8} \S+ "),
    ("loghub/Thunderbird/Thunderbird_2k.log", r"^\S+ \d+ [\d.]+ \S+ \w{3} +\d+ [\d:]{8} \S+ "),
    ("journald/home-assistant_supervisor__logs_host.txt", r"^\w{3} +\d+ [\d:]{8} \S+ "),
    ("journald/leptonai_gpud__journalctl-short-iso-2.log", r"^\d{4}-\d\d-\d\dT[\d:]{8}[+-]\d{4} \S+ "),
)
_REST = re.compile(r"^(?P<ident>[^\s\[:]+(?:\([^)]*\))?)(?:\[(?P<pid>\d+)\])?: ?(?P<msg>.*)$")
_ERROR = re.compile(r"error|fatal|panic|critical", re.IGNORECASE)
_FAILURE = re.compile(r"fail|denied|invalid|refused|timed? ?out", re.IGNORECASE)

Line = tuple[str, int | None, str, int]  # identifier, pid, message, priority


def _priority(message: str) -> int:
    return 3 if _ERROR.search(message) else 5 if _FAILURE.search(message) else 6


_BOOT_BANNER = re.compile(r"Linux version \d")


@functools.lru_cache(maxsize=4)
def load_samples(root: str) -> tuple[tuple[Line, ...], ...]:
    """Per sample file, its parsed lines; raises naming the folder when no sample is there."""
    base = Path(root)
    out = []
    for rel, prefix in SAMPLES:
        path = base / rel
        if not path.is_file():
            continue
        head = re.compile(prefix)
        lines: list[Line] = []
        for raw in path.read_text(encoding="utf-8", errors="replace").splitlines():
            m = head.match(raw)
            rest = _REST.match(raw[m.end() :]) if m else None
            if rest is None or not rest["msg"].strip():
                continue
            if rest["ident"].rstrip(":") == "kernel" and _BOOT_BANNER.match(rest["msg"]):
                continue  # a real boot's banner replayed mid-boot would fake a boot the journal never had
            pid = int(rest["pid"]) if rest["pid"] else None
            lines.append((rest["ident"].rstrip(":"), pid, rest["msg"].rstrip(), _priority(rest["msg"])))
        if lines:
            out.append(tuple(lines))
    if not out:
        raise FileNotFoundError(
            f"no real log samples under {base} (expected e.g. {SAMPLES[0][0]}): pass the realdata folder "
            "(../shared/realdata) or simulate without --realdata"
        )
    return tuple(out)


def replay_chatter(host: HostLog, root: Path, runs_per_hour: float = 6.0) -> int:
    """Append runs of real lines to ``host``'s journal (kernel lines to its kernel log); returns lines."""
    samples = load_samples(str(root))
    rng = host.rng
    written = 0
    for ns in poisson_times(host, runs_per_hour):
        lines = samples[int(rng.integers(0, len(samples)))]
        first = int(rng.integers(0, len(lines)))
        for ident, pid, msg, prio in lines[first : first + int(rng.geometric(1 / 6))]:
            if ident == "kernel":
                host.kernel(ns, msg, prio)
            else:
                host.journal(ns, ident[:40], msg, priority=prio, pid=pid or host.next_pid())
            ns += int(rng.uniform(0.05, 3.0) * NS)
            written += 1
    return written
