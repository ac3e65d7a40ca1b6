"""Promotion gates: one property each, with the measured value and its threshold.

``evaluation`` is what the model asset writes: ``challenger`` and ``reference`` (own_history.judge
figures of the candidate and of the champion, or of the health-rules-only baseline when there is
no champion), ``schema_diff`` (serving signature vs a frame built from parsed tables) and
``serving_non_finite`` (non-finite scores the served model returned on that frame). Every gate can
fail; thresholds come from the environment so an operator can tighten them without a release.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any


def _env(name: str, default: float) -> float:
    return float(os.getenv(name, str(default)))


@dataclass(frozen=True)
class Thresholds:
    min_recall: float = 0.9  # per overlaid fault kind
    max_false_alarms_per_host_day: float = 2.0
    max_alarm_minute_share: float = 0.02
    reference_tolerance: float = 0.05  # recall the challenger may lose against the reference
    min_confirmed_flagged: float = 1.0  # share of operator-confirmed incidents still flagged
    max_dismissed_reraised: float = 0.25  # share of dismissed incidents raised again

    @classmethod
    def from_env(cls) -> Thresholds:
        d = cls()
        return cls(
            _env("MLOPS_GATE_MIN_RECALL", d.min_recall),
            _env("MLOPS_GATE_MAX_FALSE_ALARMS", d.max_false_alarms_per_host_day),
            _env("MLOPS_GATE_MAX_ALARM_SHARE", d.max_alarm_minute_share),
            _env("MLOPS_GATE_REFERENCE_TOLERANCE", d.reference_tolerance),
            _env("MLOPS_GATE_MIN_CONFIRMED", d.min_confirmed_flagged),
            _env("MLOPS_GATE_MAX_DISMISSED", d.max_dismissed_reraised),
        )


GATE_DESCRIPTIONS = {
    "overlay_recall": "Faults overlaid on the hosts' own held-out raw logs: recall of the candidate beside the "
    "health rules >= threshold for every kind (the model-only figures are in the metadata).",
    "false_alarms_per_host_day": "Unexplained alarm groups per host-day on the unmodified held-out days.",
    "alarm_minute_share": "Share of held-out minutes in unexplained alarm (an always-alarming model fails).",
    "not_worse_than_reference": "Overlay recall vs the champion (or the health-rules-only baseline) on "
    "the same data, within the tolerance.",
    "operator_confirmed": "Share of operator-confirmed incidents in the held-out range the challenger flags.",
    "operator_dismissed": "Share of incidents the operator marked false-alarm that the challenger raises again.",
    "serving_schema": "Registered signature vs a feature frame built from parsed tables: no missing or "
    "ignored feature.",
    "finite_scores": "No NaN/inf score on the raw (unimputed) held-out frame, in process and served.",
}


def _share(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def gate_results(
    evaluation: dict[str, Any], thresholds: Thresholds | None = None
) -> dict[str, dict[str, Any]]:
    t = thresholds or Thresholds.from_env()
    ch, ref = evaluation["challenger"], evaluation["reference"]
    diff = evaluation.get("schema_diff") or []
    confirmed = _share(ch["confirmed_flagged"], ch["confirmed_incidents"])
    dismissed = _share(ch["dismissed_reraised"], ch["dismissed_incidents"])
    non_finite = int(ch["non_finite_scores"]) + int(evaluation.get("serving_non_finite", 0))
    delta = ch["event_recall"] - ref["event_recall"]
    service_min = ch.get("service_min_recall_by_fault", ch["min_event_recall_by_fault"])
    return {
        "overlay_recall": {
            # what the deployment alerts on: the candidate beside the health rules (lib/evaluate/own_history)
            "passed": service_min >= t.min_recall and ch["events_total"] > 0,
            "value": service_min,
            "threshold": t.min_recall,
            "by_fault": ch.get("service_recall_by_fault", ch["event_recall_by_fault"]),
            "model_only_min": ch["min_event_recall_by_fault"],
            "model_only_by_fault": ch["event_recall_by_fault"],
            "event_recall": ch["event_recall"],
            "events": ch["events_total"],
        },
        "false_alarms_per_host_day": {
            "passed": ch["false_alarms_per_host_day"] <= t.max_false_alarms_per_host_day,
            "value": ch["false_alarms_per_host_day"],
            "threshold": t.max_false_alarms_per_host_day,
            "groups": ch["false_alarm_groups"],
            "host_days": ch["host_days"],
        },
        "alarm_minute_share": {
            "passed": ch["alarm_minute_share"] <= t.max_alarm_minute_share,
            "value": ch["alarm_minute_share"],
            "threshold": t.max_alarm_minute_share,
            "false_alarm_minutes": ch["false_alarm_minutes"],
        },
        "not_worse_than_reference": {
            "passed": delta >= -t.reference_tolerance,
            "value": delta,
            "threshold": -t.reference_tolerance,
            "reference": evaluation.get("reference_kind", "champion"),
            "reference_version": evaluation.get("reference_version"),
            "challenger_recall": ch["event_recall"],
            "reference_recall": ref["event_recall"],
            "reference_false_alarms_per_host_day": ref["false_alarms_per_host_day"],
        },
        "operator_confirmed": {
            "passed": confirmed is None or confirmed >= t.min_confirmed_flagged,
            "value": confirmed,
            "threshold": t.min_confirmed_flagged,
            "incidents": ch["confirmed_incidents"],
        },
        "operator_dismissed": {
            "passed": dismissed is None or dismissed <= t.max_dismissed_reraised,
            "value": dismissed,
            "threshold": t.max_dismissed_reraised,
            "incidents": ch["dismissed_incidents"],
        },
        "serving_schema": {"passed": not diff, "value": len(diff), "threshold": 0, "differences": diff[:20]},
        "finite_scores": {"passed": non_finite == 0, "value": non_finite, "threshold": 0},
    }


def compact(gates: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """{name: {passed, value, threshold}}: the backtest/demo JSON shape."""
    return {
        k: {"passed": bool(v["passed"]), "value": v["value"], "threshold": v["threshold"]}
        for k, v in gates.items()
    }
