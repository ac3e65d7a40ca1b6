"""Every gate can fail: one evaluation per gate that breaks exactly that property."""

import copy

import pytest

from mlops_assets.lib.evaluate.gates import GATE_DESCRIPTIONS, Thresholds, compact, gate_results

FIGURES = {
    "event_recall": 1.0,
    "event_recall_by_fault": {"fan_stall": 1.0, "gpu_lost": 1.0},
    "min_event_recall_by_fault": 1.0,
    "events_total": 18,
    "false_alarms_per_host_day": 0.5,
    "false_alarm_groups": 1,
    "host_days": 2.0,
    "alarm_minute_share": 0.001,
    "false_alarm_minutes": 3.0,
    "confirmed_incidents": 2,
    "confirmed_flagged": 2,
    "dismissed_incidents": 4,
    "dismissed_reraised": 1,
    "non_finite_scores": 0,
}
GOOD = {
    "challenger": FIGURES,
    "reference": {**FIGURES, "event_recall": 0.4},
    "reference_kind": "health-rules-baseline",
    "schema_diff": [],
    "serving_non_finite": 0,
}


def _with(**changes) -> dict:
    ev = copy.deepcopy(GOOD)
    for key, value in changes.items():
        where, name = key.split("__")
        ev[where][name] = value
    return ev


def test_good_evaluation_passes_every_gate() -> None:
    gates = gate_results(GOOD, Thresholds())
    assert set(gates) == set(GATE_DESCRIPTIONS)
    assert all(g["passed"] for g in gates.values()), gates
    assert all({"passed", "value", "threshold"} <= set(g) for g in compact(gates).values())


@pytest.mark.parametrize(
    ("gate", "evaluation"),
    [
        ("overlay_recall", _with(challenger__min_event_recall_by_fault=0.5)),
        ("overlay_recall", _with(challenger__events_total=0)),  # nothing overlaid proves nothing
        ("false_alarms_per_host_day", _with(challenger__false_alarms_per_host_day=2.5)),
        ("alarm_minute_share", _with(challenger__alarm_minute_share=0.5)),
        ("not_worse_than_reference", _with(reference__event_recall=1.0, challenger__event_recall=0.9)),
        ("operator_confirmed", _with(challenger__confirmed_flagged=1)),
        ("operator_dismissed", _with(challenger__dismissed_reraised=2)),
        ("finite_scores", _with(challenger__non_finite_scores=3)),
    ],
)
def test_each_gate_fails_on_its_own_property(gate: str, evaluation: dict) -> None:
    gates = gate_results(evaluation, Thresholds())
    assert [k for k, g in gates.items() if not g["passed"]] == [gate]


def test_schema_and_served_non_finite_fail() -> None:
    ev = copy.deepcopy(GOOD) | {
        "schema_diff": ["frame lacks required input gpu_samples"],
        "serving_non_finite": 1,
    }
    gates = gate_results(ev, Thresholds())
    assert not gates["serving_schema"]["passed"] and gates["serving_schema"]["value"] == 1
    assert not gates["finite_scores"]["passed"]


def test_thresholds_from_environment(monkeypatch) -> None:
    monkeypatch.setenv("MLOPS_GATE_MAX_FALSE_ALARMS", "0.25")
    gates = gate_results(GOOD)
    assert gates["false_alarms_per_host_day"] == {
        **gates["false_alarms_per_host_day"],
        "passed": False,
        "threshold": 0.25,
    }
