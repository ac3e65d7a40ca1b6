"""False alarms exclude explained windows; groups, minutes and share are counted on what is left."""

import pandas as pd

from mlops_assets.lib.evaluate.false_alarms import empty_explained, false_alarms, incident_hits

T0 = pd.Timestamp("2026-11-01", tz="UTC")


def _scores(flagged: set[int], host: str = "a", n: int = 1440) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "host": host,
            "window_start": pd.date_range(T0, periods=n, freq="1min"),
            "score": 0.5,
            "is_anomaly": [m in flagged for m in range(n)],
        }
    )


def test_groups_minutes_and_share() -> None:
    r = false_alarms(_scores({10, 11, 12, 500, 900}), empty_explained())
    assert r["false_alarm_groups"] == 3 and r["false_alarm_minutes"] == 5.0
    assert r["false_alarms_per_host_day"] == 3.0 and r["alarm_minute_share"] == 5 / 1440


def test_explained_windows_are_not_false_alarms() -> None:
    explained = pd.DataFrame(
        {
            "host": ["a", "b"],
            "start": [T0 + pd.Timedelta(minutes=495)] * 2,
            "end": [T0 + pd.Timedelta(minutes=497)] * 2,
            "reason": ["health:XID_79", "other host"],
        }
    )
    r = false_alarms(_scores({10, 500}), explained, pad="5min")
    assert r["false_alarm_groups"] == 1 and r["explained_alarm_windows"] == 1


def test_always_alarm_is_one_group_but_all_minutes() -> None:
    r = false_alarms(_scores(set(range(1440))), empty_explained())
    assert r["false_alarms_per_host_day"] == 1.0 and r["alarm_minute_share"] == 1.0


def test_incident_hits() -> None:
    incidents = pd.DataFrame(
        {
            "host": ["a", "a"],
            "start": [T0 + pd.Timedelta(minutes=9), T0 + pd.Timedelta(minutes=600)],
            "end": [T0 + pd.Timedelta(minutes=11), T0 + pd.Timedelta(minutes=610)],
        }
    )
    assert incident_hits(_scores({10}), incidents).tolist() == [True, False]
