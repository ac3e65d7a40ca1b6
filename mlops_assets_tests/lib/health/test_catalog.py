"""The Xid/SXid catalog, table-driven: every entry maps an Xid line to its own code, severity and action."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from mlops_assets.lib.contracts.tables import HEALTH_EVENTS, TABLES, conform, schema_mismatches
from mlops_assets.lib.health.catalog import (
    ACTIONS,
    SEVERITIES,
    SXID_CATALOG,
    XID_CATALOG,
    lookup_sxid,
    lookup_xid,
)
from mlops_assets.lib.health.rules import health_events

T0 = pd.Timestamp("2026-11-02 10:00:05", tz="UTC")


def kernel(*messages: str) -> dict[str, pd.DataFrame]:
    rows = [{"ts": T0 + pd.Timedelta(seconds=i), "host": "h", "message": m} for i, m in enumerate(messages)]
    return {"kernel_events": conform(pd.DataFrame(rows), TABLES["kernel_events"])}


@pytest.mark.parametrize("code", sorted(XID_CATALOG))
def test_every_catalog_xid_line_becomes_its_entry(code: int) -> None:
    entry = XID_CATALOG[code]
    assert entry.severity in SEVERITIES[:4] and entry.action in ACTIONS and entry.meaning
    ev = health_events(kernel(f"NVRM: Xid (PCI:0000:3b:00): {code}, pid=1234, name=python3, details"), "h")
    assert schema_mismatches(ev, HEALTH_EVENTS) == []
    assert ev[["code", "severity", "action", "component", "pci_bus"]].values.tolist() == [
        [f"XID_{code}", entry.severity, entry.action, "gpu", "0000:3b:00"]
    ]
    assert entry.meaning in ev["message"].iloc[0] and json.loads(ev["evidence"].iloc[0])["xid"] == code


@pytest.mark.parametrize("code", sorted(SXID_CATALOG))
def test_every_catalog_sxid_fatal_line_becomes_its_entry(code: int) -> None:
    entry = SXID_CATALOG[code]
    line = f"nvidia-nvswitch3: SXid (PCI:0000:86:00.0): {code}, Fatal, Link 61 {entry.name}"
    ev = health_events(kernel(line), "h")
    assert ev[["code", "severity", "action", "component", "pci_bus"]].values.tolist() == [
        [f"SXID_{code}", entry.severity, entry.action, "network", "0000:86:00"]
    ]


def test_anchors_from_nvidia_and_gpud() -> None:
    """DESIGN.md section 6 anchors: gpud's 43 fatal codes; NVIDIA resets for 46/62/64, app restarts."""
    assert sum(e.severity == "fatal" for e in XID_CATALOG.values()) == 43
    assert {c: XID_CATALOG[c].action for c in (46, 62, 64, 95, 119)} == dict.fromkeys(
        (46, 62, 64, 95, 119), "reset_gpu"
    )
    assert {XID_CATALOG[c].action for c in (13, 31, 43)} == {"restart_app"}
    assert (XID_CATALOG[79].severity, XID_CATALOG[79].action) == ("fatal", "reboot")
    assert (XID_CATALOG[48].severity, XID_CATALOG[63].action) == ("fatal", "reset_gpu")
    assert XID_CATALOG[79].meaning == "GPU has fallen off the bus"
    assert (SXID_CATALOG[20034].severity, SXID_CATALOG[20034].action) == ("fatal", "reboot")


def test_unknown_codes_are_kept_with_severity_unknown() -> None:
    assert lookup_xid(999).severity == "unknown" and lookup_sxid(99999).severity == "unknown"
    ev = health_events(kernel("NVRM: Xid (PCI:0000:3b:00): 999, pid=1, name=x, new code"), "h")
    assert ev[["code", "severity"]].values.tolist() == [["XID_999", "unknown"]]


def test_sxid_continuation_lines_are_not_extra_events_and_stated_non_fatal_downgrades() -> None:
    lines = [
        "nvidia-nvswitch0: SXid (PCI:0000:05:00.0): 20034, Fatal, Link 30 LTSSM Fault Up",
        "nvidia-nvswitch0: SXid (PCI:0000:05:00.0): 20034, Severity 1 Engine instance 60 Sub-engine instance 00",
        "nvidia-nvswitch0: SXid (PCI:0000:05:00.0): 20034, Data {0x10000000, 0x10000000, 0x00000000}",
        "nvidia-nvswitch3: SXid (PCI:0000:05:00.0): 12028, Non-fatal, Link 32 egress non-posted PRIV error (First)",
    ]
    ev = health_events(kernel(*lines), "h")
    assert ev[["code", "severity", "action"]].values.tolist() == [
        ["SXID_20034", "fatal", "reboot"],
        ["SXID_12028", "warning", "none"],
    ]


def test_nvlink5_lines_take_their_stated_severity() -> None:
    fatal = (
        "NVRM: Xid (PCI:0018:01:00): 149, NETIR_LINK_EVT Fatal XC0 i0 Link 08 (0x004505c6 0x00000000 0x0 0x0)"
    )
    nonfatal = "NVRM: Xid (PCI:0018:01:00): 145, RLW_REMAP Nonfatal XC1 i0 Link 08 (0x004505c6 0x00000000)"
    ev = health_events(kernel(fatal, nonfatal), "h").sort_values("code")
    assert ev[["code", "severity", "action"]].values.tolist() == [
        ["XID_145", "warning", "none"],
        ["XID_149", "critical", "reset_gpu"],
    ]
