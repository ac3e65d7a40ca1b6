"""journalctl -o json (fast path + fallback) and the export/short/short-iso importers."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from mlops_assets.lib.contracts.tables import JOURNAL_ENTRIES, schema_mismatches
from mlops_assets.lib.parsing import jsonl
from mlops_assets.lib.parsing.journal import parse_journal_json
from mlops_assets.lib.parsing.journal_text import (
    parse_journal_export,
    parse_journal_short,
    parse_journal_short_iso,
)

TS0 = 1795000000000000  # µs


def entry(i: int, **fields: object) -> str:
    base = {
        "__CURSOR": f"s=abc;i={i:x}",
        "__REALTIME_TIMESTAMP": str(TS0 + i),
        "PRIORITY": "6",
        "_SYSTEMD_UNIT": "nvidia-persistenced.service",
        "SYSLOG_IDENTIFIER": "nvidia-persistenced",
        "_PID": "812",
        "_BOOT_ID": "b0",
        "MESSAGE": f"message {i}",
    }
    base.update(fields)
    return json.dumps({k: v for k, v in base.items() if v is not ...})


def parse(lines: list[str]) -> object:
    return parse_journal_json(("\n".join(lines) + "\n").encode(), "gpu-01")


def test_fields_map_to_contract() -> None:
    r = parse([entry(0)])
    assert schema_mismatches(r.table, JOURNAL_ENTRIES) == []
    row = r.table.iloc[0]
    assert row["ts"] == pd.Timestamp(TS0 * 1000, unit="ns", tz="UTC")
    assert (row["unit"], row["identifier"], row["pid"], row["priority"]) == (
        "nvidia-persistenced.service",
        "nvidia-persistenced",
        812,
        6,
    )
    assert (row["boot_id"], row["cursor"], row["host"], row["message"]) == (
        "b0",
        "s=abc;i=0",
        "gpu-01",
        "message 0",
    )
    assert pd.isna(row["template_id"])


def test_byte_array_and_null_message_and_fallback_fields() -> None:
    lines = [
        entry(0, MESSAGE=[0x48, 0x69, 0xFF, 0x0A]),
        entry(
            1, MESSAGE=None, _SYSTEMD_UNIT=..., UNIT="docker.service", SYSLOG_IDENTIFIER=..., _COMM="dockerd"
        ),
        entry(2, PRIORITY=..., _PID="x"),
        entry(3, PRIORITY="12"),
    ]
    r = parse(lines)
    assert r.table["message"].iloc[0] == "Hi\ufffd\n"
    assert pd.isna(r.table["message"].iloc[1])
    assert (r.table["unit"].iloc[1], r.table["identifier"].iloc[1]) == ("docker.service", "dockerd")
    assert pd.isna(r.table["priority"].iloc[2]) and pd.isna(r.table["pid"].iloc[2])
    assert pd.isna(r.table["priority"].iloc[3])  # out of 0-7
    assert r.table["cursor"].tolist() == [
        "s=abc;i=0",
        "s=abc;i=1",
        "s=abc;i=2",
        "s=abc;i=3",
    ]  # file order kept


def test_bad_lines_are_quarantined_with_reasons_and_line_numbers() -> None:
    lines = [
        entry(0),
        "{broken",
        "",
        entry(1, __REALTIME_TIMESTAMP=...),
        "[1]",
        entry(2, __REALTIME_TIMESTAMP="x"),
    ]
    r = parse(lines)
    assert len(r.table) == 1 and r.skipped == 1
    assert r.quarantine[["line_no", "reason"]].values.tolist() == [
        [2, "invalid_json"],
        [4, "missing_timestamp"],
        [5, "not_an_object"],
        [6, "bad_timestamp"],
    ]
    assert r.records_in == 6


def test_number_where_string_belongs_is_found_by_bisection(monkeypatch: pytest.MonkeyPatch) -> None:
    """pyarrow rejects the block; bisection isolates the line, which the stdlib path then keeps."""
    monkeypatch.setattr(jsonl, "_MIN_BISECT_LINES", 4)
    lines = [entry(i) for i in range(100)]
    lines[57] = entry(57, _PID=4242)
    r = parse(lines)
    assert len(r.table) == 100 and r.table["pid"].iloc[57] == 4242 and r.notes["stdlib_json_lines"] >= 1
    assert r.table["ts"].is_monotonic_increasing


def test_blocks_split_on_line_boundaries(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(jsonl, "BLOCK_BYTES", 500)
    lines = [entry(i) for i in range(60)] + ["{bad"]
    r = parse(lines)
    assert len(r.table) == 60 and r.quarantine["line_no"].tolist() == [61]
    assert r.table["cursor"].tolist() == [f"s=abc;i={i:x}" for i in range(60)]


def test_crlf_and_unterminated_last_line() -> None:
    data = (entry(0) + "\r\n" + entry(1)).encode()
    r = parse_journal_json(data, "h")
    assert len(r.table) == 2 and r.records_in == 2


def test_very_long_line_is_truncated_in_quarantine() -> None:
    r = parse(["{" + "x" * 5_000_000])
    assert r.reasons == {"invalid_json": 1} and len(r.quarantine["raw"].iloc[0].encode()) <= 4096


EXPORT = (
    b"__CURSOR=s=1\n__REALTIME_TIMESTAMP=1709520776193967\nPRIORITY=3\n_SYSTEMD_UNIT=docker.service\n"
    b"_PID=466\nMESSAGE\n" + (5).to_bytes(8, "little") + b"a\nb\x00c\n_BOOT_ID=b\n\n"
    b"__CURSOR=s=2\nMESSAGE=no time\n\n"
    b"__CURSOR=s=3\n__REALTIME_TIMESTAMP=1709520776193968\nMESSAGE\n" + (99).to_bytes(8, "little") + b"short"
)


def test_export_binary_fields_missing_timestamp_and_truncation() -> None:
    r = parse_journal_export(EXPORT, "h")
    assert r.records_in == 3 and len(r.table) == 1
    row = r.table.iloc[0]
    assert (row["message"], row["unit"], row["pid"], row["priority"]) == (
        "a\nb\x00c",
        "docker.service",
        466,
        3,
    )
    assert r.reasons == {"missing_timestamp": 1, "bad_binary_field": 1}


def test_short_iso_with_zone_continuation_and_markers() -> None:
    data = (
        b"-- Boot 0123 --\n"
        b"2025-01-17T17:10:43+0800 node1 kernel: NVRM: Xid (PCI:0000:3b:00): 79, pid=1, GPU fell off\n"
        b"2025-01-17T17:10:44.250000+00:00 node1 sshd[991]: Accepted key\n"
        b"    second line of the same message\n"
        b"garbage line\n"
    )
    r = parse_journal_short_iso(data, "h")
    assert r.table["ts"].tolist() == [
        pd.Timestamp("2025-01-17 09:10:43", tz="UTC"),
        pd.Timestamp("2025-01-17 17:10:44.25", tz="UTC"),
    ]
    assert r.table["identifier"].tolist() == ["kernel", "sshd"] and r.table["pid"].iloc[1] == 991
    assert r.table["message"].iloc[1] == "Accepted key\nsecond line of the same message"
    assert r.skipped == 2 and r.reasons == {"unrecognised_line": 1}


def test_short_year_given_inferred_and_rolled_over() -> None:
    data = b"Dec 31 23:59:59 node1 cron[5]: tick\nJan  1 00:00:01 node1 cron[5]: tock\n"
    r = parse_journal_short(data, "h", year=2024)
    assert r.table["ts"].dt.year.tolist() == [2024, 2025] and "year_inferred" not in r.notes
    inferred = parse_journal_short(data, "h")
    assert "year_inferred" in inferred.notes and inferred.notes["timezone"]


def test_byte_array_messages_are_repaired_in_place_or_take_the_stdlib_path() -> None:
    def compact(i: int, **fields: object) -> str:
        return json.dumps(json.loads(entry(i, **fields)), separators=(",", ":"))

    ansi = list(b"\x1b[0;32mGPU 0 ok\x1b[0m caf\xc3\xa9 \xff")  # fits: the array is longer than its text
    nuls = [0] * 30  # "\u0000" is longer than "0,": cannot be rewritten in place
    lines = [
        compact(0),
        compact(1, MESSAGE=ansi),
        compact(2, MESSAGE=nuls),
        compact(3, MESSAGE=ansi, __REALTIME_TIMESTAMP="not-a-time"),
        compact(4),
    ]
    r = parse(lines)
    assert r.table["message"].tolist() == [
        "message 0",
        bytes(ansi).decode("utf-8", errors="replace"),
        "\x00" * 30,
        "message 4",
    ]
    assert r.table["cursor"].tolist() == ["s=abc;i=0", "s=abc;i=1", "s=abc;i=2", "s=abc;i=4"]
    assert r.notes["stdlib_json_lines"] == 1  # only the NUL line left the fast path
    assert r.quarantine[["line_no", "reason"]].values.tolist() == [[4, "bad_timestamp"]]
    assert '"MESSAGE":[27,' in r.quarantine["raw"].iloc[0]  # the input bytes, not the rewrite
