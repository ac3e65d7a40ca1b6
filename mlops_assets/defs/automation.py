"""Declarative automation for the whole graph, in one table: what updates when.

- parse -> features -> scores follow new data eagerly;
- templates are re-mined daily; training runs weekly by cron, or when drift persists (drift sensor);
- deployment follows a new model ONLY when every blocking check passed (DESIGN.md section 4, dagster
  issue #17332: `eager()` alone would deploy a model whose gate failed on the next tick);
- drift is evaluated hourly; incidents and their triage follow new scores.
"""

import dagster as dg

EAGER = dg.AutomationCondition.eager()

CONDITIONS: dict[str, dg.AutomationCondition] = {
    **{f"parsed_{s}": EAGER for s in ("gpu", "journal", "kernel", "docker_logs", "docker_events")},
    "log_templates": dg.AutomationCondition.on_cron("10 0 * * *"),
    "window_features": EAGER,
    "health_events": EAGER,
    "anomaly_model": dg.AutomationCondition.on_cron("0 4 * * 0"),
    "deployed_model": EAGER & dg.AutomationCondition.all_deps_blocking_checks_passed(),
    "anomaly_scores": EAGER,
    "incidents": EAGER,
    "incident_triage": EAGER,
    "drift_report": dg.AutomationCondition.on_cron("20 * * * *"),
}


def with_automation(spec: dg.AssetSpec) -> dg.AssetSpec:
    condition = CONDITIONS.get(spec.key.to_user_string())
    return spec.replace_attributes(automation_condition=condition) if condition is not None else spec
