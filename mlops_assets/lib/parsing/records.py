"""Shared bookkeeping of every parser: quarantine rows, accounting, conformed result.

Each parser owns its format; this module owns the promise they all make: every input record is in
the table, in quarantine (with a reason and at most 4 KiB of the raw text) or counted as a
structural ``skipped`` line, and ``records_in`` equals the sum.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from mlops_assets.lib.contracts.tables import (
    QUARANTINE,
    TABLES,
    ParseResult,
    conform,
    empty_frame,
    schema_mismatches,
)
from mlops_assets.lib.parsing.decode import truncate_raw


class Quarantine:
    """Collects rejected records of one parse (line numbers are 1-based, as an editor shows)."""

    def __init__(self, host: str, source: str) -> None:
        self.host = host
        self.source = source
        self.line_no: list[int] = []
        self.reason: list[str] = []
        self.raw: list[str] = []

    def add(self, line_no: int, reason: str, raw: str | bytes) -> None:
        self.line_no.append(line_no)
        self.reason.append(reason)
        self.raw.append(truncate_raw(raw))

    def __len__(self) -> int:
        return len(self.line_no)

    def frame(self) -> pd.DataFrame:
        if not self.line_no:
            return empty_frame(QUARANTINE)
        n = len(self.line_no)
        df = pd.DataFrame(
            {
                "ingested_at": [pd.Timestamp.now(tz="UTC")] * n,
                "host": [self.host] * n,
                "source": [self.source] * n,
                "line_no": self.line_no,
                "reason": self.reason,
                "raw": self.raw,
            }
        )
        return conform(df.sort_values("line_no", kind="stable"), QUARANTINE)


def build_result(
    kind: str,
    table_name: str,
    rows: pd.DataFrame | list[dict[str, Any]],
    quarantine: Quarantine,
    records_in: int,
    skipped: int = 0,
    events: pd.DataFrame | None = None,
    notes: dict[str, Any] | None = None,
) -> ParseResult:
    """Conform ``rows`` to ``table_name``'s contract and check the accounting invariant.

    The invariant check raises: a mismatch is a bug in the parser (a record was lost or counted
    twice), never a property of the input.
    """
    schema = TABLES[table_name]
    if isinstance(rows, list):
        table = conform(pd.DataFrame(rows), schema) if rows else empty_frame(schema)
    elif not len(rows):
        table = empty_frame(schema)
    elif list(rows.columns) == list(schema) and not schema_mismatches(rows, schema):
        # already the contract (the fast parsers build it so): conform would only copy it
        table = rows if rows.index.equals(pd.RangeIndex(len(rows))) else rows.reset_index(drop=True)
    else:
        table = conform(rows, schema)
    result = ParseResult(
        kind=kind,
        table=table,
        quarantine=quarantine.frame(),
        records_in=records_in,
        skipped=skipped,
        events=events,
        notes=dict(notes or {}),
    )
    accounted = len(result.table) + len(result.quarantine) + result.skipped
    if accounted != records_in:
        raise AssertionError(
            f"{kind} parser lost records: records_in={records_in} but table={len(result.table)} + "
            f"quarantine={len(result.quarantine)} + skipped={result.skipped} = {accounted}"
        )
    return result
