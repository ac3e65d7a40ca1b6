"""The ONE Definitions of the code location: every domain merged, the environment picked once.

Local (default): in-process executor, SQLite/filesystem state under MLOPS_HOME.
Prod (MLOPS_ASSETS_ENV=prod): training and monitoring steps run as Kubernetes Jobs, the others in the
run pod (dagster-k8s, mlops_assets/k8s_steps.py).
"""

from __future__ import annotations

import warnings

import dagster as dg

from mlops_assets.defs import features, health, ingest, model, monitor, notify, parse
from mlops_assets.defs.automation import with_automation
from mlops_assets.defs.fastpath.sensor import fast_path_sensor
from mlops_assets.defs.jobs import jobs
from mlops_assets.environment import current_env
from mlops_assets.resources import default_log_source, default_storage


def _executor() -> dg.ExecutorDefinition:
    if current_env() == "prod":
        from mlops_assets.k8s import prod_executor

        return prod_executor()
    # One process per step costs ~4 s here; a local run's steps are small, so stay in process.
    return dg.in_process_executor


automation_sensor = dg.AutomationConditionSensorDefinition(
    "automation_sensor",
    target=dg.AssetSelection.all(),
    default_status=dg.DefaultSensorStatus.RUNNING,  # the built-in one starts STOPPED in OSS
    minimum_interval_seconds=60,
)


def build_defs() -> dg.Definitions:
    """Merge every domain, add the shared resources/executor, then apply the automation table."""
    merged = dg.Definitions.merge(
        ingest.defs,
        parse.defs,
        features.defs,
        health.defs,
        model.defs,
        monitor.defs,
        notify.defs,
        dg.Definitions(
            sensors=[automation_sensor, fast_path_sensor],
            jobs=jobs,
            resources={"storage": default_storage(), "log_source": default_log_source()},
            executor=_executor(),
        ),
    )
    with warnings.catch_warnings():
        # map_asset_specs is marked "preview" in 1.13; it is the one declarative way to keep every
        # automation condition in defs/automation.py instead of scattered over the domains.
        warnings.simplefilter("ignore", dg.PreviewWarning)
        return merged.map_asset_specs(func=with_automation)


defs = build_defs()
