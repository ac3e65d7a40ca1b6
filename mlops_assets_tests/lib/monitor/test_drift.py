from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from mlops_assets.lib.monitor.drift import RetrainPolicy, comparable_columns, compute_drift, score_shift


def _features(rng: np.random.Generator, n: int, temp_shift: float = 0.0) -> pd.DataFrame:
    start = pd.Timestamp("2026-11-01", tz="UTC")
    return pd.DataFrame(
        {
            "host": "gpu-node-01",
            "window_start": pd.date_range(start, periods=n, freq="1min"),
            "gpu_temp_max_c": rng.normal(62 + temp_shift, 4, n),
            "gpu_power_mean_w": rng.normal(300 + 10 * temp_shift, 30, n),
            "journal_err_count": rng.poisson(0.5, n).astype(float),
            "constant_everywhere": np.zeros(n),
        }
    )


def test_no_shift_means_no_dataset_drift(tmp_path):
    rng = np.random.default_rng(1)
    summary = compute_drift(_features(rng, 1500), _features(rng, 600), html_path=str(tmp_path / "r.html"))
    assert not summary.dataset_drift
    assert summary.n_features == 3  # the constant column and id columns are not compared
    assert b"<!DOCTYPE html>" in (tmp_path / "r.html").read_bytes()


def test_hotter_room_is_dataset_drift():
    rng = np.random.default_rng(2)
    summary = compute_drift(_features(rng, 1500), _features(rng, 600, temp_shift=8.0))
    assert summary.dataset_drift
    assert {"gpu_temp_max_c", "gpu_power_mean_w"} <= set(summary.drifted)
    assert summary.drift_share == pytest.approx(2 / 3)


def test_comparable_columns_skip_ids_and_constants():
    rng = np.random.default_rng(3)
    f = _features(rng, 50)
    assert comparable_columns(f, f) == ["gpu_temp_max_c", "gpu_power_mean_w", "journal_err_count"]


def test_empty_side_is_a_clear_error():
    rng = np.random.default_rng(4)
    with pytest.raises(ValueError, match="reference=0"):
        compute_drift(_features(rng, 0), _features(rng, 10))


def test_score_shift_reports_ks():
    out = score_shift(pd.Series(np.linspace(0, 1, 100)), pd.Series(np.linspace(0.5, 1.5, 100)))
    assert out["score_ks"] == pytest.approx(0.5, abs=0.02)


def _ev(at: datetime, drift: bool) -> dict:
    return {"at": at.isoformat(), "dataset_drift": drift}


def test_policy_needs_k_consecutive_drifted_evaluations():
    t0 = datetime(2026, 11, 1, tzinfo=UTC)
    policy = RetrainPolicy(consecutive=3, cooldown=timedelta(hours=12))
    hist = [_ev(t0 + timedelta(hours=i), d) for i, d in enumerate([True, True, False, True, True])]
    assert policy.decide(hist, None, t0 + timedelta(hours=5))[0] is False
    hist.append(_ev(t0 + timedelta(hours=5), True))
    ok, reason = policy.decide(hist, None, t0 + timedelta(hours=6))
    assert ok and "3 consecutive" in reason


def test_policy_cooldown_prevents_flapping():
    t0 = datetime(2026, 11, 1, tzinfo=UTC)
    policy = RetrainPolicy(consecutive=2, cooldown=timedelta(hours=12))
    hist = [_ev(t0 + timedelta(hours=i), True) for i in range(4)]
    ok, reason = policy.decide(
        hist, last_retrain_at=t0 + timedelta(hours=1, minutes=30), now=t0 + timedelta(hours=4)
    )
    assert not ok and "cooling down" in reason
    # after the cooldown, only evaluations newer than the retraining count
    later = t0 + timedelta(hours=14)
    ok, reason = policy.decide(hist, last_retrain_at=t0 + timedelta(hours=1, minutes=30), now=later)
    assert ok
    hist2 = [_ev(t0 + timedelta(hours=i), True) for i in range(3)]
    ok, reason = policy.decide(hist2, last_retrain_at=t0 + timedelta(hours=1, minutes=30), now=later)
    assert not ok and "fresh evidence" in reason
