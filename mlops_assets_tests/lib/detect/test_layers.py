"""Baselines that follow the load, boots judged against boots, calibrated rates, health-only hosts."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from mlops_assets.lib.detect.alarm_budget import calibrate_threshold
from mlops_assets.lib.detect.model import ModelParams, train
from mlops_assets.lib.detect.scoring import score
from mlops_assets_tests.model_fixtures import synthetic

N = 2 * 1440


def _host_frames(seed: int = 0, n: int = N) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Two hosts; GPU 0-1 temperatures follow their power (30 + 0.15 W, lagged), a steady host, no boots."""
    f, c = synthetic(n=n, seed=seed)
    rng = np.random.default_rng(seed + 1)
    for h in ("h1", "h2"):
        rows = f.index[f["host"] == h]
        for g in range(8):
            power = np.clip(
                60 + 120 * np.sin(np.arange(len(rows)) / 90.0 + g) + rng.normal(0, 8, len(rows)), 40, 220
            )
            f.loc[rows, f"gpu{g}_power_w"] = power
            f.loc[rows, f"gpu{g}_temp_c"] = 30 + 0.15 * power + rng.normal(0, 0.6, len(rows))
        f.loc[rows, "uptime_min_s"] = 3e6 + np.arange(len(rows)) * 60.0
        f.loc[rows, "boot_markers"] = 0.0
    return f, c


@pytest.fixture(scope="module")
def trained():
    f, c = _host_frames()
    return train(f, c), f, c


def _scored(model, f: pd.DataFrame, c: pd.DataFrame, rows: pd.Index) -> pd.DataFrame:
    return score(model, f, c).loc[rows]


def test_a_hot_card_under_full_load_is_not_an_alarm_but_a_hotter_one_for_its_power_is(trained) -> None:
    model, _, _ = trained
    f, c = _host_frames(seed=5, n=240)
    rows = f.index[f["host"] == "h1"][100:160]
    f.loc[rows, "gpu1_power_w"] = 330.0  # beyond anything in training: the fit extrapolates physics
    f.loc[rows, "gpu1_temp_c"] = 30 + 0.15 * 330.0 + np.random.default_rng(3).normal(0, 0.6, len(rows))
    assert not _scored(model, f, c, rows)["is_anomaly"].any()
    f.loc[rows, "gpu1_temp_c"] += 10.0  # same power, 10 degC hotter: its cooling is failing
    s = _scored(model, f, c, rows)
    assert s["is_anomaly"].iloc[5:].all()
    assert set(s["layer"].iloc[5:]) == {"baseline"} and set(s["gpu_index"].iloc[5:].dropna()) == {1}
    assert json.loads(s["top_features"].iloc[20])[0]["feature"].startswith("gpu1_temp_excess_c")


def test_a_boot_is_judged_against_earlier_boots_not_steady_state() -> None:
    f, c = _host_frames()
    for h in ("h1", "h2"):  # every day a reboot with its burst of journal lines in training
        for day in range(2):
            rows = f.index[f["host"] == h][day * 1440 + 600 : day * 1440 + 610]
            f.loc[rows[:2], "boot_markers"] = 2.0
            f.loc[rows, "journal_lines"] = 300.0
            f.loc[rows, "journal_err"] = 6.0
            f.loc[rows, "uptime_min_s"] = np.arange(len(rows)) * 60.0
    model = train(f, c)
    g, gc = _host_frames(seed=9, n=180)
    rows = g.index[g["host"] == "h1"][60:70]
    g.loc[rows, "journal_lines"], g.loc[rows, "journal_err"] = 280.0, 5.0
    g.loc[rows[:2], "boot_markers"] = 2.0
    g.loc[rows, "uptime_min_s"] = np.arange(len(rows)) * 60.0
    assert not score(model, g, gc).loc[rows, "is_anomaly"].any()
    g.loc[rows, "boot_markers"], g.loc[rows, "uptime_min_s"] = 0.0, 4e6  # the same burst in steady state
    assert score(model, g, gc).loc[rows, "is_anomaly"].any()


def test_volume_below_the_calibrated_rate_is_no_alarm(trained) -> None:
    model, f, c = trained
    busiest = f.loc[f["host"] == "h1", "docker_lines"].quantile(0.99)
    g, gc = _host_frames(seed=11, n=120)
    rows = g.index[g["host"] == "h1"][30:40]
    g.loc[rows, "docker_lines"] = busiest
    assert not score(model, g, gc).loc[rows, "is_anomaly"].any()
    g.loc[rows, "docker_lines"] = 500.0
    assert score(model, g, gc).loc[rows, "is_anomaly"].all()


def test_a_host_with_too_little_history_is_left_to_the_health_rules() -> None:
    f, c = _host_frames(n=1440)
    f = pd.concat([f, f[f["host"] == "h2"].head(60).assign(host="h3")], ignore_index=True)
    c = pd.concat([c, c[c["host"] == "h2"].head(60).assign(host="h3")], ignore_index=True)
    model = train(f, c)
    assert model.training["health_only_hosts"] == ["h3"]
    g, gc = _host_frames(seed=2, n=60)
    g, gc = g[g["host"] == "h1"], gc[gc["host"] == "h1"]
    g = pd.concat([g.assign(host="h3"), g.assign(host="h9")], ignore_index=True)
    g["xid_fatal"] = 3.0
    s = score(model, g, pd.concat([gc.assign(host="h3"), gc.assign(host="h9")], ignore_index=True))
    assert not s["is_anomaly"].any() and set(s["layer"]) == {""}


def test_calibration_counts_alarm_time_as_well_as_groups() -> None:
    scores = np.full(1000, 0.5)
    scores[100:400] = 0.9  # one alarm 300 windows long: one group, 30 % of the time
    hosts = np.array(["h"] * 1000)
    assert calibrate_threshold(scores, hosts, budget_groups=5, merge_gap=5) <= 0.9
    assert calibrate_threshold(scores, hosts, budget_groups=5, merge_gap=5, max_share=0.01) > 0.9


def test_per_host_thresholds_where_history_allows(trained) -> None:
    model, _, _ = trained
    assert set(model.thresholds) == {"h1", "h2"} and model.training["per_host_thresholds"] == ["h1", "h2"]
    short = train(*_host_frames(n=600), ModelParams())
    assert short.thresholds == {} and short.training["health_only_hosts"] == []
