"""Delivering grouped alerts to every channel with bounded retries and a delivery log.

Guarantees the pipeline relies on: ``deliver`` never raises because a receiver is down (the failure
is returned and written to the delivery log), and it never waits longer than
``max_attempts * timeout + backoff`` per channel. Retries use exponential backoff and only happen for
errors that can heal (timeouts, connection refused, 429, 5xx).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from mlops_assets.notify.channels import Alert, Channel, DeliveryError, accepts

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Delivery:
    """Outcome of sending one group of alerts to one channel (one line of the delivery log)."""

    channel: str
    key: str
    alert_keys: tuple[str, ...]
    status: str  # delivered | failed
    attempts: int
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.status == "delivered"


def group_key(alerts: Sequence[Alert]) -> str:
    """Stable identity of a group: the same alerts give the same key in the log."""
    digest = hashlib.sha256("\n".join(sorted(a.key for a in alerts)).encode("utf-8")).hexdigest()
    return f"group-{digest[:16]}" if len(alerts) > 1 else alerts[0].key


@dataclass
class Notifier:
    channels: list[Channel]
    delivery_log_path: str
    max_attempts: int = 3
    backoff_s: float = 0.5
    sleep: Callable[[float], None] = field(default=time.sleep, repr=False)

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError(f"max_attempts must be >= 1, got {self.max_attempts}")
        names = [c.name for c in self.channels]
        if len(set(names)) != len(names):
            raise ValueError(f"channel names must be unique, got {names}")

    @property
    def channel_names(self) -> list[str]:
        return [c.name for c in self.channels]

    def deliver(self, alerts: Sequence[Alert], only: Sequence[str] | None = None) -> list[Delivery]:
        """Send ``alerts`` as ONE message per channel (restricted to ``only`` when given).

        A channel gets only the alerts it accepts: state updates (``incident_update``) go to the
        channels that track alert state (Alertmanager), not as a second chat message.
        """
        alerts = list(alerts)
        results = []
        for channel in self.channels:
            if only is not None and channel.name not in only:
                continue
            mine = [a for a in alerts if accepts(channel, a)]
            if mine:
                results.append(self._deliver_one(channel, mine))
        return results

    def _deliver_one(self, channel: Channel, alerts: list[Alert]) -> Delivery:
        key = group_key(alerts)
        error: str | None = None
        attempt = 0
        while attempt < self.max_attempts:
            attempt += 1
            try:
                channel.send(alerts)
            except DeliveryError as e:
                error = str(e)
                log.warning("notify %s attempt %d/%d failed: %s", channel.name, attempt, self.max_attempts, e)
                if not e.retryable:
                    break
                if attempt < self.max_attempts:
                    self.sleep(self.backoff_s * (2 ** (attempt - 1)))
                continue
            result = Delivery(channel.name, key, tuple(a.key for a in alerts), "delivered", attempt)
            self._log(result)
            return result
        result = Delivery(channel.name, key, tuple(a.key for a in alerts), "failed", attempt, error)
        self._log(result)
        return result

    def _log(self, d: Delivery) -> None:
        line = {
            "time": datetime.now(UTC).isoformat(),
            "channel": d.channel,
            "key": d.key,
            "alerts": list(d.alert_keys),
            "status": d.status,
            "attempts": d.attempts,
            "error": d.error,
        }
        try:
            Path(self.delivery_log_path).parent.mkdir(parents=True, exist_ok=True)
            with open(self.delivery_log_path, "a", encoding="utf-8") as fh:
                fh.write(json.dumps(line) + "\n")
        except OSError as e:
            # The log is an audit trail; losing it must not turn a delivered alert into a crash.
            log.error("cannot write delivery log %s: %s (entry: %s)", self.delivery_log_path, e, line)


def read_delivery_log(path: str | os.PathLike[str]) -> list[dict[str, object]]:
    """All delivery-log entries (oldest first); missing file -> empty list."""
    p = Path(path)
    if not p.exists():
        return []
    return [json.loads(line) for line in p.read_text(encoding="utf-8").splitlines() if line.strip()]
