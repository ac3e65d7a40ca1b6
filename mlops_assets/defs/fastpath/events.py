"""What the fast path alerts on, from the parsed tables of the last minute(s) of one host.

``critical_events`` is the ONE swap point for the health rules: when ``lib.health.rules`` is present
(issue 13, interface in /work/notes/INTERFACES.md) its fatal/critical events are used; until then
every NVIDIA Xid line in ``kernel_events`` (kind == "xid", the parser's own classification) is an
event of severity "critical" — no Xid is dropped because its catalog entry is not known yet.
"""

from __future__ import annotations

import importlib
import importlib.util

import pandas as pd

ALERT_SEVERITIES = ("fatal", "critical")
EVENT_COLUMNS = ["ts", "host", "gpu_index", "pci_bus", "component", "code", "severity", "action", "message"]
RULES_MODULE = "mlops_assets.lib.health.rules"


def _xid_events(tables: dict[str, pd.DataFrame], host: str) -> pd.DataFrame:
    kernel = tables.get("kernel_events")
    if kernel is None or kernel.empty:
        return pd.DataFrame(columns=EVENT_COLUMNS)
    xid = kernel[kernel["kind"] == "xid"]
    return pd.DataFrame(
        {
            "ts": xid["ts"],
            "host": host,
            "gpu_index": pd.array([pd.NA] * len(xid), dtype="Int16"),
            "pci_bus": xid["pci_bus"],
            "component": "gpu",
            "code": [f"XID_{int(x)}" if pd.notna(x) else "XID_UNKNOWN" for x in xid["xid"]],
            "severity": "critical",
            "action": "hardware_inspection",
            "message": xid["message"],
        }
    ).reset_index(drop=True)


def rules_available() -> bool:
    package = RULES_MODULE.rsplit(".", 1)[0]
    return (
        importlib.util.find_spec(package) is not None and importlib.util.find_spec(RULES_MODULE) is not None
    )


def critical_events(
    tables: dict[str, pd.DataFrame], host: str, expected_gpus: int | None = None
) -> pd.DataFrame:
    """Fatal/critical health events of ``tables`` (HEALTH_EVENTS-like columns, at least EVENT_COLUMNS)."""
    if not rules_available():
        return _xid_events(tables, host)
    rules = importlib.import_module(RULES_MODULE)  # an error inside the rules module must surface
    events = rules.health_events(tables, host, expected_gpus=expected_gpus)
    return events[events["severity"].isin(ALERT_SEVERITIES)].reset_index(drop=True)
