"""Operator labels on incidents (confirmed | false-alarm): append-only, atomic, used by every evaluation.

Each label is ONE new JSON file under ``<root>/labels/operator/`` (timestamp + random suffix in its
name, written to a temp name and renamed; an existing name is never overwritten), so concurrent
labellers never lose each other's work and the history of a decision stays readable. The latest
label of an incident wins. A label carries the incident's host and interval, copied from the
incidents table when it is made, so evaluations do not depend on that table still holding it.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

import pandas as pd

from mlops_assets.lib.storage.partition_store import (
    atomic_write_text,
    exists,
    join,
    list_dir,
    read_bytes,
    read_parquet,
)

VERDICTS = ("confirmed", "false-alarm")
LABEL_DIR = ("labels", "operator")
COLUMNS = ("incident_id", "verdict", "note", "labelled_at", "host", "start", "end", "by")


def label_record(
    incident: dict[str, Any], verdict: str, note: str = "", by: str = "", at: datetime | None = None
) -> dict[str, str]:
    """A label of ``incident`` (a row of the incidents table); raises on an unknown verdict."""
    if verdict not in VERDICTS:
        raise ValueError(f"verdict must be one of {VERDICTS}, got {verdict!r}")
    for key in ("incident_id", "host", "start", "end"):
        if incident.get(key) is None or (not isinstance(incident[key], str) and pd.isna(incident[key])):
            raise ValueError(f"incident lacks {key!r}: {incident}")
    at = at or datetime.now(UTC)
    return {
        "incident_id": str(incident["incident_id"]),
        "verdict": verdict,
        "note": note,
        "labelled_at": at.isoformat(),
        "host": str(incident["host"]),
        "start": pd.Timestamp(incident["start"]).tz_convert("UTC").isoformat()
        if pd.Timestamp(incident["start"]).tzinfo
        else pd.Timestamp(incident["start"], tz="UTC").isoformat(),
        "end": pd.Timestamp(incident["end"]).tz_convert("UTC").isoformat()
        if pd.Timestamp(incident["end"]).tzinfo
        else pd.Timestamp(incident["end"], tz="UTC").isoformat(),
        "by": by,
    }


def append_label(root: str, record: dict[str, str]) -> str:
    """Write ``record`` as a new file; returns its path. Never replaces an existing label."""
    at = datetime.fromisoformat(record["labelled_at"])
    name = f"{at:%Y%m%dT%H%M%S%f}-{uuid.uuid4().hex[:12]}.json"
    path = join(root, *LABEL_DIR, name)
    if exists(path):
        raise FileExistsError(f"label file {path} exists; labels are append-only, retry")
    atomic_write_text(path, json.dumps(record, sort_keys=True))
    return path


def read_labels(root: str | None) -> pd.DataFrame:
    """Every label ever written, oldest first (empty frame with COLUMNS when there is none or no root)."""
    folder = join(root, *LABEL_DIR) if root else None
    names = list_dir(folder) if folder else []
    rows = [json.loads(read_bytes(join(folder, n))) for n in names if n.endswith(".json")]
    frame = pd.DataFrame(rows, columns=list(COLUMNS))
    for c in ("start", "end"):
        frame[c] = pd.to_datetime(frame[c], utc=True)
    return frame.sort_values("labelled_at", kind="stable", ignore_index=True)


def latest_labels(labels: pd.DataFrame) -> pd.DataFrame:
    """The current verdict per incident: its latest label."""
    if labels.empty:
        return labels
    return labels.sort_values("labelled_at", kind="stable").groupby("incident_id", as_index=False).last()


def split_verdicts(labels: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(confirmed, dismissed) incidents (host, start, end, incident_id) by their latest verdict."""
    cur = latest_labels(labels)
    if cur.empty:
        return cur, cur
    cols = ["incident_id", "host", "start", "end"]
    return (
        cur.loc[cur["verdict"] == "confirmed", cols].reset_index(drop=True),
        cur.loc[cur["verdict"] == "false-alarm", cols].reset_index(drop=True),
    )


INCIDENTS_FILE = ("incidents", "incidents.parquet")


def find_incident(root: str, incident_id: str) -> dict[str, Any]:
    """The incidents-table row of ``incident_id``; raises with what to do when it is unknown."""
    path = join(root, *INCIDENTS_FILE)
    if not exists(path):
        raise FileNotFoundError(f"no incidents table at {path}: materialize the incidents asset first")
    table = read_parquet(path)
    rows = table[table["incident_id"].astype(str) == incident_id]
    if rows.empty:
        known = ", ".join(table["incident_id"].astype(str).tail(5))
        raise KeyError(f"incident {incident_id!r} is not in {path} (latest: {known or 'none'})")
    return rows.iloc[-1].to_dict()


def label_incident(root: str, incident_id: str, verdict: str, note: str = "", by: str = "") -> dict[str, str]:
    """Look the incident up, write its label; returns the record with the label's path."""
    record = label_record(find_incident(root, incident_id), verdict, note, by)
    return {**record, "path": append_label(root, record)}
