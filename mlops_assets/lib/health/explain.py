"""The triage hypothesis of a health incident: names the GPU, the code, its meaning and the action.

Used by the rule-based triage (lib/triage/rules.py) so that a health incident's summary reads like
"GPU 3 (GPU-..., PCI 0000:3b:00) raised Xid 79 ...: reboot" rather than a keyword guess.
"""

from __future__ import annotations

import re
from typing import Any

from mlops_assets.lib.health.catalog import ACTION_TEXT, lookup_sxid, lookup_xid

HEALTH_LIKELIHOOD = 0.95  # a deterministic catalog match outranks every keyword hypothesis
_CODE_RE = re.compile(r"^(S?XID)_(\d+)$")


def gpu_words(gpu: dict[str, Any] | None) -> str:
    gpu = gpu or {}
    index, uuid, pci = gpu.get("index"), gpu.get("uuid"), gpu.get("pci_bus")
    if index is None and not uuid and not pci:
        return "the host"
    head = f"GPU {index}" if index is not None else "GPU (index unknown)"
    details = [x for x in (uuid, f"PCI {pci}" if pci else None) if x]
    return head + (f" ({', '.join(details)})" if details else "")


def code_words(code: str) -> str:
    """'Xid 79 (ROBUST_CHANNEL_GPU_HAS_FALLEN_OFF_THE_BUS: GPU has fallen off the bus)' for catalog codes."""
    m = _CODE_RE.match(code or "")
    if not m:
        return code
    entry = lookup_xid(int(m.group(2))) if m.group(1) == "XID" else lookup_sxid(int(m.group(2)))
    return f"{entry.label} ({entry.name}: {entry.meaning})"


def health_hypothesis(evidence: dict[str, Any]) -> dict[str, Any] | None:
    """Hypothesis dict (triage schema) for a health incident's evidence; None for other incidents."""
    if evidence.get("layer") != "health" or not evidence.get("code"):
        return None
    code, action = str(evidence["code"]), str(evidence.get("action") or "none")
    where = gpu_words(evidence.get("gpu") if isinstance(evidence.get("gpu"), dict) else None)
    escalated = " It came back after two reboots, so it was escalated." if evidence.get("escalated") else ""
    return {
        "cause": f"{where} raised {code_words(code)} [health rule {code}]",
        "likelihood": HEALTH_LIKELIHOOD,
        "impact": f"{evidence.get('meaning') or code}.{escalated}",
        "immediate_actions": [
            f"Action {action} on {where}: {ACTION_TEXT.get(action, action)}",
            "Read the evidence lines of the incident (kernel/nvidia-smi) before acting",
        ],
        "prevention": [
            "Track repeats of this code per GPU; a code that survives reboots needs hardware inspection",
        ],
    }
