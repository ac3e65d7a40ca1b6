"""`mlops-assets backtest` with the health layer and the gates.

A burst of REAL Xid lines (the gpud sample with Xid 119, its PCI bus rewritten to a GPU of the simulated
host, timestamps moved into the scored range) on an otherwise fault-free host must become a health
incident that starts in the burst's first minute and names the code, the GPU and the action. With
``--gate`` the summary carries the gates judged on the training range's own held-out tail, and
``--degrade`` makes at least one of them fail.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest

from mlops_assets.cli import main
from mlops_assets.simulate import simulate
from mlops_assets_tests.realdata import realdata_dir

START = datetime(2026, 11, 5, 0, 0, tzinfo=UTC)
HOST = "gpu-node-01"
BURST_AT = START + timedelta(hours=13, minutes=12, seconds=7)
HOLDOUT_DAYS = str(9 / 24)  # one held-out host-hour per overlaid fault kind
T = lambda h: (START + timedelta(hours=h)).strftime("%Y-%m-%dT%H:%MZ")  # noqa: E731
CTIME = re.compile(r"^\[[^\]]+\]\s*")


def _gpu1_bus(root: Path) -> str:
    """PCI bus of GPU 1 as the host's own nvidia-smi prints it (00000000:2A:00.0 -> 0000:2a:00)."""
    row = (root / HOST / "nvidia-smi.csv").read_text().splitlines()[2]
    bus = row.split(", ")[4]
    return "0000:" + bus.split(":", 1)[1].rsplit(".", 1)[0].lower()


def _replay_real_xid_lines(root: Path) -> int:
    """Insert the real sample's kernel lines into the landing kernel.json, in time order."""
    lines = (realdata_dir("kernel_dmesg") / "leptonai_gpud__dmesg-with-xid-119.log").read_text().splitlines()
    bus = _gpu1_bus(root)
    kernel = root / HOST / "kernel.json"
    entries = [json.loads(x) for x in kernel.read_text().splitlines() if x.strip()]
    boot = entries[-1]["_BOOT_ID"]
    for i, line in enumerate(lines):
        message = CTIME.sub("", line).replace("0000:9b:00", bus)
        us = int((BURST_AT + timedelta(milliseconds=10 * i)).timestamp() * 1_000_000)
        entries.append(
            {
                "__CURSOR": f"s=replay;i={i:x};b={boot};t={us:x}",
                "__REALTIME_TIMESTAMP": str(us),
                "_BOOT_ID": boot,
                "PRIORITY": "3" if "Xid" in message else "4",
                "SYSLOG_IDENTIFIER": "kernel",
                "_TRANSPORT": "kernel",
                "_HOSTNAME": HOST,
                "MESSAGE": message,
            }
        )
    entries.sort(key=lambda e: int(e["__REALTIME_TIMESTAMP"]))
    kernel.write_text("".join(json.dumps(e) + "\n" for e in entries))
    return sum("NVRM: Xid" in x for x in lines)


@pytest.fixture(scope="module")
def landing(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, int]:
    root = tmp_path_factory.mktemp("landing")
    simulate(root, hosts=1, gpus=2, hours=14, seed=5, start=START, faults=[], gpu_interval_s=20)
    return root, _replay_real_xid_lines(root)


def _run(root: Path, out: Path, capsys: pytest.CaptureFixture[str], *extra: str) -> dict:
    argv = [
        "backtest", "--raw", str(root), "--train-start", T(0), "--train-end", T(12),
        "--score-start", T(12), "--score-end", T(14), "--out", str(out), *extra,
    ]  # fmt: skip
    assert main(argv) == 0
    return json.loads(capsys.readouterr().out.strip().splitlines()[-1])


def test_real_xid_burst_is_a_health_incident_in_its_first_minute(
    landing: tuple[Path, int], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root, xid_lines = landing
    assert xid_lines == 5
    summary = _run(root, tmp_path, capsys)
    assert summary["health_events"] >= xid_lines and summary["incidents_by_layer"].get("health", 0) >= 1
    incidents = pd.read_csv(tmp_path / "incidents.csv")
    xid = incidents[(incidents["layer"] == "health") & (incidents["kind"] == "XID_119")]
    assert len(xid) == 1, incidents[["layer", "kind", "start"]].to_string()
    row = xid.iloc[0]
    started = pd.Timestamp(row["start"])
    assert pd.Timestamp(BURST_AT).floor("1min") <= started < pd.Timestamp(BURST_AT) + pd.Timedelta(minutes=1)
    assert int(row["gpu"]) == 1 and row["action"] == "reset_gpu"
    assert "119" in row["summary"] and "GPU 1" in row["summary"]


@pytest.mark.slow
def test_gate_and_degrade_add_own_history_gates(
    landing: tuple[Path, int], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root, _ = landing
    good = _run(root, tmp_path / "good", capsys, "--gate", "--holdout-days", HOLDOUT_DAYS)
    assert good["gate_data"] == "own-history"
    assert good["gates"] and all({"passed", "value", "threshold"} <= set(g) for g in good["gates"].values())
    bad = _run(root, tmp_path / "bad", capsys, "--degrade", "--holdout-days", HOLDOUT_DAYS)
    assert bad["degraded"] and not all(g["passed"] for g in bad["gates"].values())
