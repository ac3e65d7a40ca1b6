"""Byte-level edits of raw members used by the fault overlay: nvidia-smi CSV rows, journal/kernel
JSON lines, docker log lines and docker events, each merged in time order into a copy.

Lines the edits do not understand are kept verbatim and in place: the overlay must never lose or
reorder what the host really printed.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import UTC, datetime

import numpy as np

from mlops_assets.lib.contracts.raw import (
    MEMBER_DOCKER_EVENTS,
    MEMBER_GPU,
    MEMBER_JOURNAL,
    MEMBER_KERNEL,
    RawBundle,
)

NS = 1_000_000_000
ALIASES = {
    "clocks.sm": ("clocks.current.sm", "clocks.sm"),
    "reasons": ("clocks_event_reasons.active", "clocks_throttle_reasons.active"),
    "ecc": ("ecc.errors.uncorrected.volatile.total",),
}
Row = dict[str, str]
Edit = Callable[[Row, float, int], Row]


def rfc3339(ns: int) -> str:
    sec, frac = divmod(ns, NS)
    return datetime.fromtimestamp(sec, UTC).strftime("%Y-%m-%dT%H:%M:%S") + f".{frac:09d}Z"


def _smi_ns(text: str) -> int | None:
    for fmt in ("%Y/%m/%d %H:%M:%S.%f", "%Y/%m/%d %H:%M:%S"):
        try:
            return int(datetime.strptime(text.strip(), fmt).replace(tzinfo=UTC).timestamp() * 1e6) * 1000
        except ValueError:
            continue
    return None


def _header(line: str) -> list[str]:
    return [re.sub(r"\s*\[.*\]$", "", c.strip()) for c in line.split(",")]


def _csv_rows(data: bytes) -> list[tuple[str, list[str] | None, Row | None]]:
    """(line, header in force, row dict or None for non-data lines) for every line of the CSV."""
    out: list[tuple[str, list[str] | None, Row | None]] = []
    header: list[str] | None = None
    for line in data.decode("utf-8", "replace").splitlines():
        if line.startswith("timestamp"):
            header = _header(line)
            out.append((line, header, None))
            continue
        cells = [c.strip() for c in line.split(",")]
        row = dict(zip(header, cells, strict=True)) if header and len(cells) == len(header) else None
        out.append((line, header, row))
    return out


def gpu_rows(b: RawBundle) -> list[Row]:
    return [r for _, _, r in _csv_rows(b.get("gpu", {}).get(MEMBER_GPU, b"")) if r]


def get(row: Row, name: str) -> float | None:
    for key in ALIASES.get(name, (name,)):
        if key in row:
            try:
                return float(int(row[key], 16)) if row[key].startswith("0x") else float(row[key])
            except ValueError:
                return None
    return None


def put(row: Row, name: str, value: float) -> None:
    """Set a numeric field in the format it already has (decimals, hex bitmask); N/A stays N/A."""
    for key in ALIASES.get(name, (name,)):
        if key not in row or get(row, name) is None:
            continue
        old = row[key]
        if old.startswith("0x"):
            row[key] = f"0x{int(value):0{len(old) - 2}X}"
        elif "." in old:
            row[key] = f"{value:.{len(old.split('.')[1])}f}"
        else:
            row[key] = str(int(round(value)))
        return


def _write_csv(b: RawBundle, parsed: list[tuple[str, list[str] | None, Row | None]]) -> None:
    lines = [line if row is None else ", ".join(row[c] for c in header) for line, header, row in parsed]
    b.setdefault("gpu", {})[MEMBER_GPU] = ("\n".join(lines) + "\n").encode("utf-8")


def edit_gpu(b: RawBundle, gpu: int | None, s: int, e: int, edit: Edit) -> None:
    """Apply ``edit(row, progress 0..1, t_ns)`` to rows of ``gpu`` (None: every GPU) in [s, e)."""
    parsed = _csv_rows(b.get("gpu", {}).get(MEMBER_GPU, b""))
    for i, (line, header, row) in enumerate(parsed):
        if row is None or (gpu is not None and row.get("index") != str(gpu)):
            continue
        t = _smi_ns(row.get("timestamp", ""))
        if t is not None and s <= t < e:
            parsed[i] = (line, header, edit(dict(row), (t - s) / max(e - s, 1), t))
    _write_csv(b, parsed)


def drop_gpu(b: RawBundle, gpu: int | None, s: int, e: int, error: str) -> None:
    """Replace the GPU's rows in [s, e) by nvidia-smi's error line (once per sampling time)."""
    out, seen = [], set()
    for line, header, row in _csv_rows(b.get("gpu", {}).get(MEMBER_GPU, b"")):
        t = _smi_ns(row.get("timestamp", "")) if row else None
        if row is not None and row.get("index") == str(gpu) and t is not None and s <= t < e:
            if t not in seen:
                seen.add(t)
                out.append((error, header, None))
            continue
        out.append((line, header, row))
    _write_csv(b, out)


def heat(fan: float, peak_c: float) -> Edit:
    """The board heats towards ``peak_c`` over the first half of the fault, throttling above 85 C
    (clock-event bits as NVML defines them; HW slowdown asserts with the hardware thermal limit)."""

    def edit(row: Row, p: float, t: int) -> Row:
        base = get(row, "temperature.gpu")
        put(row, "fan.speed", fan)
        if base is None:
            return row
        temp = base + (max(peak_c, base) - base) * min(1.0, 2.0 * p)
        put(row, "temperature.gpu", temp)
        if temp >= 85:  # NVML: SW thermal 0x20, HW thermal 0x40; HW slowdown 0x8 joins at the HW limit
            bits = 0x20 | 0x40 | (0x8 if temp >= 90 else 0)
            put(row, "reasons", int(get(row, "reasons") or 0) | bits)
            clock = get(row, "clocks.sm")
            if clock is not None:
                put(row, "clocks.sm", clock * 0.55)
        return row

    return edit


def cap_power(fraction: float) -> Edit:
    def edit(row: Row, p: float, t: int) -> Row:
        limit, draw = get(row, "power.limit"), get(row, "power.draw")
        if limit is None:
            return row
        cap = limit * fraction
        put(row, "power.limit", cap)
        if draw is not None and draw > 0.9 * cap:
            put(row, "power.draw", min(draw, 0.97 * cap))
            put(row, "reasons", int(get(row, "reasons") or 0) | 0x4)
            clock = get(row, "clocks.sm")
            if clock is not None:
                put(row, "clocks.sm", clock * float(np.sqrt(cap / max(draw, 1e-9))))
        return row

    return edit


def ecc_steps(times: list[int], rng: np.random.Generator) -> Edit:
    steps = [(t, int(rng.integers(1, 4))) for t in times]

    def edit(row: Row, p: float, t: int) -> Row:
        base = get(row, "ecc")
        if base is not None:
            put(row, "ecc", base + sum(n for at, n in steps if at <= t))
        return row

    return edit


_JOURNAL_TS = re.compile(rb'"__REALTIME_TIMESTAMP"\s*:\s*"(\d+)"')
_EVENT_TS = re.compile(rb'"timeNano"\s*:\s*(\d+)')
_KERNEL_TRANSPORT = re.compile(rb'"_TRANSPORT"\s*:\s*"kernel"')


def _merge(old: bytes, new: list[tuple[int, bytes]], key: Callable[[bytes], int | None]) -> bytes:
    """Stable merge by time; lines without a time keep the time of the line before them."""
    keyed, last = [], 0
    for line in old.splitlines():
        k = key(line)
        last = k if k is not None else last
        keyed.append((last, 0, line))
    keyed += [(t, 1, line) for t, line in new]
    keyed.sort(key=lambda x: (x[0], x[1]))
    return b"".join(line + b"\n" for _, _, line in keyed)


def _template(data: bytes) -> dict[str, str]:
    for line in data.splitlines()[:50]:
        try:
            obj = json.loads(line)
        except ValueError:
            continue
        return {k: obj[k] for k in ("_BOOT_ID", "_HOSTNAME", "_MACHINE_ID") if isinstance(obj.get(k), str)}
    return {}


def _journal_obj(ns: int, ident: str, message: str, priority: int, unit: str | None, tpl: dict) -> bytes:
    us = ns // 1000
    obj = {
        "__CURSOR": f"s=overlay;i={us:x};t={us:x};x=overlay",
        "__REALTIME_TIMESTAMP": str(us),
        **{k: v for k, v in tpl.items() if k == "_BOOT_ID"},
        "PRIORITY": str(priority),
        "SYSLOG_IDENTIFIER": ident,
        "_TRANSPORT": "kernel" if ident == "kernel" else "journal" if ident == "systemd" else "syslog",
        **({"_SYSTEMD_UNIT": unit} if unit else {}),
        **{k: v for k, v in tpl.items() if k != "_BOOT_ID"},
        "MESSAGE": message,
    }
    return json.dumps(obj).encode("utf-8")


def add_journal(
    b: RawBundle, entries: list[tuple[int, str, str, int, str | None]], kernel: bool = False
) -> None:
    """journalctl -o json lines (ns, identifier, message, priority, unit) into journal (and kernel)."""
    targets = [("journal", MEMBER_JOURNAL)]
    if kernel:
        journal = b.get("journal", {}).get(MEMBER_JOURNAL, b"")
        targets = [("kernel", MEMBER_KERNEL)] + (
            [("journal", MEMBER_JOURNAL)] if _KERNEL_TRANSPORT.search(journal) else []
        )
    for src, member in targets:
        old = b.setdefault(src, {}).get(member, b"")
        tpl = _template(old) or _template(b.get("journal", {}).get(MEMBER_JOURNAL, b""))
        new = [(ns // 1000, _journal_obj(ns, i, m, p, u, tpl)) for ns, i, m, p, u in entries]
        b[src][member] = _merge(
            old, new, lambda ln: int(m.group(1)) if (m := _JOURNAL_TS.search(ln)) else None
        )


def add_events(b: RawBundle, events: list[tuple[int, str, str, str, str, dict[str, str]]]) -> None:
    """docker events --format '{{json .}}' lines (ns, action, id, image, name, extra attributes)."""
    new = []
    for ns, action, cid, image, name, extra in events:
        attrs = dict(sorted({"image": image, "name": name, **extra}.items()))
        obj = {
            "status": action,
            "id": cid,
            "from": image,
            "Type": "container",
            "Action": action,
            "Actor": {"ID": cid, "Attributes": attrs},
            "scope": "local",
            "time": ns // NS,
            "timeNano": ns,
        }
        new.append((ns, json.dumps(obj, separators=(",", ":")).encode("utf-8")))
    old = b.setdefault("docker_events", {}).get(MEMBER_DOCKER_EVENTS, b"")
    b["docker_events"][MEMBER_DOCKER_EVENTS] = _merge(
        old, new, lambda ln: int(m.group(1)) if (m := _EVENT_TS.search(ln)) else None
    )


def add_docker_lines(b: RawBundle, lines: list[tuple[str, str, int, str]]) -> None:
    """docker logs --timestamps lines (container, stream, ns, text) into <container>.<stream>."""
    logs = b.setdefault("docker_logs", {})
    by_member: dict[str, list[tuple[int, bytes]]] = {}
    for name, stream, ns, text in lines:
        by_member.setdefault(f"{name}.{stream}", []).append((ns, f"{rfc3339(ns)} {text}".encode()))
    for member, new in by_member.items():
        logs[member] = _merge(logs.get(member, b""), new, _docker_ns)


def _docker_ns(line: bytes) -> int | None:
    head = line.split(b" ", 1)[0].decode("ascii", "replace")
    m = re.fullmatch(r"(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?Z", head)
    if not m:
        return None
    sec = int(datetime.strptime(m.group(1), "%Y-%m-%dT%H:%M:%S").replace(tzinfo=UTC).timestamp())
    return sec * NS + int((m.group(2) or "0").ljust(9, "0"))


def ps_containers(data: bytes) -> list[tuple[str, str, str]]:
    out = []
    for line in data.splitlines():
        try:
            obj = json.loads(line)
        except ValueError:
            continue
        if isinstance(obj, dict) and obj.get("ID") and obj.get("Names"):
            out.append((str(obj["ID"]), str(obj["Names"]).split(",")[0], str(obj.get("Image") or "")))
    return out
