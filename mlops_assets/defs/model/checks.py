"""Blocking gates on anomaly_model: each judges one property of the newest candidate on the hosts'
own held-out history, with its measured value and threshold in metadata (lib/evaluate/gates.py).

A failure (ERROR) stops deployed_model in the same run, and deployed_model's automation condition
requires them to pass. A cold start (not enough history to hold days out) has no candidate to
judge: the checks say so with WARN, and deployed_model records why there is no champion.
"""

import dagster as dg

from mlops_assets.defs.model.assets import MODEL_KEY, latest_candidate, load_evaluation
from mlops_assets.lib.evaluate.gates import GATE_DESCRIPTIONS, gate_results


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
        evaluation = load_evaluation(path)
        if "cold_start" in evaluation:
            return dg.AssetCheckResult(
                passed=False,
                severity=dg.AssetCheckSeverity.WARN,
                description="no candidate to judge: " + evaluation["cold_start"],
                metadata={"model_version": version, "cold_start": evaluation["cold_start"]},
            )
        gate = gate_results(evaluation)[name]
        return dg.AssetCheckResult(
            passed=bool(gate["passed"]),
            severity=dg.AssetCheckSeverity.ERROR,
            metadata={"model_version": version, "gate_data": "own-history", **_metadata(gate)},
        )

    return _gate


model_checks = [build_gate(name, desc) for name, desc in GATE_DESCRIPTIONS.items()]
