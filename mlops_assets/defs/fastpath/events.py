"""What the fast path alerts on, from the parsed tables of the last minute(s) of one host: the fatal and
critical events of the same health rules the hourly ``health_events`` asset runs (lib/health)."""

from __future__ import annotations

import pandas as pd

from mlops_assets.lib.health.rules import health_events

ALERT_SEVERITIES = ("fatal", "critical")


def critical_events(
    tables: dict[str, pd.DataFrame], host: str, expected_gpus: int | None = None
) -> pd.DataFrame:
    """Fatal/critical HEALTH_EVENTS rows of ``tables``."""
    events = health_events(tables, host, expected_gpus=expected_gpus)
    return events[events["severity"].isin(ALERT_SEVERITIES)].reset_index(drop=True)
