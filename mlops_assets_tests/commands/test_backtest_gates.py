"""The backtest's gate adapter on a raw landing folder: a trained model's summary carries the gates
on its own held-out tail, and a degraded candidate fails at least one of them."""

from datetime import timedelta

import pytest

from mlops_assets.commands.backtest_gates import DEFAULT_DEGRADE, backtest_gates
from mlops_assets.lib.detect.model import ModelParams
from mlops_assets.lib.templates import TemplateMiner
from mlops_assets.simulate import DEFAULT_START, simulate

HOURS = 16


@pytest.fixture(scope="module")
def landing(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, list[str], TemplateMiner]:
    raw = tmp_path_factory.mktemp("landing")
    summary = simulate(raw, hosts=2, hours=HOURS, seed=11, faults=[])
    return str(raw), summary.hosts, TemplateMiner()  # a fresh miner: every message is a "new" template


@pytest.mark.slow
def test_gates_in_summary_and_degraded_fails(landing) -> None:
    raw, hosts, miner = landing
    end = DEFAULT_START + timedelta(hours=HOURS)
    kw = {"holdout_days": 6 / 24, "seed": 3, "params": ModelParams(n_estimators=30)}
    good = backtest_gates(raw, hosts, DEFAULT_START, end, miner, **kw)
    assert good["gate_data"] == "own-history"
    assert set(good["gates"]["overlay_recall"]) == {"passed", "value", "threshold"}
    assert good["train_range"] < good["holdout_range"].replace("T", "-")
    bad = backtest_gates(raw, hosts, DEFAULT_START, end, miner, degrade=DEFAULT_DEGRADE, **kw)
    failed = {k for k, g in bad["gates"].items() if not g["passed"]}
    assert {"alarm_minute_share", "overlay_recall"} <= failed and not bad["gates_passed"]
