"""The health catalog: what an Xid / SXid code means, how bad it is and what to do about it.

Tables live in ``xid_table.py`` / ``sxid_table.py`` (sources and derivation documented there). A code
that is not in the catalog is never dropped: :func:`lookup_xid` returns an entry with severity
``unknown`` so the event is still recorded, counted and shown.
"""

from __future__ import annotations

from dataclasses import dataclass

from mlops_assets.lib.health.sxid_table import SXID_ROWS
from mlops_assets.lib.health.xid_table import XID_ROWS

SEVERITIES = ("fatal", "critical", "warning", "info", "unknown")
ACTIONS = (
    "none",
    "restart_app",
    "reset_gpu",
    "reboot",
    "hardware_inspection",
    "check_service",
    "free_disk",
)
# Strength of an action: an incident made of several events takes the strongest one.
ACTION_RANK = {a: i for i, a in enumerate(ACTIONS)}
ACTION_RANK["check_service"] = ACTION_RANK["free_disk"] = ACTION_RANK["restart_app"]
SEVERITY_RANK = {"unknown": 1, "info": 0, "warning": 2, "critical": 3, "fatal": 4}

# What each action means on a GPU host, in words an on-call engineer can follow.
ACTION_TEXT: dict[str, str] = {
    "none": "no action needed; keep watching for a follow-up code",
    "restart_app": "restart the affected application or container (its CUDA context is gone); "
    "check it for bugs if the code repeats",
    "reset_gpu": "drain the GPU, then reset it (`nvidia-smi -r -i <index>`) or reboot if the reset fails",
    "reboot": "drain the node and reboot it",
    "hardware_inspection": "drain the node and have the hardware inspected (collect `nvidia-bug-report.sh`"
    " first; RMA if it repeats)",
    "check_service": "inspect the unit or container logs before the failure and fix its configuration",
    "free_disk": "free disk space on the full filesystem (logs, images, checkpoints)",
}


@dataclass(frozen=True)
class XidEntry:
    """One catalog entry. ``name`` is NVIDIA's mnemonic (Xid) or short name (SXid)."""

    code: int
    name: str
    meaning: str
    severity: str
    action: str
    component: str = "gpu"

    @property
    def label(self) -> str:
        return f"{'SXid' if self.component == 'network' else 'Xid'} {self.code}"


def _check(entry: XidEntry) -> XidEntry:
    if entry.severity not in SEVERITIES or entry.action not in ACTIONS:
        raise ValueError(f"catalog row {entry} uses a severity/action outside the contract vocabulary")
    return entry


XID_CATALOG: dict[int, XidEntry] = {
    code: _check(XidEntry(code, name, meaning, sev, act, "gpu")) for code, name, meaning, sev, act in XID_ROWS
}
# NVSwitch errors belong to the NVLink fabric, not to one GPU.
SXID_CATALOG: dict[int, XidEntry] = {
    code: _check(XidEntry(code, name, name, sev, act, "network")) for code, name, sev, act in SXID_ROWS
}


def lookup_xid(code: int) -> XidEntry:
    """The catalog entry of an Xid code; unknown codes get severity ``unknown`` (never dropped)."""
    hit = XID_CATALOG.get(int(code))
    if hit is not None:
        return hit
    return XidEntry(
        int(code),
        "UNKNOWN_XID",
        f"Xid {code} is not in the catalog (newer driver?): look it up in NVIDIA's Xid catalog",
        "unknown",
        "hardware_inspection",
        "gpu",
    )


def lookup_sxid(code: int) -> XidEntry:
    """The catalog entry of an NVSwitch SXid code; unknown codes get severity ``unknown``."""
    hit = SXID_CATALOG.get(int(code))
    if hit is not None:
        return hit
    return XidEntry(
        int(code),
        "UNKNOWN_SXID",
        f"SXid {code} is not in the catalog: look it up in the Fabric Manager user guide",
        "unknown",
        "hardware_inspection",
        "network",
    )
