"""`mlops-assets demo` end to end (a smaller fleet: 1 host x 4 GPUs): the JSON line carries the
out-of-sample figures, the last day's heavier inference load drifts without alarming, and the drift
sensor's retraining passes the same gates. The 24-start-hour sweep (bench/sweep_demo_hours.py) runs
the default size at every hour; this is one hour of it as a test."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

GATES = {
    "overlay_recall",
    "false_alarms_per_host_day",
    "alarm_minute_share",
    "not_worse_than_reference",
    "operator_confirmed",
    "operator_dismissed",
    "serving_schema",
    "finite_scores",
}


@pytest.mark.slow
@pytest.mark.timeout(1500)
def test_demo_json_line_is_out_of_sample_with_gates_drift_and_retraining(tmp_path: Path) -> None:
    # A fresh process, as `make demo` runs it: the definitions' resources read MLOPS_HOME when
    # mlops_assets.definitions is first imported, which an earlier test of the session has done.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLOPS_", "MLFLOW_", "DAGSTER_"))}
    env |= {"MLOPS_HOME": str(tmp_path / "mlops"), "DAGSTER_HOME": str(tmp_path / "dagster")}
    (tmp_path / "dagster").mkdir()
    shutil.copy(REPO / "dagster.yaml", tmp_path / "dagster" / "dagster.yaml")
    proc = subprocess.run(
        [sys.executable, "-m", "mlops_assets.cli", "demo", "--gpus", "4", "--end", "2026-11-20-05:00"],
        env=env, cwd=REPO, capture_output=True, text=True, timeout=1500,
    )  # fmt: skip
    lines = [x for x in proc.stdout.splitlines() if x.startswith("{")]
    assert lines, proc.stderr[-3000:]
    line, code = json.loads(lines[-1]), proc.returncode
    assert code == 0, line.get("why_no_champion")
    assert line["in_sample"] is False and line["gate_data"] == "own-history"
    assert line["train_range"].endswith("2026-11-19-04:00") and line["scored_range"].startswith(
        "2026-11-19-05:00"
    )
    assert set(line["gates"]) == GATES
    for name, gate in line["gates"].items():
        assert gate["passed"] and "value" in gate and "threshold" in gate, name
    assert len(line["heldout_recall_by_kind"]) == 9
    assert min(line["heldout_recall_by_kind"].values()) >= 0.9
    assert line["heldout_false_alarms_per_host_day"] <= 1.0
    assert line["scored_windows"] == 1440 and line["scored_alarm_groups_per_host_day"] <= 1.0
    # the environment change: named, drifted at production's share threshold, no alarm
    assert line["workload_last_day"] == 0.3 and line["hot_room_c_last_day"] == 5.0
    assert line["drift_share"] >= line["drift_share_threshold"] == 0.3
    assert {"util_mean_pct", "power_mean_w"} <= set(line["drifted_features"])
    assert len(line["drifted_features"]) <= line["drift_compared_features"]
    retrain = line["retrain"]
    assert retrain["requested"] and retrain["gates_passed"] and retrain["failed_gates"] == []
    assert retrain["candidate_version"] == "2" and line["champion_version"] == "1"
