"""train / score / threshold / explain on synthetic windows with the real feature columns."""

import json

import numpy as np
import pytest

from mlops_assets.lib.contracts.tables import SCORES
from mlops_assets.lib.detect.alarm_budget import alarm_groups, calibrate_threshold
from mlops_assets.lib.detect.design_matrix import TPL_NEW, TPL_OTHER, worse_sign
from mlops_assets.lib.detect.model import ModelParams, train
from mlops_assets.lib.detect.scoring import score
from mlops_assets.lib.features.registry import FEATURE_NAMES
from mlops_assets_tests.model_fixtures import synthetic

PARAMS = ModelParams(n_estimators=50, max_samples=256)


@pytest.fixture(scope="module")
def trained():
    f, c = synthetic()
    return train(f, c, PARAMS), f, c


def test_train_schema_zero_variance_and_threshold(trained) -> None:
    model, f, _ = trained
    assert model.columns == [*FEATURE_NAMES, "tpl__T1", TPL_OTHER, TPL_NEW]
    assert "xid_fatal" in model.dropped and "xid_fatal" not in model.forest_columns
    assert TPL_NEW in model.dropped  # no unmatched message in training
    assert 0.5 < model.threshold < 1.0
    assert (
        model.training["alarm_groups"] <= PARAMS.train_alarm_budget_per_host_day * model.training["host_days"]
    )
    assert set(model.host_median) == {"h1", "h2"}


def test_score_contract_and_quiet_data_mostly_normal(trained) -> None:
    model, _, _ = trained
    f, c = synthetic(seed=1)
    out = score(model, f, c, model_version="3")
    assert list(out.columns) == list(SCORES)
    assert len(out) == len(f) and out["score"].notna().all()
    assert (out["model_version"] == "3").all()
    groups = alarm_groups(out["host"].astype(str).to_numpy(), out["is_anomaly"].to_numpy())
    assert groups <= 3 * 2 * len(f) / 2880 + 2  # a fresh quiet period stays near the false-alarm budget


@pytest.mark.parametrize(
    ("column", "value"), [("xid_fatal", 10.0), ("fan_min_pct", 0.0), ("journal_err", 40.0)]
)
def test_one_sick_column_is_flagged_and_explained_first(trained, column: str, value: float) -> None:
    model, _, _ = trained
    f, c = synthetic(n=30, seed=2)
    f.loc[5, column] = value
    out = score(model, f, c)
    assert out.loc[5, "is_anomaly"], out.loc[5]
    top = json.loads(out.loc[5, "top_features"])
    assert top[0]["feature"] == column and top[0]["value"] == pytest.approx(value)


def test_the_healthy_direction_is_not_an_alarm(trained) -> None:
    model, _, _ = trained
    f, c = synthetic(n=30, seed=3)
    f.loc[5, "fan_min_pct"] = (
        100.0  # fans spinning faster: the forest may notice, the deviation term does not
    )
    assert worse_sign("fan_min_pct") == -1 and worse_sign("util_mean_pct") == 0 and worse_sign("tpl__x") == 1
    out = score(model, f, c)
    assert out.loc[5, "score"] < 0.99


def test_power_cap_is_judged_against_its_own_host(trained) -> None:
    """700 W -> 300 W is the other host's normal (inside the pooled spread) but far below this host's."""
    model, _, _ = trained
    f, c = synthetic(n=30, seed=4)
    rows = f.index[f["host"] == "h2"][:3]
    f.loc[rows, "power_limit_min_w"] = 300.0
    out = score(model, f, c)
    assert out.loc[rows, "is_anomaly"].all()
    h2 = f[f["host"] == "h2"].assign(host="never-seen")  # no baseline of its own: pooled statistics
    unknown = score(model, h2, c.iloc[0:0])
    assert unknown["score"].notna().all() and len(unknown) == len(h2)


def test_nan_inputs_give_finite_scores(trained) -> None:
    model, _, _ = trained
    f, c = synthetic(n=20, seed=5)
    f.loc[:, "temp_max_c"] = np.nan  # fell silent
    f.loc[3, list(FEATURE_NAMES[:10])] = np.nan
    out = score(model, f, c.iloc[0:0])  # and no template counts at all
    assert np.isfinite(out["score"]).all()


def test_train_refuses_empty_and_constant_data() -> None:
    f, c = synthetic(n=10)
    with pytest.raises(ValueError, match="no feature windows"):
        train(f.iloc[0:0], c, PARAMS)
    const = f.copy()
    const[list(FEATURE_NAMES)] = 1.0
    with pytest.raises(ValueError, match="constant"):
        train(const, c.iloc[0:0], PARAMS)


def test_one_rare_critical_event_is_an_alarm_on_its_own() -> None:
    """A single OOM kill or fatal Xid, never seen on the host in training, scores ~0.84 by itself."""
    f, c = synthetic()
    f[["oom_kills", "xid_memory"]] = 0.0  # never happened on these hosts
    model = train(f, c, PARAMS)
    g, gc = synthetic(n=30, seed=6)
    g[["oom_kills", "xid_memory"]] = 0.0
    g.loc[7, "oom_kills"] = 1.0
    out = score(model, g, gc)
    assert out.loc[7, "is_anomaly"] and out.loc[7, "score"] > 0.8, out.loc[7]
    assert json.loads(out.loc[7, "top_features"])[0]["feature"] == "oom_kills"


def test_a_chronic_critical_event_is_not_made_certain() -> None:
    """On a host where OOM kills are routine (5 % of minutes), one more is not a near-certain alarm."""
    f, c = synthetic()
    model = train(f, c, PARAMS)  # synthetic counts, oom_kills included, are Poisson(0.05) per window
    j = model.columns.index("oom_kills")
    assert model.host_scale["h1"][j] == pytest.approx(PARAMS.count_scale_floor)
    assert model.threshold < 0.9  # routine events did not consume the alarm budget at ~0.84


def test_alarms_merge_across_short_gaps() -> None:
    hosts = np.array(["a"] * 20)
    flags = np.zeros(20, bool)
    flags[[2, 5, 6, 15]] = True  # 2 and 5 are 2 quiet windows apart; 15 is 8 apart
    assert alarm_groups(hosts, flags) == 3
    assert alarm_groups(hosts, flags, merge_gap=2) == 2
    assert alarm_groups(hosts, flags, merge_gap=10) == 1
    assert alarm_groups(np.array(["a"] * 10 + ["b"] * 10), flags, merge_gap=10) == 2  # never across hosts


def test_threshold_calibration_respects_the_group_budget() -> None:
    hosts = np.array(["a"] * 10 + ["b"] * 10)
    s = np.full(20, 0.5)
    s[[2, 3, 7, 15]] = [0.9, 0.8, 0.7, 0.95]  # groups: {2,3}, {7}, {15}
    assert alarm_groups(hosts, s >= 0.7) == 3
    t = calibrate_threshold(s, hosts, budget_groups=2)
    assert alarm_groups(hosts, s >= t) <= 2 and t > 0.7
    assert calibrate_threshold(s, hosts, budget_groups=3) <= 0.7
