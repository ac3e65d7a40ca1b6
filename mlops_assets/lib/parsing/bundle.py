"""Parse a RawBundle (one host, one window, every source) into the contract tables + quarantine.

This is the single mapping from raw members to parsers, shared by the parse assets, the held-out
evaluation and the CLI demo, so the three can never parse the same bytes differently. A member
with a ``<member>.format`` companion (landing folders: lib/parsing/landing.py) is parsed as the
kind it names; without one, as the layout's own format.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

import pandas as pd

from mlops_assets.lib.contracts.raw import (
    FORMAT_SUFFIX,
    MEMBER_DOCKER_EVENTS,
    MEMBER_GPU,
    MEMBER_JOURNAL,
    MEMBER_KERNEL,
)
from mlops_assets.lib.contracts.tables import QUARANTINE, TABLES, ParseResult, conform, empty_frame

# source -> the tables it produces (first one is the source's main table)
SOURCE_TABLES: dict[str, tuple[str, ...]] = {
    "gpu": ("gpu_samples", "gpu_errors"),
    "journal": ("journal_entries",),
    "kernel": ("kernel_events",),
    "docker_logs": ("docker_lines",),
    "docker_events": ("docker_events",),
}
TABLE_SCHEMAS: dict[str, dict[str, str]] = {t: TABLES[t] for tables in SOURCE_TABLES.values() for t in tables}


@dataclass
class SourceParse:
    """Parsed output of one source: its tables, quarantine and record accounting."""

    source: str
    tables: dict[str, pd.DataFrame]
    quarantine: pd.DataFrame
    records_in: int = 0
    skipped: int = 0
    notes: dict[str, object] = field(default_factory=dict)

    @property
    def rows(self) -> int:
        return len(self.tables[SOURCE_TABLES[self.source][0]])

    @property
    def quarantine_rate(self) -> float:
        denominator = self.rows + len(self.quarantine)
        return len(self.quarantine) / denominator if denominator else 0.0


@dataclass
class ParsedBundle:
    tables: dict[str, pd.DataFrame]
    quarantine: pd.DataFrame
    by_source: dict[str, SourceParse]


def _tagged_quarantine(result: ParseResult, source: str) -> pd.DataFrame:
    q = result.quarantine.copy()
    q["source"] = source
    return conform(q, QUARANTINE)


def parse_source(
    source: str, members: Mapping[str, bytes], host: str, reference: datetime | None = None
) -> SourceParse:
    """Parse every member of one source. Unknown members are quarantined, never ignored.

    ``reference``: the time yearless syslog lines are dated against (the partition end) when the
    member's format hint carries no year.
    """
    from mlops_assets.lib.parsing.detect import parse_any
    from mlops_assets.lib.parsing.docker import parse_docker_events, parse_docker_logs
    from mlops_assets.lib.parsing.gpu import parse_gpu_csv
    from mlops_assets.lib.parsing.journal import parse_journal_json
    from mlops_assets.lib.parsing.kernel import parse_kernel
    from mlops_assets.lib.parsing.landing import ACCEPTED, parse_format_member

    results: list[tuple[str, ParseResult]] = []  # (table, result)
    unknown: list[str] = []
    hints = {n.removesuffix(FORMAT_SUFFIX): members[n] for n in members if n.endswith(FORMAT_SUFFIX)}
    for name in sorted(members):
        data = members[name]
        if name.endswith(FORMAT_SUFFIX) and name.removesuffix(FORMAT_SUFFIX) in members:
            continue
        if name in hints:
            kind, kw = parse_format_member(hints[name])
            if kind not in ACCEPTED.get(source, {}).values():
                unknown.append(name)
                continue
            container, _, stream = name.rpartition(".")
            res = parse_any(
                data, kind, host=host, reference=reference, container=container, stream=stream, **kw
            )
            results.append((SOURCE_TABLES[source][0], res))
        elif source == "gpu" and name == MEMBER_GPU:
            results.append(("gpu_samples", parse_gpu_csv(data, host)))
        elif source == "journal" and name == MEMBER_JOURNAL:
            results.append(("journal_entries", parse_journal_json(data, host)))
        elif source == "kernel" and name == MEMBER_KERNEL:
            results.append(("kernel_events", parse_kernel(data, host)))
        elif source == "docker_events" and name == MEMBER_DOCKER_EVENTS:
            results.append(("docker_events", parse_docker_events(data, host)))
        elif source == "docker_events" and name == "ps.json":
            continue  # container inventory, not events: read by the collector for container names
        elif source == "docker_logs" and name.rsplit(".", 1)[-1] in ("stdout", "stderr"):
            container, stream = name.rsplit(".", 1)
            results.append(("docker_lines", parse_docker_logs(data, host, container, stream)))
        else:
            unknown.append(name)

    tables = {t: empty_frame(TABLE_SCHEMAS[t]) for t in SOURCE_TABLES[source]}
    frames: dict[str, list[pd.DataFrame]] = {t: [] for t in tables}
    quarantines: list[pd.DataFrame] = []
    records_in = skipped = 0
    notes: dict[str, object] = {}
    for table, res in results:
        frames[table].append(res.table)
        if res.events is not None and "gpu_errors" in frames:
            frames["gpu_errors"].append(res.events)
        quarantines.append(_tagged_quarantine(res, source))
        records_in += res.records_in
        skipped += res.skipped
        notes.update(res.notes)
    for name in unknown:
        quarantines.append(
            conform(
                pd.DataFrame(
                    {
                        "ingested_at": [pd.Timestamp.now(tz="UTC")],
                        "host": [host],
                        "source": [source],
                        "line_no": [0],
                        "reason": ["unknown_member"],
                        "raw": [
                            f"member {name!r} ({len(members[name])} bytes) has no parser for source {source!r}"
                        ],
                    }
                ),
                QUARANTINE,
            )
        )
        records_in += 1
    for table, parts in frames.items():
        parts = [p for p in parts if not p.empty]
        if parts:
            tables[table] = conform(pd.concat(parts, ignore_index=True), TABLE_SCHEMAS[table]).sort_values(
                "ts", kind="stable", ignore_index=True
            )
    quarantines = [q for q in quarantines if not q.empty]
    quarantine = pd.concat(quarantines, ignore_index=True) if quarantines else empty_frame(QUARANTINE)
    return SourceParse(source, tables, quarantine, records_in, skipped, notes)


def parse_bundle(
    bundle: Mapping[str, Mapping[str, bytes]], host: str, reference: datetime | None = None
) -> ParsedBundle:
    by_source = {source: parse_source(source, members, host, reference) for source, members in bundle.items()}
    tables: dict[str, pd.DataFrame] = {}
    for sp in by_source.values():
        tables.update(sp.tables)
    for table, schema in TABLE_SCHEMAS.items():
        tables.setdefault(table, empty_frame(schema))
    quarantines = [sp.quarantine for sp in by_source.values() if not sp.quarantine.empty]
    quarantine = pd.concat(quarantines, ignore_index=True) if quarantines else empty_frame(QUARANTINE)
    return ParsedBundle(tables, quarantine, by_source)
