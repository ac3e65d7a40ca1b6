"""Notifications (failed checks, failed runs, new incidents) and AI triage of incidents.

Defaults work with zero setup: alerts go to ``<MLOPS_HOME>/notifications.jsonl`` and the log; set
``MLOPS_NOTIFY_CHANNELS=file,slack`` + ``MLOPS_SLACK_WEBHOOK_URL`` (or ``webhook`` +
``MLOPS_WEBHOOK_URL``, ``alertmanager`` + ``MLOPS_ALERTMANAGER_URL``, ``apprise`` +
``MLOPS_APPRISE_URLS``) to post, ``GEMINI_API_KEY`` for LLM summaries, ``MLOPS_UI_URL`` for run links.
"""

from __future__ import annotations

import os

import dagster as dg

from mlops_assets.defs.notify.assets import incident_triage
from mlops_assets.defs.notify.sensors import sensors
from mlops_assets.notify.resources import NotifierResource, TriageResource


def _optional_env(name: str) -> dg.EnvVar | None:
    """Secret URLs/keys as EnvVar (never shown in run config) when set, else unset."""
    return dg.EnvVar(name) if os.getenv(name) else None


def default_notifier() -> NotifierResource:
    return NotifierResource(
        channels=os.getenv("MLOPS_NOTIFY_CHANNELS", "file"),
        webhook_url=_optional_env("MLOPS_WEBHOOK_URL"),
        slack_webhook_url=_optional_env("MLOPS_SLACK_WEBHOOK_URL"),
        alertmanager_url=os.getenv("MLOPS_ALERTMANAGER_URL") or None,
        apprise_urls=_optional_env("MLOPS_APPRISE_URLS"),
        ui_url=os.getenv("MLOPS_UI_URL", "http://127.0.0.1:3000"),
        reports_url=os.getenv("MLOPS_REPORTS_URL") or None,
        min_incident_severity=os.getenv("MLOPS_NOTIFY_MIN_SEVERITY", "high"),
    )


def default_triage() -> TriageResource:
    key_var = "GEMINI_API_KEY" if os.getenv("GEMINI_API_KEY") else "GOOGLE_API_KEY"
    return TriageResource(
        model=os.getenv("MLOPS_LLM_MODEL", "gemini-2.5-flash-lite"),
        api_key=_optional_env(key_var),
        base_url=os.getenv("MLOPS_LLM_BASE_URL") or None,
    )


defs = dg.Definitions(
    assets=[incident_triage],
    sensors=sensors,
    resources={"notifier": default_notifier(), "triage": default_triage()},
)
