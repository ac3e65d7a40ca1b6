"""Format detection, parse_any dispatch, quality measures and byte decoding."""

from __future__ import annotations

import codecs

import pandas as pd
import pytest

from mlops_assets.lib.parsing.decode import decode_lines, decode_text, truncate_raw
from mlops_assets.lib.parsing.detect import UnknownKindError, detect_kind, parse_any
from mlops_assets.lib.parsing.journal import parse_journal_json
from mlops_assets.lib.parsing.quality import quarantine_rate, timestamp_order_violations


@pytest.mark.parametrize(
    ("data", "kind"),
    [
        (b"timestamp, index, name\n2026/11/23 14:00:05.000, 0, A100\n", "gpu"),
        (b"No devices were found\n", "gpu"),
        (b'<?xml version="1.0" ?>\n<nvidia_smi_log>', "gpu-xml"),
        (b'{"__REALTIME_TIMESTAMP":"1","MESSAGE":"x","_TRANSPORT":"stdout"}\n', "journal"),
        (b'{"__REALTIME_TIMESTAMP":"1","MESSAGE":"x","_TRANSPORT":"kernel"}\n', "kernel"),
        (b'{"log":"x\\n","stream":"stdout","time":"2016-01-07T16:49:10Z"}\n', "docker"),
        (b'{"Type":"container","Action":"die","time":1,"timeNano":1}\n', "docker-events"),
        (b"2026-11-23T14:00:05Z container die 7f3c2a1b4c5d (exitCode=1, name=x)\n", "docker-events"),
        (b"2026-11-23T14:00:05.123456789Z hello\n", "docker-logs"),
        (b"__CURSOR=s=1\n__REALTIME_TIMESTAMP=1\n", "journal-export"),
        (b"2025-01-17T17:10:43+0000 node sshd[1]: hi\n", "journal-short-iso"),
        (b"2025-01-17T17:10:43+0000 node kernel: hi\n", "kernel"),
        (b"Oct 11 20:46:22 node systemd[1]: Started\n", "journal-short"),
        (b"# sudo dmesg --ctime\n\n[Sun Feb 23 16:24:18 2025] NVRM: x\n", "kernel"),
        (b"2025-01-21T02:21:33,498559+00:00 NVRM: x\n", "kernel"),
        (b"6,3964,206764307,-;nvidia\n", "kernel"),
        (b"hello world\n", None),
        (b"", None),
    ],
)
def test_detect_kind(data: bytes, kind: str | None) -> None:
    assert detect_kind(data) == kind


def test_parse_any_dispatch_and_errors() -> None:
    r = parse_any(b"2026-11-23T14:00:05Z ERROR x\n", "docker-logs", host="h", container="c", stream="stderr")
    assert r.table[["container", "stream", "level"]].values.tolist() == [["c", "stderr", "error"]]
    with pytest.raises(UnknownKindError, match="--kind"):
        parse_any(b"hello\n")
    with pytest.raises(UnknownKindError, match="unknown kind"):
        parse_any(b"x", "syslog")


def test_quarantine_rate() -> None:
    r = parse_journal_json(b'{"__REALTIME_TIMESTAMP":"1","MESSAGE":"a"}\n{bad\n{bad\n\n', "h")
    assert quarantine_rate(r) == pytest.approx(2 / 3)
    assert quarantine_rate(parse_journal_json(b"", "h")) == 0.0


def test_timestamp_order_violations() -> None:
    ts = pd.Series(
        pd.to_datetime(
            [
                "2026-01-01 00:00:10",
                "2026-01-01 00:00:09",
                "2026-01-01 00:00:00",
                None,
                "2026-01-01 00:01:00",
            ],
            utc=True,
        )
    )
    assert timestamp_order_violations(ts, pd.Timedelta(seconds=2)) == 1
    assert timestamp_order_violations(ts, pd.Timedelta(seconds=0)) == 2
    assert timestamp_order_violations(ts[:1], pd.Timedelta(0)) == 0


def test_decode_boms_invalid_bytes_and_nuls() -> None:
    assert decode_text(codecs.BOM_UTF8 + b"a")[0] == "a"
    text, notes = decode_text("é\n".encode("utf-16"))
    assert text == "é\n" and notes["encoding"] == "utf-16"
    text, notes = decode_text(b"a\xffb\x00c")
    assert text == "a\ufffdbc" and notes == {"invalid_bytes": 1, "nul_bytes": 1}
    assert decode_text("\ufffd".encode())[1] == {}  # a literal U+FFFD is not damage
    lines, _ = decode_lines("a\r\nb\x0cc\u2028\nlast".encode())
    assert lines == ["a", "b\x0cc\u2028", "last"]  # only LF splits records


def test_truncate_raw_never_splits_characters() -> None:
    assert len(truncate_raw("é" * 5000).encode()) <= 4096
    assert truncate_raw("é" * 5000).endswith("é")
    assert len(truncate_raw(b"\xff" * 10000).encode()) <= 4096
