"""Operator labels: append-only files, atomic, latest verdict wins, bad verdicts refused."""

from datetime import UTC, datetime

import pandas as pd
import pytest

from mlops_assets.lib.evaluate.labels import append_label, label_record, read_labels, split_verdicts

INCIDENT = {
    "incident_id": "inc-1",
    "host": "h1",
    "start": pd.Timestamp("2026-11-01 10:00", tz="UTC"),
    "end": pd.Timestamp("2026-11-01 10:12", tz="UTC"),
}


def test_append_only_and_latest_wins(tmp_path) -> None:
    root = str(tmp_path)
    first = append_label(root, label_record(INCIDENT, "confirmed", at=datetime(2026, 11, 2, tzinfo=UTC)))
    second = append_label(
        root, label_record(INCIDENT, "false-alarm", "fan test", at=datetime(2026, 11, 3, tzinfo=UTC))
    )
    assert first != second
    labels = read_labels(root)
    assert labels["verdict"].tolist() == ["confirmed", "false-alarm"]  # history kept
    confirmed, dismissed = split_verdicts(labels)
    assert confirmed.empty and dismissed["incident_id"].tolist() == ["inc-1"]
    assert not list(tmp_path.rglob(".tmp-*")), "no temp file left behind"


def test_refuses_unknown_verdict_and_incomplete_incident() -> None:
    with pytest.raises(ValueError, match="verdict"):
        label_record(INCIDENT, "maybe")
    with pytest.raises(ValueError, match="end"):
        label_record({**INCIDENT, "end": None}, "confirmed")


def test_no_labels_is_an_empty_frame(tmp_path) -> None:
    confirmed, dismissed = split_verdicts(read_labels(str(tmp_path)))
    assert confirmed.empty and dismissed.empty
