"""Declarative automation for the whole graph, in one table: what updates when.

- host x hour assets downstream of raw_* (parse -> features / health events -> scores) use
  CATCH_UP: eager WITHOUT eager()'s latest-time-window filter, so every collected host-hour, whatever
  its age, flows downstream once (DESIGN.md section 8: plain eager() parsed only the newest of three
  collected hours). Normally the fleet-hour run requested by new_data_sensor already materialized
  them in order, so the child's update is newer than its parents' and nothing is requested twice. Updates of the unpartitioned parents (log_templates re-mined daily, a newly
  deployed champion) do not re-run history: only new data does.
- every gated edge requires the parents' blocking checks to have passed
  (`all_deps_blocking_checks_passed`): quarantine_rate on parsed_* -> features, health events (and so
  scores); the model gates -> deployed_model (dagster issue #17332: eager() alone would deploy a model
  whose gate failed on the next tick);
- templates are re-mined daily; training runs weekly by cron, or when drift persists (drift sensor);
- drift is evaluated hourly; incidents and their triage follow new scores.
"""

import dagster as dg

AC = dg.AutomationCondition
# Parents whose update must not re-run every historical host-hour of their children.
NOT_A_TRIGGER = dg.AssetSelection.assets("log_templates", "deployed_model")

GATED = AC.all_deps_blocking_checks_passed()
EAGER = AC.eager()
# Unlike any_deps_updated(), a parent updated by a run that also targeted the child still counts:
# when the child was materialized later in that run, since_last_handled() resets (the child's update
# is newer), and when the run stopped before the child (another host's blocking check failed the
# fleet-hour step) the child is requested on the next tick.
DEPS_UPDATED = AC.any_deps_match(AC.newly_updated() | AC.will_be_requested()).ignore(NOT_A_TRIGGER)
CATCH_UP = (
    (AC.newly_missing() | DEPS_UPDATED).since_last_handled()
    & ~AC.any_deps_missing()
    & ~AC.any_deps_in_progress()
    & ~AC.in_progress()
    & GATED
).with_label("catch_up")

# incidents reads every host-hour's scores: eager()'s any_deps_missing holds it back while ANY
# host-hour since the partitions' start has no scores (measured: never requested), so it follows new
# scores without that test.
ON_NEW_SCORES = (
    AC.any_deps_updated().since_last_handled() & ~AC.any_deps_in_progress() & ~AC.in_progress()
).with_label("on_new_scores")

# Every host x hour asset fed by the parsed tables (a new one is one more line here, e.g.
# "health_events": CATCH_UP); new_data_sensor includes each of them in the fleet-hour run.
HOST_HOUR_DOWNSTREAM = ("window_features", "anomaly_scores")

CONDITIONS: dict[str, dg.AutomationCondition] = {
    **{f"parsed_{s}": CATCH_UP for s in ("gpu", "journal", "kernel", "docker_logs", "docker_events")},
    **{key: CATCH_UP for key in HOST_HOUR_DOWNSTREAM},
    "log_templates": AC.on_cron("10 0 * * *"),
    "anomaly_model": AC.on_cron("0 4 * * 0"),
    "deployed_model": EAGER & GATED,
    "health_events": CATCH_UP,
    "incidents": ON_NEW_SCORES,
    "incident_triage": EAGER,
    "drift_report": AC.on_cron("20 * * * *"),
}


def with_automation(spec: dg.AssetSpec) -> dg.AssetSpec:
    condition = CONDITIONS.get(spec.key.to_user_string())
    return spec.replace_attributes(automation_condition=condition) if condition is not None else spec
