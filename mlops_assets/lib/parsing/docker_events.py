"""``docker events`` -> docker_events, from ``--format '{{json .}}'`` or the default text format.

Actions are normalised so that features can count them: ``health_status: unhealthy`` keeps its
state, ``exec_start: bash -c …`` drops the command (high cardinality, may hold secrets), events of
other object types are prefixed with the type (``network connect``). exit_code comes from
``Actor.Attributes.exitCode`` (text: ``exitCode=137``).

In the text format an attribute value may hold newlines (image labels such as a multi-line
``org.opencontainers.image.description``): lines that do not start with an RFC 3339 time continue
the event above them (counted as skipped, ``notes["continuation_lines"]``). Attributes are split
at ``, key=`` boundaries, so values containing ", " stay whole.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pandas as pd

from mlops_assets.lib.contracts.tables import ParseResult
from mlops_assets.lib.parsing.decode import decode_lines
from mlops_assets.lib.parsing.records import Quarantine, build_result

TEXT_RE = re.compile(
    r"^(?P<ts>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?(?:Z|[+-]\d{2}:\d{2}))\s+(?P<type>[a-z]+)\s+"
    r"(?P<action>.+?)\s+(?P<id>[0-9a-f]{12,64}|\S+)(?:\s+\((?P<attrs>.*)\))?$",
    re.DOTALL,
)
_TS_START = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}")
_ATTR_KEY = re.compile(r"(?:^|, )([A-Za-z0-9_.\-/]+)=")


def parse_attributes(text: str) -> dict[str, str]:
    """``a=1, b=x, y, c=3`` -> {"a": "1", "b": "x, y", "c": "3"} (values may hold ", " and newlines)."""
    keys = list(_ATTR_KEY.finditer(text))
    out: dict[str, str] = {}
    for k, m in enumerate(keys):
        end = keys[k + 1].start() if k + 1 < len(keys) else len(text)
        out.setdefault(m.group(1), text[m.end() : end])
    return out


def normalise_action(action: str, obj_type: str = "container") -> str:
    verb, sep, arg = action.strip().partition(":")
    verb = verb.strip().lower()
    out = f"{verb}: {arg.strip()}" if sep and verb == "health_status" else verb
    return out if obj_type in ("container", "") else f"{obj_type} {out}"


def _int(value: Any) -> int | None:
    text = str(value).strip() if value is not None else ""
    return int(text) if re.fullmatch(r"-?\d{1,5}", text) else None


def _from_json(obj: dict[str, Any]) -> tuple[dict[str, Any] | None, str]:
    actor = obj.get("Actor") if isinstance(obj.get("Actor"), dict) else {}
    attrs = actor.get("Attributes") if isinstance(actor.get("Attributes"), dict) else {}
    if obj.get("timeNano") is not None and str(obj["timeNano"]).isdigit():
        ts = pd.Timestamp(int(obj["timeNano"]), unit="ns", tz="UTC")
    elif obj.get("time") is not None and str(obj["time"]).isdigit():
        ts = pd.Timestamp(int(obj["time"]), unit="s", tz="UTC")
    else:
        return None, "missing_timestamp"
    action = obj.get("Action") or obj.get("status")
    if not isinstance(action, str) or not action.strip():
        return None, "missing_action"
    obj_type = str(obj.get("Type") or "container")
    container = attrs.get("name") or (actor.get("ID") or obj.get("id") or "")[:12] or None
    if obj_type != "container":
        container = attrs.get("container", "")[:12] or None
    return {
        "ts": ts,
        "container": container,
        "action": normalise_action(action, obj_type),
        "exit_code": _int(attrs.get("exitCode")),
        "image": attrs.get("image") or obj.get("from"),
    }, ""


def _from_text(line: str) -> tuple[dict[str, Any] | None, str]:
    m = TEXT_RE.match(line)
    if m is None:
        return None, "unrecognised_line"
    ts = pd.to_datetime(m.group("ts"), utc=True, errors="coerce", format="ISO8601")
    if pd.isna(ts):
        return None, "bad_timestamp"
    attrs = parse_attributes(m.group("attrs") or "")
    obj_type = m.group("type")
    container = attrs.get("name") or m.group("id")[:12]
    if obj_type != "container":
        container = attrs.get("container", "")[:12] or None
    return {
        "ts": ts,
        "container": container,
        "action": normalise_action(m.group("action"), obj_type),
        "exit_code": _int(attrs.get("exitCode")),
        "image": attrs.get("image"),
    }, ""


def parse_docker_events(data: bytes, host: str) -> ParseResult:
    """Parse ``docker events`` output (JSON lines or text events, may be mixed) of one host."""
    lines, notes = decode_lines(data)
    q = Quarantine(host, "docker_events")
    rows: list[dict[str, Any]] = []
    skipped = continuations = 0
    pending: tuple[int, list[str]] | None = None  # text event being assembled: (line_no, lines)

    def flush() -> None:
        if pending is None:
            return
        no, parts = pending
        row, reason = _from_text("\n".join(parts))
        if row is None:
            q.add(no, reason, "\n".join(parts))
        else:
            rows.append({**row, "host": host})

    for no, line in enumerate(lines, start=1):
        text = line.strip()
        if pending is not None and text and not text.startswith("{") and not _TS_START.match(text):
            pending[1].append(line.rstrip("\r"))
            skipped, continuations = skipped + 1, continuations + 1
            continue
        flush()
        pending = None
        if not text:
            skipped += 1
        elif text.startswith("{"):
            try:
                obj = json.loads(text)
            except (ValueError, RecursionError):
                q.add(no, "invalid_json", line)
                continue
            row, reason = _from_json(obj) if isinstance(obj, dict) else (None, "not_an_object")
            if row is None:
                q.add(no, reason, line)
            else:
                rows.append({**row, "host": host})
        elif _TS_START.match(text):
            pending = (no, [text])
        else:
            q.add(no, "unrecognised_line", line)
    flush()
    if continuations:
        notes["continuation_lines"] = continuations
    return build_result("docker-events", "docker_events", rows, q, len(lines), skipped, notes=notes)
