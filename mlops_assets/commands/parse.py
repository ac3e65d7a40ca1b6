"""`mlops-assets parse FILE`: parse one raw log file and print ONE JSON summary line.

Exit 0 when the file was read and parsed (quarantined lines are reported, not fatal); exit 2 with a
one-line error on stderr when the file cannot be read or its kind cannot be told. Multi-section
reports (nvidia-bug-report.log) also list each table's rows under ``tables``; ``--out`` writes the
kernel table there and the others beside it as ``<out stem>.<table>.parquet``.
"""

from __future__ import annotations

import argparse
import json
import sys


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from mlops_assets.lib.parsing.detect import KINDS  # the parsers own the list of kinds

    parser.add_argument("file", help="raw log file")
    parser.add_argument(
        "--kind", default="auto", choices=("auto", *KINDS), help="log format (default: detect)"
    )
    parser.add_argument("--host", default="unknown", help="host name written to the host column")
    parser.add_argument("--container", default=None, help="container name (docker kinds; default: file stem)")
    parser.add_argument("--stream", default="stdout", choices=("stdout", "stderr"), help="docker-logs stream")
    parser.add_argument(
        "--year",
        type=int,
        default=None,
        help="year of the first syslog/journal-short line (default: inferred from a journalctl banner, "
        "else the file's mtime, rolling back a year for a month in the future)",
    )
    parser.add_argument(
        "--boot-time", default=None, help="kernel: ISO time of boot, makes relative dmesg/kmsg times absolute"
    )
    parser.add_argument("--out", default=None, help="write the parsed table as parquet (atomic)")


def _iso(value: object) -> str | None:
    import pandas as pd

    return None if value is None or pd.isna(value) else pd.Timestamp(value).isoformat()


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from mlops_assets.lib.parsing.detect import UnknownKindError, parse_any
    from mlops_assets.lib.storage.partition_store import write_parquet

    path = Path(args.file)
    try:
        data = path.read_bytes()
    except OSError as exc:
        print(f"error: cannot read {path}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    container = args.container or path.name.split(".")[0]
    boot_time = None
    if args.boot_time:
        import pandas as pd

        try:
            boot_time = pd.Timestamp(args.boot_time).to_pydatetime()
        except ValueError:
            print(f"error: --boot-time {args.boot_time!r} is not an ISO timestamp", file=sys.stderr)
            return 2
    from datetime import UTC, datetime

    reference = datetime.fromtimestamp(path.stat().st_mtime, tz=UTC)
    try:
        result = parse_any(
            data,
            args.kind,
            host=args.host,
            container=container,
            stream=args.stream,
            year=args.year,
            boot_time=boot_time,
            reference=reference,
        )
    except UnknownKindError as exc:
        print(f"error: {path}: {exc}", file=sys.stderr)
        return 2
    table = result.table
    ts = table["ts"] if "ts" in table.columns and len(table) else None
    summary: dict[str, object] = {
        "kind": result.kind,
        "rows": len(table),
        "quarantined": len(result.quarantine),
        "reasons": result.reasons,
        "columns": list(table.columns),
        "first_ts": _iso(ts.min()) if ts is not None else None,
        "last_ts": _iso(ts.max()) if ts is not None else None,
    }
    if result.events is not None and len(result.events):
        summary["events"] = len(result.events)
    parts = getattr(result, "parts", None)  # multi-section reports fill several tables
    if parts:
        summary["tables"] = {name: len(df) for name, df in sorted(parts.items())}
    if result.notes:
        summary["notes"] = result.notes
    if args.out:
        try:
            write_parquet(args.out, table)
            for name, df in (parts or {}).items():
                if len(df) and df is not table:
                    write_parquet(str(Path(args.out).with_suffix(f".{name}.parquet")), df)
        except OSError as exc:
            print(f"error: cannot write {args.out}: {exc.strerror or exc}", file=sys.stderr)
            return 2
    print(json.dumps(summary, default=str))
    return 0
