"""`mlops-assets parse` on every real log sample: exit 0 and the exact row/quarantine counts.

The counts are the contract of what each parser makes of real-world files; a change in any of them
is a behaviour change to review, not noise. Skipped when ../shared/realdata is absent.
"""

from __future__ import annotations

import json
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
]


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
    code, summary, err = run_cli(capsys, str(REALDATA / rel), "--kind", kind, "--host", "h1", *extra)
    assert code == 0, err
    assert summary is not None
    assert (summary["rows"], summary["quarantined"], summary["reasons"]) == (rows, quarantined, reasons)
    assert set(summary) >= {"kind", "rows", "quarantined", "reasons", "columns", "first_ts", "last_ts"}
    if rows:
        assert summary["first_ts"] <= summary["last_ts"]


@needs_realdata
def test_every_log_sample_is_covered() -> None:
    """New files in realdata must be added to CASES (or to the rejected list below)."""
    covered = {rel for rel, *_ in CASES}
    folders = ["nvidia_smi/query_gpu_csv", "nvidia_smi/q_xml", "journald", "kernel_dmesg", "docker"]
    files = {
        str(p.relative_to(REALDATA))
        for folder in folders
        for p in (REALDATA / folder).rglob("*")
        if p.is_file() and not p.name.startswith("LICENSE")
    }
    assert files - covered == set()


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
    ],
)
def test_auto_detects_kind(capsys: pytest.CaptureFixture[str], rel: str, kind: str) -> None:
    code, summary, _ = run_cli(capsys, str(REALDATA / rel))
    assert code == 0 and summary is not None and summary["kind"] == kind


@needs_realdata
@pytest.mark.parametrize(
    "folder", ["nvidia_smi/dmon", "nvidia_smi/table", "nvidia_smi/captures_multi_format"]
)
def test_non_query_gpu_outputs_are_rejected_by_auto(capsys: pytest.CaptureFixture[str], folder: str) -> None:
    """dmon/table/multi-section captures are not query-gpu CSV: auto refuses them (exit 2, one line)."""
    for path in sorted((REALDATA / folder).glob("*.txt")) + sorted((REALDATA / folder).glob("*.log")):
        code, summary, err = run_cli(capsys, str(path))
        assert code == 2 and summary is None
        assert err.count("\n") == 1 and "--kind" in err


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
