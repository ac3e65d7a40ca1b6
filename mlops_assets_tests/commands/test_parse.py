"""`mlops-assets parse` on every real file: exit 0 and the exact row/quarantine counts, or a loud refusal.

The counts are the contract of what each parser makes of real-world files; a change in any of them
is a behaviour change to review, not noise. Each count is also recomputed here independently of
the parsers (a plain regex over the file's record-start lines, see ``records_in_file``), so a parser
that silently drops or merges records fails even when its own summary is self-consistent. Every
file under realdata is either parsed (CASES, SECTIONED) or refused by auto-detection (REFUSED).
Skipped when ../shared/realdata is absent.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import pytest

from mlops_assets.cli import main
from mlops_assets_tests.realdata import REALDATA

needs_realdata = pytest.mark.skipif(not REALDATA.is_dir(), reason=f"real samples not found at {REALDATA}")

# (path under realdata, --kind, extra args, rows, quarantined, reasons)
CASES: list[tuple[str, str, list[str], int, int, dict[str, int]]] = [
    ("nvidia_smi/query_gpu_csv/AndyZzzZzzZzz_miris__gpu_log.csv", "gpu", [], 107, 0, {}),
    ("nvidia_smi/query_gpu_csv/karpathy_nanoGPT_PR643__gpu_metrics.csv", "gpu", [], 5112, 0, {}),
    ("nvidia_smi/query_gpu_csv/xypp3_gpu_glasses__nvidia_smi.csv", "gpu", [], 43, 0, {}),
    *[
        (f"nvidia_smi/q_xml/influxdata_telegraf__testdata_{name}.xml", "gpu-xml", [], 1, 0, {})
        for name in (
            "a100-sxm4-v12",
            "a10g",
            "gtx-1660-ti",
            "quadro-p400",
            "rtx-3080-v13",
            "rtx-3090-v12",
            "rtx-4000-sff-ada-v13",
            "tesla-t4",
        )
    ],
    ("journald/home-assistant_supervisor__logs_export_host.txt", "journal-export", [], 1, 0, {}),
    ("journald/home-assistant_supervisor__logs_export_supervisor.txt", "journal-export", [], 1, 0, {}),
    ("journald/home-assistant_supervisor__logs_host.txt", "journal-short", ["--year", "2022"], 7, 0, {}),
    ("journald/leptonai_gpud__journalctl-short-iso-2.log", "journal-short-iso", [], 47, 0, {}),
    ("kernel_dmesg/leptonai_gpud__dmesg-time-format-short-iso.log", "kernel", [], 11, 0, {}),
    ("kernel_dmesg/leptonai_gpud__dmesg-with-xid-119.log", "kernel", [], 43, 0, {}),
    ("kernel_dmesg/leptonai_gpud__dmesg.0.ctime.log", "kernel", [], 902, 0, {}),
    ("kernel_dmesg/leptonai_gpud__dmesg.decode.iso.log.0__xid13_xid43.log", "kernel", [], 636, 0, {}),
    ("kernel_dmesg/leptonai_gpud__fabricmanager.log", "kernel", [], 54, 0, {}),
    ("kernel_dmesg/leptonai_gpud__kmsg.1.log", "kernel", [], 0, 47, {"relative_timestamp_only": 47}),
    ("kernel_dmesg/leptonai_gpud__kmsg.1.log", "kernel", ["--boot-time", "2025-02-25T00:00:00Z"], 47, 0, {}),
    (
        "kernel_dmesg/leptonai_gpud__pstore_dmesg_panic.txt",
        "kernel",
        [],
        0,
        411,
        {"relative_timestamp_only": 411},
    ),
    (
        "kernel_dmesg/leptonai_gpud__pstore_dmesg_panic.txt",
        "kernel",
        ["--boot-time", "2025-02-25"],
        411,
        0,
        {},
    ),
    ("docker/json_file_driver/elastic_beats__docker_corrupted.log", "docker", [], 20, 1, {"invalid_json": 1}),
    ("docker/json_file_driver/log2timeline_plaso__container-json.log", "docker", [], 10, 0, {}),
    ("docker/docker_events/rhixecompany_banking__docker-events.json.log", "docker-events", [], 18, 0, {}),
    ("docker/docker_logs_text/eigerco_beerus__docker_logs.txt", "docker-logs", [], 275, 0, {}),
    (
        "docker/docker_logs_text/home-assistant_supervisor__logs_docker_container.txt",
        "docker-logs",
        [],
        19,
        0,
        {},
    ),
    (
        "nvidia_smi/table/jarkko-hautakorpi_asus_X670-P_WIFI_Bifurcation_problems__nvidia-smi.log",
        "gpu-table",
        [],
        2,
        0,
        {},
    ),
    # syslog files (loghub): the same "Mon DD HH:MM:SS host tag: msg" lines as kern.log/journal short
    ("loghub/Linux/Linux_2k.log", "journal-short", ["--year", "2005"], 2000, 0, {}),
    ("loghub/OpenSSH/OpenSSH_2k.log", "journal-short", ["--year", "2005"], 2000, 0, {}),
    # dataset formats that are no host log: forced, every line is quarantined (and auto refuses them)
    ("loghub/Thunderbird/Thunderbird_2k.log", "journal-short", [], 0, 2000, {"unrecognised_line": 2000}),
    ("loghub/HPC/HPC_2k.log", "kernel", [], 0, 2000, {"no_timestamp": 2000}),
]

# record-start lines of each kind, counted with plain regexes (independent of the parsers)
RECORD_START: dict[str, re.Pattern[str]] = {
    "gpu": re.compile(r"^\s*\d"),
    "gpu-xml": re.compile(r"<gpu id="),
    "journal-export": re.compile(r"^__REALTIME_TIMESTAMP="),
    "journal-short": re.compile(r"^[A-Z][a-z]{2} [ 0-9]\d \d\d:\d\d:\d\d \S+ "),
    "journal-short-iso": re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d"),
    "kernel": re.compile(
        r"^(\w+ *: *\w+ *: *)?\d{4}-\d\d-\d\dT|^\[[A-Z][a-z]{2} ([A-Z][a-z]{2} +\d|\d{1,2} \d{4})"
        r"|^\d+,\d+,\d+,|^(<\d+>)?\[ *\d+\.\d+\]"
    ),
    "docker": re.compile(r"^\{"),
    "docker-events": re.compile(r"^\{"),
    "docker-logs": re.compile(r"\S"),
    "gpu-table": re.compile(r"^\|\s+\d+\s+.*\|\s+[0-9A-F]{8}:[0-9A-F]{2}:[0-9A-F]{2}\.\d"),
}


def records_in_file(path: Path, kind: str) -> int:
    """Records of ``path`` per RECORD_START; a file in another format has none (all quarantined)."""
    pattern = RECORD_START[kind]
    return sum(1 for line in path.read_text(errors="replace").splitlines() if pattern.search(line))


def nonblank_lines(path: Path) -> int:
    return sum(1 for line in path.read_text(errors="replace").splitlines() if line.strip())


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict | None, str]:
    code = main(["parse", *argv])
    out, err = capsys.readouterr()
    return code, (json.loads(out) if out.strip() else None), err


@needs_realdata
@pytest.mark.parametrize(("rel", "kind", "extra", "rows", "quarantined", "reasons"), CASES)
def test_real_sample_counts(
    capsys: pytest.CaptureFixture[str],
    rel: str,
    kind: str,
    extra: list[str],
    rows: int,
    quarantined: int,
    reasons: dict[str, int],
) -> None:
    path = REALDATA / rel
    code, summary, err = run_cli(capsys, str(path), "--kind", kind, "--host", "h1", *extra)
    assert code == 0, err
    assert summary is not None
    assert (summary["rows"], summary["quarantined"], summary["reasons"]) == (rows, quarantined, reasons)
    # independently: every record-start line is a row, unless the whole file is refused line by line
    if rows == 0 and set(reasons) == {"relative_timestamp_only"}:
        assert quarantined == records_in_file(path, "kernel")
    elif rows == 0 and set(reasons) <= {"unrecognised_line", "no_timestamp"}:
        assert quarantined == nonblank_lines(path)
    else:
        assert records_in_file(path, kind) == rows, rel
    assert set(summary) >= {"kind", "rows", "quarantined", "reasons", "columns", "first_ts", "last_ts"}
    if rows:
        assert summary["first_ts"] <= summary["last_ts"]


CAPTURES = "nvidia_smi/captures_multi_format"
# files auto-detection must refuse (exit 2, one line naming --kind): not a host log format
REFUSED_FOLDERS = ("nvidia_smi/dmon",)
REFUSED_SUFFIXES = (".md", "_structured.csv", "_templates.csv", "_corrected.csv", ".tsv", "CITATION")
DATASET_LOGS = ("loghub/Thunderbird/Thunderbird_2k.log", "loghub/HPC/HPC_2k.log")


def _all_files() -> set[str]:
    return {str(p.relative_to(REALDATA)) for p in REALDATA.rglob("*") if p.is_file()}


def _refused(rel: str) -> bool:
    return (
        rel.startswith(REFUSED_FOLDERS)
        or rel.endswith(REFUSED_SUFFIXES)
        or rel in DATASET_LOGS
        or (Path(rel).name.startswith("LICENSE"))
    )


@needs_realdata
def test_every_real_file_is_parsed_or_refused() -> None:
    """New files in realdata must be added to CASES, be a capture, or be refused on purpose."""
    covered = {rel for rel, *_ in CASES} | {
        str(p.relative_to(REALDATA)) for p in (REALDATA / CAPTURES).glob("*.txt")
    }
    assert {f for f in _all_files() - covered if not _refused(f)} == set()


@needs_realdata
def test_refused_files_fail_loudly(capsys: pytest.CaptureFixture[str]) -> None:
    refused = sorted(
        f for f in _all_files() if _refused(f) and f not in {"MANIFEST.tsv"} or f == "MANIFEST.tsv"
    )
    assert len(refused) >= 30
    for rel in refused:
        code, summary, err = run_cli(capsys, str(REALDATA / rel))
        assert code == 2 and summary is None, rel
        assert err.count("\n") == 1 and "--kind" in err, (rel, err)


def _capture_gpu_records(path: Path) -> int:
    """GPU blocks of the -q sections and default tables plus data rows of the query-gpu CSV sections."""
    lines = path.read_text().splitlines()
    blocks = sum(1 for ln in lines if re.match(r"^GPU [0-9A-F]{8}:[0-9A-F]{2}:[0-9A-F]{2}\.\d$", ln))
    blocks += sum(1 for ln in lines if RECORD_START["gpu-table"].match(ln))  # default tables
    rows = 0
    for i, ln in enumerate(lines):
        if ln.startswith("# $ nvidia-smi --query-gpu="):
            end = next(k for k in range(i + 1, len(lines)) if lines[k].startswith("#" * 20))
            body = lines[end + 1 : next(k for k in range(end + 1, len(lines)) if lines[k].startswith("#"))]
            rows += sum(1 for row in body if re.match(r"^\d{4}/\d\d/\d\d ", row))
    return blocks + rows


@needs_realdata
def test_exporter_captures_parse_their_nvidia_smi_sections(capsys: pytest.CaptureFixture[str]) -> None:
    paths = sorted((REALDATA / CAPTURES).glob("*.txt"))
    assert len(paths) == 6
    for path in paths:
        code, summary, err = run_cli(capsys, str(path), "--host", "h1")
        assert code == 0, err
        assert summary is not None and summary["kind"] == "nvidia-bug-report"
        expected = _capture_gpu_records(path)
        assert expected == 6  # idle + load, each as default table, -q text and query-gpu CSV (one GPU)
        assert summary["tables"] == {"gpu_samples": expected, "journal_entries": 0, "kernel_events": 0}
        assert summary["quarantined"] == 0 and "unparsed_sections" in summary["notes"]


@needs_realdata
@pytest.mark.parametrize(
    ("rel", "kind"),
    [
        ("nvidia_smi/query_gpu_csv/karpathy_nanoGPT_PR643__gpu_metrics.csv", "gpu"),
        ("nvidia_smi/q_xml/influxdata_telegraf__testdata_a10g.xml", "gpu-xml"),
        ("journald/home-assistant_supervisor__logs_export_host.txt", "journal-export"),
        ("journald/home-assistant_supervisor__logs_host.txt", "journal-short"),
        ("kernel_dmesg/leptonai_gpud__dmesg.decode.iso.log.0__xid13_xid43.log", "kernel"),
        ("kernel_dmesg/leptonai_gpud__kmsg.1.log", "kernel"),
        ("docker/json_file_driver/log2timeline_plaso__container-json.log", "docker"),
        ("docker/docker_events/rhixecompany_banking__docker-events.json.log", "docker-events"),
        (
            "nvidia_smi/table/jarkko-hautakorpi_asus_X670-P_WIFI_Bifurcation_problems__nvidia-smi.log",
            "gpu-table",
        ),
        ("loghub/Linux/Linux_2k.log", "journal-short"),
    ],
)
def test_auto_detects_kind(capsys: pytest.CaptureFixture[str], rel: str, kind: str) -> None:
    code, summary, _ = run_cli(capsys, str(REALDATA / rel))
    assert code == 0 and summary is not None and summary["kind"] == kind


@needs_realdata
def test_dmon_forced_as_gpu_is_fully_quarantined(capsys: pytest.CaptureFixture[str]) -> None:
    path = next((REALDATA / "nvidia_smi/dmon").glob("*h100-80gb*"))
    code, summary, _ = run_cli(capsys, str(path), "--kind", "gpu")
    assert code == 0 and summary is not None
    assert summary["rows"] == 0 and summary["quarantined"] == 18


def test_unreadable_file_exits_2(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, summary, err = run_cli(capsys, str(tmp_path / "missing.log"))
    assert code == 2 and summary is None and "cannot read" in err


def test_out_writes_parquet_with_contract(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    src = tmp_path / "journal.json"
    src.write_bytes(
        b'{"__REALTIME_TIMESTAMP":"1795000000000000","MESSAGE":"hello","PRIORITY":"3","__CURSOR":"c1"}\n'
        b"not json\n"
    )
    out = tmp_path / "out" / "t.parquet"
    code, summary, _ = run_cli(capsys, str(src), "--out", str(out), "--host", "gpu-01")
    assert code == 0 and summary is not None
    assert summary["kind"] == "journal" and summary["rows"] == 1 and summary["reasons"] == {"invalid_json": 1}
    df = pd.read_parquet(out)
    assert df["host"].tolist() == ["gpu-01"] and df["message"].tolist() == ["hello"]
    assert summary["first_ts"] == "2026-11-18T11:06:40+00:00"
