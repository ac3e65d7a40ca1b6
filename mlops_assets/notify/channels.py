"""Where notifications go: local JSON-lines file (default), Slack incoming webhook, generic JSON webhook.

A channel sends ONE message for a group of alerts (a burst of failures in one sensor tick becomes one
Slack post, not twenty). ``send`` raises :class:`DeliveryError` on failure and says whether retrying
can help (timeouts, 429, 5xx) or not (other 4xx); the :class:`~mlops_assets.notify.notifier.Notifier`
owns retries. HTTP channels redact alert text before it leaves the host.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from mlops_assets.environment import settings
from mlops_assets.lib.triage.redact import cut, redact

log = logging.getLogger(__name__)

SEVERITY_ORDER = {"info": 0, "low": 1, "warning": 2, "medium": 2, "error": 3, "high": 3, "critical": 4}
_SLACK_EMOJI = {
    "critical": ":rotating_light:",
    "high": ":red_circle:",
    "error": ":red_circle:",
    "warning": ":warning:",
}


@dataclass(frozen=True)
class Alert:
    """One thing worth telling a human about; ``key`` identifies it for dedupe and the delivery log."""

    key: str
    kind: str  # check_failed | run_failed | incident
    title: str
    text: str
    severity: str = "error"
    url: str | None = None
    fields: dict[str, str] = field(default_factory=dict)
    # Alertmanager-style identity and lifetime: labels name the alert (host, gpu, severity ...);
    # starts_at / ends_at are RFC 3339 UTC; ends_at is when the alert resolves (None: still open)
    labels: dict[str, str] = field(default_factory=dict)
    starts_at: str | None = None
    ends_at: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Alert:
        return cls(**{k: d[k] for k in _ALERT_FIELDS if k in d})


_ALERT_FIELDS = (
    "key",
    "kind",
    "title",
    "text",
    "severity",
    "url",
    "fields",
    "labels",
    "starts_at",
    "ends_at",
)


class DeliveryError(RuntimeError):
    """A channel could not deliver; ``retryable`` says whether another attempt may succeed."""

    def __init__(self, message: str, *, retryable: bool) -> None:
        super().__init__(message)
        self.retryable = retryable


class Channel(Protocol):
    name: str

    def send(self, alerts: list[Alert]) -> None: ...


def accepts(channel: Channel, alert: Alert) -> bool:
    """Resolution/update messages (``incident_update``) only go to channels that track alert state."""
    return alert.kind != "incident_update" or bool(getattr(channel, "tracks_state", False))


def redacted(alert: Alert, *, ips: bool, hostnames: bool) -> Alert:
    def r(s: str) -> str:
        return redact(s, ips=ips, hostnames=hostnames)

    return Alert(
        key=alert.key,
        kind=alert.kind,
        title=r(alert.title),
        text=r(alert.text),
        severity=alert.severity,
        url=alert.url,
        fields={k: r(v) for k, v in alert.fields.items()},
        labels={k: r(v) for k, v in alert.labels.items()},
        starts_at=alert.starts_at,
        ends_at=alert.ends_at,
    )


def group_title(alerts: list[Alert]) -> str:
    if len(alerts) == 1:
        return alerts[0].title
    kinds = sorted({a.kind for a in alerts})
    return f"{len(alerts)} alerts ({', '.join(kinds)})"


def post_json(url: str, payload: Any, timeout_s: float) -> None:
    body = json.dumps(payload).encode("utf-8")
    req = urllib.request.Request(url, data=body, method="POST", headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=timeout_s) as resp:
            resp.read(65536)
    except urllib.error.HTTPError as e:
        retryable = e.code in (408, 429) or e.code >= 500
        raise DeliveryError(f"HTTP {e.code} {e.reason}", retryable=retryable) from e
    except (urllib.error.URLError, TimeoutError, ConnectionError, OSError) as e:
        reason = getattr(e, "reason", e)
        raise DeliveryError(f"{type(e).__name__}: {reason}", retryable=True) from e


@dataclass
class FileChannel:
    """Appends one JSON line per message to a local file and logs it: works with zero setup."""

    path: str
    name: str = "file"
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def send(self, alerts: list[Alert]) -> None:
        record = {
            "time": datetime.now(UTC).isoformat(),
            "title": group_title(alerts),
            "alerts": [a.to_dict() for a in alerts],
        }
        try:
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
            with self._lock, open(self.path, "a", encoding="utf-8") as fh:
                fh.write(json.dumps(record) + "\n")
        except OSError as e:
            raise DeliveryError(f"cannot append to {self.path}: {e}", retryable=False) from e
        for a in alerts:
            log.warning("[%s] %s: %s", a.severity, a.title, a.text.splitlines()[0] if a.text else "")


@dataclass
class WebhookChannel:
    """Generic JSON webhook: ``{"title", "alerts": [...]}``; for Alertmanager-like receivers or n8n."""

    url: str
    timeout_s: float = 5.0
    redact_ips: bool = False
    redact_hostnames: bool = False
    name: str = "webhook"

    def send(self, alerts: list[Alert]) -> None:
        safe = [redacted(a, ips=self.redact_ips, hostnames=self.redact_hostnames) for a in alerts]
        payload = {"title": group_title(safe), "count": len(safe), "alerts": [a.to_dict() for a in safe]}
        post_json(self.url, payload, self.timeout_s)


@dataclass
class SlackChannel:
    """Slack incoming webhook with Block Kit sections (``text`` is the notification fallback)."""

    url: str
    timeout_s: float = 5.0
    redact_ips: bool = False
    redact_hostnames: bool = False
    max_blocks: int = 40  # Slack rejects messages with more than 50 blocks
    name: str = "slack"

    def send(self, alerts: list[Alert]) -> None:
        safe = [redacted(a, ips=self.redact_ips, hostnames=self.redact_hostnames) for a in alerts]
        post_json(self.url, slack_payload(safe, self.max_blocks), self.timeout_s)


def slack_payload(alerts: list[Alert], max_blocks: int = 40) -> dict[str, Any]:
    """Block Kit message of alerts that are ALREADY redacted (SlackChannel.send does it first)."""
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": cut(group_title(alerts), 150)}}
    ]
    shown = alerts[: max(1, (max_blocks - 2) // 2)]
    for a in shown:
        title = f"<{a.url}|{a.title}>" if a.url else a.title
        body = cut(f"{_SLACK_EMOJI.get(a.severity, ':information_source:')} *{title}*\n{a.text}", 2900)
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": body}})
        if a.fields:
            ctx = cut(" | ".join(f"*{k}*: {v}" for k, v in a.fields.items()), 2900)
            blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": ctx}]})
    if len(alerts) > len(shown):
        more = f"... and {len(alerts) - len(shown)} more (see notifications.jsonl on the Dagster host)"
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": more}]})
    return {"text": group_title(alerts), "blocks": blocks}


def default_notifications_path() -> str:
    """``<MLOPS_HOME>/notifications.jsonl`` (the same home as the rest of the local state)."""
    return os.path.join(settings().home, "notifications.jsonl")
