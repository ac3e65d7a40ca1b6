"""The own-history time split and per-host cold start: a young host is left to the health rules
without holding back the hosts that have history."""

from datetime import UTC, datetime, timedelta

from mlops_assets.lib.evaluate.heldout import cold_start_reason, time_split, without_hosts, young_hosts


def _hours(first: datetime, n: int) -> list[str]:
    return [(first + timedelta(hours=i)).strftime("%Y-%m-%d-%H:%M") for i in range(n)]


END = datetime(2026, 11, 3, tzinfo=UTC)


def test_split_holds_out_the_newest_days_and_trains_on_the_days_before() -> None:
    split = time_split({"a": _hours(END - timedelta(days=3), 72)}, holdout_days=1, train_days=2)
    assert len(split.train["a"]) == 48 and len(split.holdout["a"]) == 24
    assert max(split.train["a"]) < min(split.holdout["a"])


def test_a_young_host_is_health_only_and_the_others_train() -> None:
    keys = {"old": _hours(END - timedelta(days=3), 72), "new": _hours(END - timedelta(hours=30), 30)}
    split = time_split(keys, holdout_days=1, train_days=2)
    young = young_hosts(split, min_train_days=1, holdout_days=1)
    assert list(young) == ["new"] and "6 training days" not in young["new"]
    assert "0.25 training days < 1" in young["new"] and "health rules only" in young["new"]
    assert cold_start_reason(split, min_train_days=1, holdout_days=1) is None
    kept = without_hosts(split, set(young))
    assert set(kept.train) == set(kept.holdout) == {"old"}


def test_cold_start_only_when_no_host_has_enough_history() -> None:
    split = time_split({"new": _hours(END - timedelta(hours=30), 30)}, holdout_days=1, train_days=2)
    reason = cold_start_reason(split, min_train_days=1, holdout_days=1)
    assert reason is not None and "cold start" in reason and "new" in reason
    assert list(young_hosts(split, min_train_days=1, holdout_days=1)) == ["new"]
