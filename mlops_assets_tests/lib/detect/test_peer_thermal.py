"""The temperature excess relative to the host's other cards: a warmer room is no cooling fault."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from mlops_assets.lib.detect.baselines import peer_relative, shed_load
from mlops_assets.lib.detect.model import train
from mlops_assets.lib.detect.scoring import score
from mlops_assets.lib.features.registry import DERIVED_BY_NAME, feature_registry_frame
from mlops_assets_tests.model_fixtures import synthetic


def _frames(seed: int, n: int, one_card_h2: bool = True) -> tuple[pd.DataFrame, pd.DataFrame]:
    """h1: 8 cards, h2: 1 card; temperatures follow power plus a room that all cards share."""
    f, c = synthetic(n=n, seed=seed)
    rng = np.random.default_rng(seed + 1)
    for h in ("h1", "h2"):
        rows = f.index[f["host"] == h]
        room = 25 + 1.0 * np.sin(np.arange(len(rows)) / 300.0)
        for g in range(8):
            if h == "h2" and one_card_h2 and g > 0:
                f.loc[rows, [f"gpu{g}_power_w", f"gpu{g}_temp_c", f"gpu{g}_fan_pct"]] = np.nan
                continue
            power = np.clip(
                60 + 120 * np.sin(np.arange(len(rows)) / 90.0 + g) + rng.normal(0, 8, len(rows)), 40, 220
            )
            f.loc[rows, f"gpu{g}_power_w"] = power
            f.loc[rows, f"gpu{g}_temp_c"] = room + 0.15 * power + rng.normal(0, 0.6, len(rows))
        f.loc[rows, "uptime_min_s"] = 3e6 + np.arange(len(rows)) * 60.0
        f.loc[rows, "boot_markers"] = 0.0
    return f, c


@pytest.fixture(scope="module")
def trained():
    f, c = _frames(0, 2 * 1440)
    return train(f, c)


def _warm(f: pd.DataFrame, host: str, rows: pd.Index, cards: range, by: float) -> None:
    for g in cards:
        f.loc[rows, f"gpu{g}_temp_c"] += by


def test_a_warmer_room_is_no_alarm_on_a_multi_card_host_but_one_hot_card_is(trained) -> None:
    f, c = _frames(5, 600)
    rows = f.index[f["host"] == "h1"][120:480]
    _warm(f, "h1", rows, range(8), 6.0)  # the room (all cards' inlet air) 6 degC warmer for 6 hours
    s = score(trained, f, c).loc[rows]
    assert "h1" in trained.thermal.relative
    assert not s["is_anomaly"].any()
    _warm(f, "h1", rows[200:], range(3, 4), 10.0)  # and card 3 10 degC hotter than its siblings
    s = score(trained, f, c).loc[rows[200:]]
    assert s["is_anomaly"].iloc[5:].all() and set(s["gpu_index"].iloc[5:]) == {3}
    assert json.loads(s["top_features"].iloc[10])[0]["feature"] == "gpu3_temp_excess_c"


def test_a_one_card_host_keeps_its_own_baseline(trained) -> None:
    f, c = _frames(6, 600)
    rows = f.index[f["host"] == "h2"][120:300]
    assert "h2" not in trained.thermal.relative and ("h2", 0) in trained.thermal.coef
    _warm(f, "h2", rows, range(1), 10.0)  # nothing to compare with: 10 degC over its own fit is an alarm
    assert score(trained, f, c).loc[rows[5:], "is_anomaly"].all()


def test_peer_common_mode_cancels_and_a_peer_transient_does_not_heat_its_sibling() -> None:
    n = 40
    own = np.full((n, 8), np.nan)
    own[:, :2] = 5.0  # a 2-card box in a room 5 degC warmer: both residuals +5
    rel = peer_relative(own, [0, 1])
    assert np.allclose(rel[:, :2], 0.0)
    own[20:23, 0] = -4.0  # card 0's load step: 3 windows cooler than its fit predicts
    rel = peer_relative(own, [0, 1])
    assert np.abs(rel[20:23, 1]).max() < 1e-9  # the trailing median of its peer holds the room's +5
    own[:, 1] = -6.0  # a peer cooler than its fit (a colder corner, a range start) never heats its sibling
    assert np.array_equal(peer_relative(own, [0, 1])[:, 0], own[:, 0])
    own[:, 1] = np.nan  # no peer at all: the own residual stands
    assert np.array_equal(peer_relative(own, [0, 1])[:, 0], own[:, 0], equal_nan=True)


def test_a_card_that_just_shed_load_is_not_judged_for_its_heat() -> None:
    p = np.array([300.0, 300, 100, 100, 100, 100, 100, 100, 300])
    assert shed_load(p).tolist() == [False, False, True, True, True, True, False, False, False]


def test_the_registry_documents_the_derived_excess() -> None:
    f = DERIVED_BY_NAME["gpu0_temp_excess_c"]
    assert f.worse == "up" and "other cards" in f.reason and "1-card" in f.reason
    reg = feature_registry_frame()
    assert reg.loc[reg["name"] == "gpu7_temp_excess_c", "derived"].tolist() == [True]
    assert not reg.loc[reg["name"] == "gpu7_temp_c", "derived"].any()
