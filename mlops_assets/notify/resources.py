"""Dagster resources for notifications and AI triage (configurable in the UI / per environment).

Secrets (webhook URLs, API key) are best passed as ``dg.EnvVar`` so they never appear in run config;
an unset API key means rule-based triage, not an error.
"""

from __future__ import annotations

import os
import re
from typing import Any

import dagster as dg
from pydantic import Field

from mlops_assets.environment import settings
from mlops_assets.lib.triage.hypotheses import PromptSettings, TriageResult
from mlops_assets.notify.channels import (
    SEVERITY_ORDER,
    Channel,
    FileChannel,
    SlackChannel,
    WebhookChannel,
    default_notifications_path,
)
from mlops_assets.notify.llm import DEFAULT_MODEL, LlmSettings, summarize
from mlops_assets.notify.notifier import Notifier
from mlops_assets.notify.routes import AlertmanagerChannel, AppriseChannel

KNOWN_CHANNELS = ("file", "webhook", "slack", "alertmanager", "apprise")


class NotifierResource(dg.ConfigurableResource):
    """Which channels get alerts, and how hard to try. ``channels`` is a comma list of file,webhook,slack."""

    channels: str = Field(
        default="file", description="comma-separated: file, webhook, slack, alertmanager, apprise"
    )
    webhook_url: str | None = Field(default=None, description="generic JSON webhook (channel 'webhook')")
    slack_webhook_url: str | None = Field(
        default=None, description="Slack incoming webhook (channel 'slack')"
    )
    alertmanager_url: str | None = Field(
        default=None,
        description="Alertmanager base URL, e.g. http://alertmanager:9093 (channel 'alertmanager')",
    )
    apprise_urls: str | None = Field(
        default=None,
        description="apprise service URLs, comma/space separated: pagerduty://, msteams://, mailto://, "
        "ntfy://, json:// ... (channel 'apprise')",
    )
    attach_reports: bool = Field(default=True, description="apprise: attach the incident HTML reports")
    notifications_path: str | None = Field(
        default=None, description="default <MLOPS_HOME>/notifications.jsonl"
    )
    delivery_log_path: str | None = Field(
        default=None, description="default <MLOPS_HOME>/notify_deliveries.jsonl"
    )
    # Worst case per channel and tick: max_attempts * timeout_s + backoff (~13.5 s), well inside the
    # daemon's 60 s sensor limit even with two dead receivers.
    timeout_s: float = 4.0
    max_attempts: int = 3
    backoff_s: float = 0.5
    redact_ips: bool = False
    redact_hostnames: bool = False
    ui_url: str = Field(default="http://127.0.0.1:3000", description="Dagster UI base for run links")
    reports_url: str | None = Field(
        default=None,
        description="where <storage>/reports/incidents is served over HTTP; alerts then link reports there",
    )
    min_incident_severity: str = Field(default="high", description="low | medium | high | critical")

    def channel_list(self) -> list[str]:
        names = [c.strip().lower() for c in self.channels.split(",") if c.strip()]
        unknown = [c for c in names if c not in KNOWN_CHANNELS]
        if unknown:
            raise ValueError(f"unknown notification channel(s) {unknown}; known: {list(KNOWN_CHANNELS)}")
        if not names:
            raise ValueError("NotifierResource.channels is empty; use at least 'file'")
        return names

    def build(self) -> Notifier:
        """The notifier for this configuration; raises when a channel lacks its URL."""
        channels: list[Channel] = []
        for name in self.channel_list():
            if name == "file":
                channels.append(FileChannel(self.notifications_path or default_notifications_path()))
            elif name == "webhook":
                if not self.webhook_url:
                    raise ValueError("channel 'webhook' needs webhook_url (env MLOPS_WEBHOOK_URL)")
                channels.append(
                    WebhookChannel(self.webhook_url, self.timeout_s, self.redact_ips, self.redact_hostnames)
                )
            elif name == "slack":
                if not self.slack_webhook_url:
                    raise ValueError("channel 'slack' needs slack_webhook_url (env MLOPS_SLACK_WEBHOOK_URL)")
                channels.append(
                    SlackChannel(
                        self.slack_webhook_url, self.timeout_s, self.redact_ips, self.redact_hostnames
                    )
                )
            elif name == "alertmanager":
                if not self.alertmanager_url:
                    raise ValueError(
                        "channel 'alertmanager' needs alertmanager_url (env MLOPS_ALERTMANAGER_URL)"
                    )
                channels.append(
                    AlertmanagerChannel(
                        self.alertmanager_url, self.timeout_s, self.redact_ips, self.redact_hostnames
                    )
                )
            elif name == "apprise":
                urls = [u for u in re.split(r"[,\s]+", self.apprise_urls or "") if u]
                channels.append(
                    AppriseChannel(
                        urls, self.timeout_s, self.redact_ips, self.redact_hostnames, self.attach_reports
                    )
                )
        log_path = self.delivery_log_path or os.path.join(settings().home, "notify_deliveries.jsonl")
        return Notifier(channels, log_path, max_attempts=self.max_attempts, backoff_s=self.backoff_s)

    def report_url(self, name: str) -> str | None:
        return f"{self.reports_url.rstrip('/')}/{name}" if self.reports_url else None

    def run_url(self, run_id: str) -> str:
        return f"{self.ui_url.rstrip('/')}/runs/{run_id}"

    def severity_at_least(self, severity: str | None) -> bool:
        threshold = SEVERITY_ORDER.get(self.min_incident_severity.lower())
        if threshold is None:
            raise ValueError(
                f"min_incident_severity {self.min_incident_severity!r} not in {list(SEVERITY_ORDER)}"
            )
        return SEVERITY_ORDER.get((severity or "").lower(), -1) >= threshold


class TriageResource(dg.ConfigurableResource):
    """Gemini (when a key is set) or rule-based root-cause summaries for incidents and failed checks."""

    model: str = DEFAULT_MODEL
    api_key: str | None = Field(default=None, description="None -> env GEMINI_API_KEY / GOOGLE_API_KEY")
    base_url: str | None = Field(default=None, description="override the Gemini endpoint (proxy, tests)")
    api_version: str = "v1beta"
    timeout_s: float = 20.0
    max_attempts: int = 3
    backoff_s: float = 1.0
    use_llm: bool = Field(default=True, description="False forces rule-based summaries")
    max_prompt_chars: int = 6000
    sample_lines: str = Field(default="redacted", description="none | redacted | raw (raw is opt-in)")
    max_sample_lines: int = 20
    redact_ips: bool = False
    redact_hostnames: bool = False

    def prompt_settings(self) -> PromptSettings:
        if self.sample_lines not in ("none", "redacted", "raw"):
            raise ValueError(f"sample_lines must be none|redacted|raw, got {self.sample_lines!r}")
        return PromptSettings(
            max_chars=self.max_prompt_chars,
            sample_lines=self.sample_lines,  # type: ignore[arg-type]
            max_sample_lines=self.max_sample_lines,
            redact_ips=self.redact_ips,
            redact_hostnames=self.redact_hostnames,
        )

    def llm_settings(self) -> LlmSettings:
        return LlmSettings(
            model=self.model,
            api_key=self.api_key,
            base_url=self.base_url,
            api_version=self.api_version,
            timeout_s=self.timeout_s,
            max_attempts=self.max_attempts,
            backoff_s=self.backoff_s,
        )

    def summarize(self, subject: dict[str, Any], evidence: dict[str, Any]) -> TriageResult:
        return summarize(subject, evidence, self.llm_settings(), self.prompt_settings(), use_llm=self.use_llm)
