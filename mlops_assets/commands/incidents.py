"""`mlops-assets incidents [--host H] [--since ISO] [--json]` and `mlops-assets incidents show ID`.

The same newest-first list the `incidents` asset shows in the Dagster UI, read from the storage root
(the triaged table when incident_triage ran, else the raw incidents table), with each incident's
HTML report path. No dagster import: it works on a machine that only sees the storage root.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

import pandas as pd


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", nargs="?", choices=["list", "show"], default="list")
    parser.add_argument("incident_id", nargs="?", help="with `show`: the incident id (a unique prefix works)")
    parser.add_argument("--host", help="only this host")
    parser.add_argument("--since", help="only incidents starting at or after this ISO time (UTC if no zone)")
    parser.add_argument("--limit", type=int, default=50, help="newest N (default 50; 0 = all)")
    parser.add_argument("--json", action="store_true", help="JSON instead of a table")
    parser.add_argument(
        "--storage-root", default=None, help="default MLOPS_STORAGE_ROOT / <MLOPS_HOME>/storage"
    )


def _since(value: str) -> pd.Timestamp:
    try:
        ts = pd.Timestamp(value)
    except ValueError as exc:
        raise SystemExit(
            f"--since {value!r} is not an ISO time, e.g. 2026-11-24T08:00 or 2026-11-24"
        ) from exc
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")


def load(root: str) -> tuple[pd.DataFrame, str]:
    """(incidents table, its path): triaged when available."""
    from mlops_assets.lib.storage.partition_store import exists, join, read_parquet

    for path in (
        join(root, "incident_triage", "incidents.parquet"),
        join(root, "incidents", "incidents.parquet"),
    ):
        if exists(path):
            return read_parquet(path), path
    raise SystemExit(
        f"no incidents table under {root}: materialize the `incidents` asset (or run `make demo`) first"
    )


def report_paths(root: str, ids: list[str]) -> dict[str, str]:
    from mlops_assets.lib.storage.partition_store import exists, join
    from mlops_assets.lib.triage.report import report_name

    paths = {i: join(root, "reports", "incidents", report_name(i)) for i in ids}
    return {i: p for i, p in paths.items() if exists(p)}


def _print_table(rows: list[dict[str, Any]], total: int, source: str) -> None:
    cols = ["time", "host", "gpu", "severity", "kind", "action", "incident_id", "summary"]
    widths = {c: max(len(c), *(len(str(r[c])) for r in rows)) for c in cols[:-1]}
    print("  ".join(c.ljust(widths[c]) for c in cols[:-1]) + "  summary")
    for r in rows:
        print("  ".join(str(r[c]).ljust(widths[c]) for c in cols[:-1]) + "  " + r["summary"])
        if r["report"]:
            print(" " * 4 + "report: " + r["report"])
    print(f"{len(rows)} of {total} incident(s) from {source}", file=sys.stderr)


def _json_or_text(value: Any) -> Any:
    """Parsed JSON, or the text itself when it is not JSON (shown verbatim, never dropped)."""
    if not isinstance(value, str):
        return value
    try:
        return json.loads(value)
    except ValueError:
        return value


def _show(table: pd.DataFrame, root: str, wanted: str, as_json: bool) -> int:
    from mlops_assets.lib.triage.listing import one_line

    ids = table["incident_id"].astype(str)
    match = table[(ids == wanted) | ids.str.startswith(wanted)] if wanted else table.iloc[0:0]
    if len(match) != 1:
        what = "no incident" if match.empty else f"{len(match)} incidents"
        print(f"{what} matches {wanted!r}; list them with `mlops-assets incidents`", file=sys.stderr)
        return 1
    row = match.iloc[0].to_dict()
    iid = str(row["incident_id"])
    report = report_paths(root, [iid]).get(iid)
    record = {k: (None if not isinstance(v, (list, dict)) and pd.isna(v) else v) for k, v in row.items()}
    for key in ("evidence", "summary"):
        record[key] = _json_or_text(record.get(key))
    record["one_line"] = one_line(row)
    record["report"] = report
    if as_json:
        print(json.dumps(record, default=str))
        return 0
    for key in (
        "incident_id",
        "host",
        "gpu_index",
        "gpu_uuid",
        "pci_bus",
        "severity",
        "layer",
        "kind",
        "action",
        "start",
        "end",
        "windows",
        "max_score",
        "model_version",
        "sources",
        "one_line",
    ):
        print(f"{key:>14}: {record.get(key) if record.get(key) is not None else '-'}")
    evidence = record.get("evidence") if isinstance(record.get("evidence"), dict) else {}
    unusual = evidence.get("unusual_lines") or []
    if unusual:
        print(f"{'unusual lines':>14}:")
        for g in unusual[:10]:
            print(
                f"    [{g.get('level')}] x{g.get('count')} {g.get('source')}/{g.get('origin')}: {g.get('message')}"
            )
    print(f"{'report':>14}: {report or '(none written yet: materialize incident_triage)'}")
    return 0


def run(args: argparse.Namespace) -> int:
    from mlops_assets.environment import settings
    from mlops_assets.lib.triage.listing import newest

    root = args.storage_root or settings().storage_root
    table, source = load(root)
    if args.action == "show":
        return _show(table, root, args.incident_id or "", args.json)
    if args.incident_id:
        raise SystemExit(f"unexpected argument {args.incident_id!r}: did you mean `incidents show ID`?")
    if args.host:
        table = table[table["host"].astype(str) == args.host]
    if args.since:
        table = table[pd.to_datetime(table["start"], utc=True) >= _since(args.since)]
    rows = newest(table, report_paths(root, table["incident_id"].astype(str).tolist()), args.limit or None)
    if args.json:
        print(json.dumps({"source": source, "total": len(table), "incidents": rows}))
    elif rows:
        _print_table(rows, len(table), source)
    else:
        print(f"no incidents match (of those in {source})", file=sys.stderr)
    return 0
