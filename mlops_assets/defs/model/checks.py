"""Blocking gates on anomaly_model: each judges one property of the newest candidate, with its
measured value and threshold in metadata. A failure stops deployed_model in the same run, and the
automation condition of deployed_model requires them to pass."""

import dagster as dg

from mlops_assets.defs.model.assets import MODEL_KEY, latest_candidate, load_evaluation
from mlops_assets.lib.evaluate.detections import gate_results

GATES = {
    "event_recall": "Held-out event recall >= 0.9 overall and for every fault kind.",
    "false_alarm_rate": "Held-out false alarms <= 3 per host-day (merged alarm groups outside labelled faults).",
    "not_worse_than_champion": "Held-out window F1 not below the champion's by more than the tolerance.",
    "no_nan_scores": "No held-out window scored NaN.",
    "serving_schema": "The registered model's serving signature equals the training feature schema.",
}


def _metadata(gate: dict) -> dict:
    md = {}
    for k, v in gate.items():
        if k == "passed":
            continue
        md[k] = dg.MetadataValue.json(v) if isinstance(v, dict | list) else ("none" if v is None else v)
    return md


def build_gate(name: str, description: str) -> dg.AssetChecksDefinition:
    @dg.asset_check(asset=MODEL_KEY, name=name, blocking=True, description=description)
    def _gate(context: dg.AssetCheckExecutionContext) -> dg.AssetCheckResult:
        version, path = latest_candidate(context.instance)
        gate = gate_results(load_evaluation(path))[name]
        return dg.AssetCheckResult(
            passed=bool(gate["passed"]),
            severity=dg.AssetCheckSeverity.ERROR,
            metadata={"model_version": version, **_metadata(gate)},
        )

    return _gate


model_checks = [build_gate(name, desc) for name, desc in GATES.items()]
