"""Judge a detector on the hosts' own held-out days: overlaid-fault recall, false alarms, labels.

Inputs are frames the caller read through the storage layer (clean held-out features, the same
hours with faults overlaid and replayed through the production path, the overlay labels, the
explained intervals and the operator's verdicts); the output is a JSON-able evaluation that
lib/evaluate/gates.py turns into pass/fail per property.

A fault counts as DETECTED only by alarm windows that the same model does not raise on the same
window of the unmodified copy: an always-alarming model detects nothing it can be credited for.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from mlops_assets.lib.evaluate.detections import evaluate_detections
from mlops_assets.lib.evaluate.false_alarms import false_alarms, incident_hits
from mlops_assets.lib.evaluate.rules_baseline import baseline_scores


@dataclass
class HeldOutData:
    clean_features: pd.DataFrame
    clean_counts: pd.DataFrame
    overlay_features: pd.DataFrame  # the held-out hours, overlaid ones replaced by their replay
    overlay_counts: pd.DataFrame
    labels: pd.DataFrame  # overlay faults: host, start, end, fault, sources, gpu
    explained: pd.DataFrame  # host, start, end, reason (health incidents + operator-confirmed)
    clean_events: pd.DataFrame  # critical events of the unmodified held-out hours
    overlay_events: pd.DataFrame  # critical events of the overlaid copy (rules-only baseline input)
    confirmed: pd.DataFrame  # operator-confirmed incidents inside the held-out range
    dismissed: pd.DataFrame  # incidents the operator marked false-alarm inside the held-out range
    params: dict[str, Any] = field(default_factory=dict)


def in_range(incidents: pd.DataFrame, start: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame:
    if incidents.empty:
        return incidents
    s, e = pd.to_datetime(incidents["start"], utc=True), pd.to_datetime(incidents["end"], utc=True)
    return incidents[(e > start) & (s < end)].reset_index(drop=True)


def _attributable(overlay: pd.DataFrame, clean: pd.DataFrame) -> pd.DataFrame:
    """Overlay scores with alarms the clean copy also raises on the same window removed."""
    key = ["host", "window_start"]
    base = clean[key + ["is_anomaly"]].rename(columns={"is_anomaly": "_clean"})
    base = base.assign(
        host=base["host"].astype(str), window_start=pd.to_datetime(base["window_start"], utc=True)
    )
    out = overlay.assign(
        host=overlay["host"].astype(str), window_start=pd.to_datetime(overlay["window_start"], utc=True)
    ).merge(base, on=key, how="left")
    out["is_anomaly"] = out["is_anomaly"].to_numpy(dtype=bool) & ~out["_clean"].fillna(False).to_numpy(
        dtype=bool
    )
    return out.drop(columns="_clean")


def judge(clean_scores: pd.DataFrame, overlay_scores: pd.DataFrame, data: HeldOutData) -> dict[str, Any]:
    """Every figure the gates need for one detector's scores on the held-out data."""
    det = evaluate_detections(_attributable(overlay_scores, clean_scores), data.labels)
    fa = false_alarms(clean_scores, data.explained)
    confirmed_hit = incident_hits(clean_scores, data.confirmed)
    dismissed_hit = incident_hits(clean_scores, data.dismissed)
    raw = clean_scores["score"].to_numpy(dtype="float64")
    return {
        "event_recall": det["event_recall"],
        "event_recall_by_fault": det["event_recall_by_fault"],
        "min_event_recall_by_fault": det["min_event_recall_by_fault"],
        "events_total": det["events_total"],
        "events_detected": det["events_detected"],
        "median_minutes_to_detect": det["median_minutes_to_detect"],
        "events": det["events"],
        **fa,
        "confirmed_incidents": len(data.confirmed),
        "confirmed_flagged": int(confirmed_hit.sum()),
        "dismissed_incidents": len(data.dismissed),
        "dismissed_reraised": int(dismissed_hit.sum()),
        "non_finite_scores": int((~np.isfinite(raw)).sum()),
    }


def with_rules(scores: pd.DataFrame, rules: pd.DataFrame) -> pd.DataFrame:
    """The service's decision: the model's alarms OR a window holding a critical health event."""
    flagged = rules.loc[rules["is_anomaly"].astype(bool), ["host", "window_start"]]
    keys = set(
        zip(flagged["host"].astype(str), pd.to_datetime(flagged["window_start"], utc=True), strict=True)
    )
    hit = [
        (h, t) in keys
        for h, t in zip(
            scores["host"].astype(str), pd.to_datetime(scores["window_start"], utc=True), strict=True
        )
    ]
    return scores.assign(is_anomaly=scores["is_anomaly"].astype(bool).to_numpy() | np.array(hit, dtype=bool))


def judge_model(model: Any, data: HeldOutData, score_fn: Any) -> dict[str, Any]:
    """``score_fn(model, features, counts)`` on the clean and the overlaid held-out copies.

    ``service_*`` figures judge what a deployment alerts on: the model beside the health rules, which
    run on every host whatever the model (a fault the rules already name needs no learned alarm).
    The attribution rule still holds: an alarm the service also raises on the untouched copy at the
    same window credits nothing, so an always-alarming candidate gets no recall either way.
    """
    clean = score_fn(model, data.clean_features, data.clean_counts)
    overlay = score_fn(model, data.overlay_features, data.overlay_counts)
    figures = judge(clean, overlay, data)
    service = evaluate_detections(
        _attributable(
            with_rules(overlay, baseline_scores(data.overlay_features, data.overlay_events)),
            with_rules(clean, baseline_scores(data.clean_features, data.clean_events)),
        ),
        data.labels,
    )
    figures["service_recall_by_fault"] = service["event_recall_by_fault"]
    figures["service_min_recall_by_fault"] = service["min_event_recall_by_fault"]
    return figures


def judge_rules_baseline(data: HeldOutData) -> dict[str, Any]:
    """The health-rules-only detector on the same data (the reference while there is no champion)."""
    return judge(
        baseline_scores(data.clean_features, data.clean_events),
        baseline_scores(data.overlay_features, data.overlay_events),
        data,
    )


def summary(figures: dict[str, Any]) -> dict[str, Any]:
    """Figures without the per-event list (for metadata and JSON lines)."""
    return {k: v for k, v in figures.items() if k != "events"}
