"""Byte-exact renderers of the raw formats the collectors fetch (nvidia-smi, journalctl, docker).

Kept apart from the behaviour model so that "what a host did" and "how its tools print it" can be
checked separately; every renderer is deterministic (no wall clock, insertion-ordered fields).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import numpy as np

# What `nvidia-smi --query-gpu=<GPU_QUERY_FIELDS> --format=csv,nounits` prints as its header: the
# canonical field names (clocks.sm -> clocks.current.sm, clocks_throttle_reasons.active ->
# clocks_event_reasons.active on current drivers), units stay in the header even with nounits.
NVIDIA_SMI_HEADER = (
    "timestamp, index, uuid, name, pci.bus_id, temperature.gpu, utilization.gpu [%], "
    "utilization.memory [%], memory.used [MiB], memory.total [MiB], power.draw [W], power.limit [W], "
    "fan.speed [%], clocks.current.sm [MHz], pstate, clocks_event_reasons.active, "
    "ecc.errors.uncorrected.volatile.total, ecc.errors.uncorrected.aggregate.total, "
    "remapped_rows.pending, remapped_rows.failure, retired_pages.pending, temperature.memory, "
    "pcie.link.gen.current, pcie.link.width.current"
)
NVIDIA_SMI_NA = "[N/A]"
NVIDIA_SMI_NA_PLAIN = "N/A"  # temperature.memory on GDDR boards prints N/A without brackets


def utc(ns: int) -> datetime:
    """Nanoseconds since the epoch -> aware UTC datetime (microsecond precision)."""
    return datetime.fromtimestamp(ns // 1000 / 1e6, tz=UTC)


def to_ns(ts: datetime) -> int:
    """Aware datetime -> integer nanoseconds since the epoch, exact to the microsecond."""
    if ts.tzinfo is None:
        raise ValueError(f"timestamp {ts!r} has no timezone: pass an aware UTC datetime")
    delta = ts - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86400 + delta.seconds) * 10**9 + delta.microseconds * 1000


def smi_timestamps(ns: np.ndarray) -> list[str]:
    """nvidia-smi's `timestamp` column: local (here UTC) `YYYY/MM/DD HH:MM:SS.mmm`."""
    ms = (ns // 1_000_000).astype("datetime64[ms]")
    iso = np.datetime_as_string(ms, unit="ms")  # 2026-11-23T14:00:05.123
    return [s[0:4] + "/" + s[5:7] + "/" + s[8:10] + " " + s[11:] for s in iso.tolist()]


def docker_ts(ns: int) -> str:
    """`docker logs --timestamps` prefix: RFC3339Nano with a fixed 9-digit fraction."""
    sec, frac = divmod(ns, 10**9)
    return utc(sec * 10**9).strftime("%Y-%m-%dT%H:%M:%S") + f".{frac:09d}Z"


def docker_created(ns: int) -> str:
    """`docker ps` CreatedAt: `2026-11-01 00:00:00 +0000 UTC`."""
    return utc(ns).strftime("%Y-%m-%d %H:%M:%S") + " +0000 UTC"


def _journal_value(value: str | list[int] | None) -> str:
    if value is None:
        return "null"
    if isinstance(value, list):
        return "[ " + ", ".join(str(b) for b in value) + " ]"
    return json.dumps(value, ensure_ascii=False)


def journal_line(fields: dict[str, str | list[int] | None]) -> str:
    """One `journalctl -o json` object in journalctl's own spacing: `{ "K" : "v", ... }`."""
    return "{ " + ", ".join(f'"{k}" : {_journal_value(v)}' for k, v in fields.items()) + " }"


def message_value(message: str) -> str | list[int]:
    """journald exports MESSAGE as a byte array when it has control characters (ANSI colours...)."""
    if any(ord(c) < 32 and c != "\t" for c in message):
        return list(message.encode("utf-8"))
    return message


def docker_event_line(
    ns: int, action: str, container_id: str, image: str, name: str, extra: dict[str, str] | None = None
) -> str:
    """One `docker events --format '{{json .}}'` line (Go marshals Attributes with sorted keys)."""
    attrs = {"image": image, "name": name}
    attrs.update(extra or {})
    event = {
        "status": action,
        "id": container_id,
        "from": image,
        "Type": "container",
        "Action": action,
        "Actor": {"ID": container_id, "Attributes": dict(sorted(attrs.items()))},
        "scope": "local",
        "time": ns // 10**9,
        "timeNano": ns,
    }
    return json.dumps(event, separators=(",", ":"))


def docker_ps_line(fields: dict[str, str]) -> str:
    """One `docker ps -a --format '{{json .}}'` line (Go template keys are sorted)."""
    return json.dumps(dict(sorted(fields.items())), separators=(",", ":"), ensure_ascii=False)


def human_duration(seconds: float) -> str:
    """docker's `Up 2 hours` style duration (units.HumanDuration)."""
    s = int(seconds)
    if s < 1:
        return "Less than a second"
    if s < 60:
        return f"{s} seconds"
    minutes = s // 60
    if minutes == 1:
        return "About a minute"
    if minutes < 60:
        return f"{minutes} minutes"
    hours = round(s / 3600)
    if hours == 1:
        return "About an hour"
    if hours < 48:
        return f"{hours} hours"
    return f"{hours // 24} days"
