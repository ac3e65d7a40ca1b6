"""evaluate_detections on hand-made scores and labels (gates: test_gates.py)."""

import pandas as pd
import pytest

from mlops_assets.lib.evaluate.detections import evaluate_detections

T0 = pd.Timestamp("2026-11-01", tz="UTC")


def scores(host: str, flagged_minutes: set[int], n: int = 1440) -> pd.DataFrame:
    ws = pd.date_range(T0, periods=n, freq="1min")
    flags = [m in flagged_minutes for m in range(n)]
    return pd.DataFrame(
        {"host": host, "window_start": ws, "score": [0.9 if f else 0.5 for f in flags], "is_anomaly": flags}
    )


def label(host: str, fault: str, start_min: float, end_min: float) -> dict:
    return {
        "host": host,
        "fault": fault,
        "start": T0 + pd.Timedelta(minutes=start_min),
        "end": T0 + pd.Timedelta(minutes=end_min),
    }


LABELS = pd.DataFrame(
    [
        label("a", "fan_failure", 100.5, 110),  # detected 2 windows late
        label("a", "xid79", 500, 505),  # missed
        label("b", "fan_failure", 200, 230),  # detected at once
    ]
)


def test_event_recall_ttd_false_alarms_and_window_metrics() -> None:
    a = scores(
        "a", {102, 103, 104, 900, 901, 903, 1300}
    )  # 900-903 merge (gap 1 <= 2 min): one false alarm; 1300 another
    b = scores("b", {200, 201, 111})  # 111 on b is not near b's fault: a false alarm
    r = evaluate_detections(pd.concat([a, b], ignore_index=True), LABELS)
    assert r["events_total"] == 3 and r["events_detected"] == 2
    assert r["event_recall"] == pytest.approx(2 / 3)
    assert r["event_recall_by_fault"] == {"fan_failure": 1.0, "xid79": 0.0}
    assert r["min_event_recall_by_fault"] == 0.0
    ttd = {(e["host"], e["fault"]): e["minutes_to_detect"] for e in r["events"]}
    assert ttd[("a", "fan_failure")] == pytest.approx(1.5) and ttd[("b", "fan_failure")] == 0.0
    assert ttd[("a", "xid79")] is None
    assert r["median_minutes_to_detect"] == pytest.approx(0.75)
    assert r["false_alarms"] == 3 and r["host_days"] == pytest.approx(2.0)
    assert r["false_alarms_per_host_day"] == pytest.approx(1.5)
    positives = 10 + 5 + 30  # windows overlapping [100.5, 110), [500, 505), [200, 230)
    tp, fp = 5, 5
    assert r["window_precision"] == pytest.approx(tp / (tp + fp))
    assert r["window_recall"] == pytest.approx(tp / positives)


def test_alarm_within_grace_after_the_fault_counts_as_detection_not_false_alarm() -> None:
    r = evaluate_detections(scores("a", {507, 508}), LABELS[LABELS["fault"] == "xid79"])
    assert r["event_recall"] == 1.0 and r["false_alarms"] == 0
    late = evaluate_detections(scores("a", {520}), LABELS[LABELS["fault"] == "xid79"])
    assert late["event_recall"] == 0.0 and late["false_alarms"] == 1


def test_no_labels_no_alarms() -> None:
    r = evaluate_detections(scores("a", set(), n=60), LABELS.iloc[0:0])
    assert r["event_recall"] == 1.0 and r["false_alarms"] == 0 and r["median_minutes_to_detect"] is None
