"""The sustained (trailing k-window) term: its arithmetic, and that it changes what a model catches."""

import json

import numpy as np
import pandas as pd
import pytest

from mlops_assets.lib.detect.design_matrix import sustained_sign, worse_sign
from mlops_assets.lib.detect.model import ModelParams, train
from mlops_assets.lib.detect.scoring import score
from mlops_assets.lib.detect.sustained import trailing_mean
from mlops_assets_tests.model_fixtures import synthetic

MINUTE = 60_000_000_000
PARAMS = ModelParams(n_estimators=50, max_samples=256)


def test_trailing_mean_matches_a_per_host_rolling_mean() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(40, 3))
    x[7, 1] = np.nan
    hosts = np.array(["a"] * 25 + ["b"] * 15)
    starts = np.r_[np.arange(25), np.arange(15)] * MINUTE
    got = trailing_mean(x, hosts, starts, 4, MINUTE)
    want = pd.DataFrame(x).groupby(hosts).transform(lambda s: s.rolling(4, min_periods=1).mean()).to_numpy()
    first = np.r_[np.arange(3), 25 + np.arange(3)]  # fewer than 4 windows of the host so far
    assert np.isnan(got[first]).all()
    rest = np.setdiff1d(np.arange(40), first)
    np.testing.assert_allclose(got[rest], want[rest])  # NaN cells are skipped, not zeros


def test_trailing_mean_needs_consecutive_windows() -> None:
    x = np.ones((10, 1))
    starts = np.r_[np.arange(5), np.arange(6, 11)] * MINUTE  # one window missing after the 5th
    got = trailing_mean(x, np.array(["a"] * 10), starts, 3, MINUTE)
    assert np.isnan(got[[0, 1, 5, 6]]).all() and (got[[2, 3, 4, 7, 8, 9]] == 1.0).all()
    assert np.isnan(trailing_mean(x[:2], None, None, 3, MINUTE)).all()


def test_volume_totals_and_vocabulary_templates_are_left_to_single_windows() -> None:
    assert worse_sign("docker_lines") == 1 and sustained_sign("docker_lines") == 0
    assert sustained_sign("tpl__T1") == 0 and sustained_sign("tpl_other") == 1
    assert sustained_sign("journal_disk_full") == 1 and sustained_sign("fan_min_pct") == -1


@pytest.fixture(scope="module")
def models():
    f, c = synthetic()
    return {k: train(f, c, ModelParams(**{**PARAMS.__dict__, "sustained_windows": k})) for k in (0, 5)}


def _weak_persistent(count: float) -> tuple[pd.DataFrame, pd.DataFrame, pd.Index]:
    """18 minutes of a few "no space left" lines per window on h1: weak in any one window."""
    f, c = synthetic(n=60, seed=7)
    rows = f.index[f["host"] == "h1"][20:38]
    f.loc[rows, "journal_disk_full"] = count
    return f, c, rows


def test_a_weak_but_persistent_fault_is_caught_only_by_the_sustained_term(models) -> None:
    f, c, rows = _weak_persistent(2.0)
    single, sustained = score(models[0], f, c), score(models[5], f, c)
    assert not single.loc[rows, "is_anomaly"].any(), single.loc[rows, "score"].max()
    assert sustained.loc[rows[4:], "is_anomaly"].all()  # from the 5th window of the run on
    top = json.loads(sustained.loc[rows[10], "top_features"])
    assert top[0]["feature"] == "journal_disk_full" and top[0]["over_windows"] == 5
    assert top[0]["value"] == pytest.approx(2.0)
    assert models[5].training["alarm_groups"] <= models[0].training["alarm_groups"] + 2


def test_scores_do_not_depend_on_row_order(models) -> None:
    f, c, _ = _weak_persistent(2.0)
    ordered = score(models[5], f, c)
    shuffled = f.sample(frac=1.0, random_state=3)
    again = score(models[5], shuffled, c)
    key = ["host", "window_start"]
    pd.testing.assert_frame_equal(
        ordered.sort_values(key, ignore_index=True), again.sort_values(key, ignore_index=True)
    )


def test_without_window_times_only_single_windows_are_scored(models) -> None:
    f, c, rows = _weak_persistent(2.0)
    no_time = score(models[5], f.drop(columns=["window_start"]), c.iloc[0:0])
    single = score(models[0], f, c.iloc[0:0])
    np.testing.assert_allclose(no_time["score"], single["score"])
    assert not no_time.loc[rows, "is_anomaly"].any()
