"""`mlops-assets backtest`: CSVs and the JSON summary from a landing folder; bad input exits 2 with one line."""

from __future__ import annotations

import json
import tarfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest

from mlops_assets.cli import main
from mlops_assets.simulate import FaultSpec, simulate

START = datetime(2026, 11, 3, 6, 0, tzinfo=UTC)
T = lambda h: (START + timedelta(hours=h)).strftime("%Y-%m-%dT%H:%MZ")  # noqa: E731


@pytest.fixture(scope="module")
def landing(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("landing")
    faults = [
        FaultSpec(
            "gpu-node-01",
            "ecc_errors",
            START + timedelta(hours=4, minutes=20),
            START + timedelta(hours=4, minutes=35),
            0,
        ),
        FaultSpec(
            "gpu-node-01",
            "ssh_bruteforce",
            START + timedelta(hours=5, minutes=10),
            START + timedelta(hours=5, minutes=25),
        ),
    ]
    simulate(root, hosts=1, gpus=2, hours=6, seed=21, start=START, faults=faults, gpu_interval_s=20)
    return root


def _args(raw: Path, out: Path, *extra: str) -> list[str]:
    return [
        "backtest", "--raw", str(raw), "--train-start", T(0), "--train-end", T(4),
        "--score-start", T(4), "--score-end", T(6), "--out", str(out), *extra,
    ]  # fmt: skip


def test_backtest_writes_scores_incidents_and_a_summary(
    landing: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(_args(landing, tmp_path, "--labels", str(landing / "labels.csv"))) == 0
    out, err = capsys.readouterr()
    summary = json.loads(out.strip().splitlines()[-1])
    assert "[backtest" in err
    scores = pd.read_csv(tmp_path / "scores.csv")
    assert list(scores.columns[:6]) == [
        "host",
        "window_start",
        "score",
        "is_anomaly",
        "top_features",
        "layer",
    ]
    assert len(scores) == summary["windows"] == 120 and set(scores["is_anomaly"]) <= {0, 1}
    assert scores["window_start"].iloc[0] == T(4).replace("Z", ":00Z")
    incidents = pd.read_csv(tmp_path / "incidents.csv")
    for col in ("incident_id", "host", "gpu", "start", "end", "severity", "kind", "action", "summary"):
        assert col in incidents.columns
    assert summary["incidents"] == len(incidents) >= 1
    assert summary["recall_by_fault"]["ecc_errors"] == 1.0 and summary["labels_outside_score_range"] == 0
    assert {"alarm_minutes_share", "alarm_groups_per_host_day", "false_alarms_per_host_day"} <= set(summary)
    ecc = incidents[incidents["kind"] == "gpu_memory_errors"]
    # Xid 48/63/64 counts are host-level features: naming the GPU from the PCI address is the health layer's job
    assert len(ecc) and ecc["action"].iloc[0] == "hardware_inspection"
    assert ecc["start"].iloc[0] <= T(4.6).replace("Z", ":00Z")


def test_backtest_reads_a_tar_gz(landing: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    archive = tmp_path / "landing.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(landing, arcname="landing")
    assert main(_args(archive, tmp_path / "out")) == 0
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["windows"] == 120


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"--raw": "/nonexistent/landing"}, "does not exist"),
        ({"--score-start": T(3)}, "overlaps"),
        ({"--train-end": T(0.5)}, "too little training data"),
        ({"--host": "gpu-node-09"}, "unknown host"),
    ],
)
def test_bad_input_exits_2_with_one_line(
    landing: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], change: dict, message: str
) -> None:
    argv = _args(landing, tmp_path)
    for flag, value in change.items():
        if flag in argv:
            argv[argv.index(flag) + 1] = value
        else:
            argv += [flag, value]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert message in err[-1] and err[-1].startswith("mlops-assets backtest:")
    assert not (tmp_path / "scores.csv").exists()
