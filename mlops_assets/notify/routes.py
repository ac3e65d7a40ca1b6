"""Channels into the routing SREs already run: Prometheus Alertmanager, and apprise's many services.

- :class:`AlertmanagerChannel` POSTs the v2 API's list of alerts to ``<url>/api/v2/alerts``. Labels
  identify an alert (alertname, host, gpu, severity, incident_id ...): Alertmanager groups, silences
  and routes on them. ``endsAt`` is the time the incident is judged closed, so Alertmanager resolves
  it then; an update with the same labels and a new ``endsAt`` moves that time (``tracks_state``).
- :class:`AppriseChannel` hands one message per group to apprise (PagerDuty, Teams, e-mail, ntfy,
  Matrix, Telegram, JSON ... one URL each, https://github.com/caronc/apprise/wiki), attaching the
  incident reports when they are readable files.

Both redact like the other HTTP channels and raise :class:`DeliveryError` saying whether a retry can
help; the Notifier owns retries, the sensor owns dedupe and the outbox.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from mlops_assets.notify.channels import Alert, DeliveryError, group_title, post_json, redacted

ALERTNAMES = {
    "incident": "MlopsIncident",
    "incident_update": "MlopsIncident",  # same name and labels: it updates the alert, not a new one
    "check_failed": "MlopsAssetCheckFailed",
    "run_failed": "MlopsRunFailed",
}
_FIELD_LABELS = ("asset", "check", "partition", "job")  # labels of alerts that bring none
_LABEL_NAME = re.compile(r"[^a-zA-Z0-9_]")
_FAILURE = ("critical", "high", "error")


def _name(key: str) -> str:
    name = _LABEL_NAME.sub("_", key)
    return name if name and not name[0].isdigit() else f"_{name}"


def alertmanager_payload(alerts: list[Alert], now: datetime | None = None) -> list[dict[str, Any]]:
    """The ``POST /api/v2/alerts`` body: one postableAlert per alert (empty label values left out)."""
    now_iso = (now or datetime.now(UTC)).isoformat().replace("+00:00", "Z")
    out = []
    for a in alerts:
        labels = a.labels or {k: a.fields[k] for k in _FIELD_LABELS if a.fields.get(k)}
        item: dict[str, Any] = {
            "labels": {
                "alertname": ALERTNAMES.get(a.kind, "MlopsAlert"),
                "service": "mlops_assets",
                "severity": a.severity,
                **{_name(k): str(v) for k, v in labels.items() if str(v) not in ("", "-")},
            },
            "annotations": {
                "summary": a.title,
                "description": a.text,
                **{_name(k): str(v) for k, v in a.fields.items() if str(v)},
            },
            "startsAt": a.starts_at or now_iso,
        }
        if a.ends_at:
            item["endsAt"] = a.ends_at
        if a.url and a.url.startswith(("http://", "https://")):
            item["generatorURL"] = a.url
        out.append(item)
    return out


@dataclass
class AlertmanagerChannel:
    """``url`` is the Alertmanager base (``http://alertmanager:9093``); the path is added here."""

    url: str
    timeout_s: float = 5.0
    redact_ips: bool = False
    redact_hostnames: bool = False
    name: str = "alertmanager"
    tracks_state: bool = True

    @property
    def endpoint(self) -> str:
        base = self.url.rstrip("/")
        return base if base.endswith("/api/v2/alerts") else base + "/api/v2/alerts"

    def send(self, alerts: list[Alert]) -> None:
        safe = [redacted(a, ips=self.redact_ips, hostnames=self.redact_hostnames) for a in alerts]
        post_json(self.endpoint, alertmanager_payload(safe), self.timeout_s)


def _retryable(messages: list[str]) -> bool:
    """apprise reports HTTP failures as text (``error=404``): client errors other than 408/429 are final."""
    codes = [int(c) for m in messages for c in re.findall(r"error=(\d{3})", m)]
    return not codes or any(c in (408, 429) or c >= 500 for c in codes)


@dataclass
class AppriseChannel:
    """``urls``: apprise service URLs (secrets inside: never logged; errors name the scheme only)."""

    urls: list[str]
    timeout_s: float = 5.0
    redact_ips: bool = False
    redact_hostnames: bool = False
    attach_reports: bool = True
    name: str = "apprise"
    _apprise: Any = field(default=None, repr=False)

    def __post_init__(self) -> None:
        import apprise  # ~0.3 s import: only when the channel is configured

        if not self.urls:
            raise ValueError("channel 'apprise' needs at least one apprise URL (env MLOPS_APPRISE_URLS)")
        self._apprise = apprise.Apprise()
        for url in self.urls:
            if not self._apprise.add(url):
                scheme = url.split("://", 1)[0] if "://" in url else "(no scheme)"
                raise ValueError(
                    f"apprise cannot use a {scheme}:// URL (unknown service or malformed); "
                    "see https://github.com/caronc/apprise/wiki for the URL of each service"
                )

    @property
    def deadline_s(self) -> float:
        """apprise waits a service's own rate limit (5.5 s for most) between two requests to it, so a
        retry's deadline includes that wait on top of the HTTP timeout."""
        return self.timeout_s + max((float(s.request_rate_per_sec or 0) for s in self._apprise), default=0.0)

    def send(self, alerts: list[Alert]) -> None:
        import apprise

        safe = [redacted(a, ips=self.redact_ips, hostnames=self.redact_hostnames) for a in alerts]
        body = "\n\n".join(_body(a) for a in safe)
        kind = (
            apprise.NotifyType.FAILURE
            if any(a.severity in _FAILURE for a in safe)
            else apprise.NotifyType.WARNING
        )
        reports = [a.fields["report"] for a in safe if a.fields.get("report")] if self.attach_reports else []
        attach = [p for p in reports if os.path.isfile(p)][:5] or None
        result = self._apprise.notify(
            body=body, title=group_title(safe), notify_type=kind, attach=attach, timeout=self.deadline_s
        )
        if not result:
            messages = [e.message for e in result.logs() if e.level in ("WARNING", "ERROR", "CRITICAL")]
            detail = "; ".join(messages[-3:]) or f"status {result.status.name}"
            raise DeliveryError(f"apprise: {detail}", retryable=_retryable(messages))


def _body(a: Alert) -> str:
    lines = [f"[{a.severity}] {a.title}", a.text]
    lines += [f"{k}: {v}" for k, v in a.fields.items() if v]
    if a.url:
        lines.append(a.url)
    return "\n".join(x for x in lines if x)
