"""Text formats of issue 16: localized short journals, banners and boot markers, kern.log syslog
kernel lines with uptimes, docker events text with multi-line values, nvidia-smi -q text, and
NVIDIA bug reports."""

from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd
import pytest

from mlops_assets.lib.parsing.bugreport import parse_sectioned
from mlops_assets.lib.parsing.detect import UnknownKindError, detect_kind, parse_any
from mlops_assets.lib.parsing.docker_events import parse_attributes, parse_docker_events
from mlops_assets.lib.parsing.gpu import parse_gpu_csv
from mlops_assets.lib.parsing.gpu_query_text import parse_gpu_query_text
from mlops_assets.lib.parsing.journal_text import parse_journal_short
from mlops_assets.lib.parsing.kernel import parse_kernel
from mlops_assets.lib.parsing.months import ABBREVIATED
from mlops_assets_tests.lib.parsing.bugreport_fixture import bug_report, q_report
from mlops_assets_tests.realdata import realdata_dir

LOCALE_CASES = [(loc, m, tok) for loc, names in ABBREVIATED.items() for m, tok in enumerate(names.split(), 1)]


@pytest.mark.parametrize(("locale", "month", "token"), LOCALE_CASES)
def test_every_locale_month_name_is_read(locale: str, month: int, token: str) -> None:
    spellings = (token, token.capitalize(), token + ".") if token[0].isalpha() else (token, f" {token}")
    for written in spellings:
        line = f"{written} 05 10:00:00 node systemd[1]: Started x.\n".encode()
        r = parse_journal_short(line, "h", year=2025)
        assert r.reasons == {} and r.table["ts"].iloc[0] == pd.Timestamp(
            f"2025-{month:02d}-05 10:00", tz="UTC"
        )
    assert detect_kind(f"{token} 05 10:00:00 node systemd[1]: x\n".encode()) == "journal-short"


def test_japanese_padding_and_chinese_months() -> None:
    text = " 1月 05 10:00:00 ノード systemd[1]: 起動しました\n12月 31 23:00:00 节点 kernel: NVRM: Xid (PCI:0000:3b:00): 79\n"
    r = parse_journal_short(text.encode(), "h", year=2026)
    assert r.table["ts"].dt.month.tolist() == [1, 12] and r.reasons == {}


def test_unknown_locale_names_lc_all() -> None:
    data = b"Xyzzy 05 10:00:00 node systemd[1]: x\n"
    with pytest.raises(UnknownKindError, match="LC_ALL=C"):
        parse_any(data, "auto")
    r = parse_journal_short(data, "h", year=2025)
    assert r.reasons == {"unknown_month_name": 1} and "LC_ALL=C" in r.notes["fix"]


def test_banners_date_the_file_and_reboots_start_new_boots() -> None:
    text = (
        "-- Journal begins at Mon 2024-12-30 08:00:00 UTC, ends at Wed 2025-01-01 09:00:00 UTC. --\n"
        "Dec 31 23:59:00 node systemd[1]: a\n"
        "-- Reboot --\n"
        "Jan 01 00:03:00 node kernel: Linux version 6.8\n"
        "-- Boot 0123456789abcdef0123456789abcdef --\n"
        "Jan 01 08:00:00 node systemd[1]: b\n"
    )
    assert detect_kind(text.encode()) == "journal-short"
    r = parse_journal_short(text.encode(), "h")
    assert r.table["ts"].tolist() == [
        pd.Timestamp("2024-12-31 23:59", tz="UTC"),
        pd.Timestamp("2025-01-01 00:03", tz="UTC"),
        pd.Timestamp("2025-01-01 08:00", tz="UTC"),
    ]
    ids = r.table["boot_id"].tolist()
    assert pd.isna(ids[0]) and len(ids[1]) == 32 and ids[2] == "0123456789abcdef0123456789abcdef"
    assert r.skipped == 3 and "banner" in r.notes["year_reference"]


def test_no_entries_banner_is_an_empty_journal() -> None:
    r = parse_journal_short(b"-- No entries --\n", "h")
    assert len(r.table) == 0 and r.skipped == 1 and r.reasons == {}


@pytest.mark.parametrize(
    ("reference", "expected"),
    [
        (datetime(2026, 1, 5, tzinfo=UTC), ["2025-12-30", "2026-01-02"]),  # crosses New Year
        (datetime(2025, 12, 31, tzinfo=UTC), ["2024-12-30", "2025-01-02"]),  # Jan 02 would be future
    ],
)
def test_year_rolls_back_when_the_month_is_in_the_future(reference: datetime, expected: list[str]) -> None:
    data = b"Dec 30 10:00:00 n a[1]: x\nJan 02 10:00:00 n a[1]: y\n"
    r = parse_journal_short(data, "h", reference=reference)
    assert [str(t.date()) for t in r.table["ts"]] == expected


KERN_LOG = (
    b"Jul 14 08:10:00 gpu-07 kernel: [  600.000000] nvidia-modeset: Loading NVIDIA Kernel Mode Setting Driver\n"
    b"Jul 14 08:15:30 gpu-07 kernel: [  930.250000] NVRM: Xid (PCI:0000:3b:00): 79, pid=2231, name=python3, "
    b"GPU has fallen off the bus.\n"
    b"Jul 14 08:15:31 gpu-07 kernel: [  931.000000] NVRM: GPU 0000:3b:00.0: GPU has fallen off the bus.\n"
    b"[  940.500000] a dmesg line without wall clock\n"
)


def test_kern_log_syslog_lines_and_boot_relative_times() -> None:
    assert detect_kind(KERN_LOG) == "kernel"
    r = parse_kernel(KERN_LOG, "h", reference=datetime(2026, 7, 15, tzinfo=UTC))
    assert r.reasons == {} and len(r.table) == 4
    xid = r.table[r.table["kind"] == "xid"].iloc[0]
    assert xid["xid"] == 79 and xid["pci_bus"] == "0000:3b:00" and xid["pid"] == 2231
    assert xid["ts"] == pd.Timestamp("2026-07-14 08:15:30", tz="UTC")
    assert xid["message"].startswith("NVRM: Xid")  # uptime prefix stripped
    assert r.notes["boot_times"] == ["2026-07-14T08:00:00+00:00"]
    assert r.table["ts"].iloc[3] == pd.Timestamp("2026-07-14 08:15:40.5", tz="UTC")
    assert r.notes["year_inferred"] == 2026


def test_docker_events_text_with_multiline_attribute_values() -> None:
    data = (
        b"2024-05-01T10:00:00.123456789Z container die 3f4e5d6c7b8a9f0e1d2c3b4a5f6e7d8c9b0a1f2e3d4c5b6a7f8e9d0c1b2a3f4e "
        b"(exitCode=137, image=vllm/vllm-openai:latest, name=vllm, org.opencontainers.image.description=Line one\n"
        b"line two, with comma\n"
        b"line three)\n"
        b"2024-05-01T10:00:01.000000000Z network disconnect 0a1b2c3d4e5f (container=3f4e5d6c7b8a, name=bridge)\n"
    )
    assert detect_kind(data) == "docker-events"
    r = parse_docker_events(data, "h")
    assert r.reasons == {} and len(r.table) == 2 and r.notes["continuation_lines"] == 2
    assert r.table["exit_code"].iloc[0] == 137 and r.table["container"].iloc[0] == "vllm"
    assert r.table["action"].tolist() == ["die", "network disconnect"]
    assert parse_attributes("a=1, b=x, y, c=3") == {"a": "1", "b": "x, y", "c": "3"}


def _capture(name: str) -> str:
    return next(realdata_dir("nvidia_smi", "captures_multi_format").glob(f"*{name}*")).read_text()


def test_query_text_agrees_with_the_csv_of_the_same_driver() -> None:
    text = _capture("h100-80gb")
    r = parse_gpu_query_text(text.encode(), "h")
    lines = text.split("\n")
    i = next(k for k, ln in enumerate(lines) if ln.startswith("# $ nvidia-smi --query-gpu="))
    csv = parse_gpu_csv(("\n".join(lines[i + 2 : i + 4]) + "\n").encode(), "h")
    assert len(r.table) == 2 and len(csv.table) == 1
    q, c = r.table.iloc[0], csv.table.iloc[0]
    for col in (
        "pci_bus",
        "gpu_name",
        "pcie_link_gen",
        "pcie_link_width",
        "remapped_rows_pending",
        "remapped_rows_failure",
        "ecc_uncorrected_aggregate",
        "throttle_reasons",
        "mem_total_mib",
    ):
        assert q[col] == c[col], col
    assert abs(q["memory_temp_c"] - c["memory_temp_c"]) <= 1 and pd.isna(q["retired_pages_pending"])


def test_bug_report_kernel_and_nvidia_smi_sections() -> None:
    capture = next(realdata_dir("nvidia_smi", "captures_multi_format").glob("*h100-80gb*"))
    data = bug_report(q_report(capture)).encode()
    assert detect_kind(data) == "nvidia-bug-report"
    r = parse_sectioned(data, "gpu-07")
    assert {k: len(v) for k, v in r.parts.items()} == {
        "kernel_events": 5,
        "gpu_samples": 1,
        "journal_entries": 0,
    }
    assert r.records_in == sum(len(t) for t in r.parts.values()) + len(r.quarantine) + r.skipped
    k = r.parts["kernel_events"]
    xids = k[k["kind"] == "xid"]
    assert len(xids) == 1 and r.notes["duplicate_kernel_lines"] == 1  # journal grep and dmesg: once
    assert xids["ts"].iloc[0] == pd.Timestamp("2026-07-14 08:15:30", tz="UTC")
    dmesg_only = k[k["message"].str.startswith("NVRM: GPU at PCI")]
    assert dmesg_only["ts"].iloc[0] == pd.Timestamp(
        "2026-07-14 08:15:32.1", tz="UTC"
    )  # boot 08:00:00 + 932.1 s
    gpu = r.parts["gpu_samples"].iloc[0]
    assert gpu["pci_bus"] == "0000:00:09" and gpu["pcie_link_gen"] == 5
    assert '/usr/bin/lspci -d "10de:*" -v -xxx' in r.notes["unparsed_sections"]


def test_default_nvidia_smi_table_gives_one_row_per_gpu() -> None:
    from mlops_assets.lib.parsing.gpu_table import parse_gpu_table

    path = next(realdata_dir("nvidia_smi", "table").glob("*.log"))
    r = parse_gpu_table(path.read_bytes(), "h")
    assert r.reasons == {} and r.table["gpu_index"].tolist() == [0, 1]
    row = r.table.iloc[0]
    assert row["ts"] == pd.Timestamp("2026-01-31 14:36:05", tz="UTC") and row["pci_bus"] == "0000:01:00"
    assert (row["temperature_c"], row["power_w"], row["power_limit_w"]) == (30, 29, 400)
    assert (row["mem_used_mib"], row["mem_total_mib"], row["fan_pct"], row["pstate"]) == (
        1583,
        24564,
        0,
        "P8",
    )
    windows = next(realdata_dir("nvidia_smi", "captures_multi_format").glob("*windows*")).read_bytes()
    w = parse_gpu_table(windows, "h")  # WDDM driver model instead of persistence mode
    assert len(w.table) == 2 and w.table["gpu_name"].iloc[0] == "NVIDIA GeForce RTX 2080 ..."
