"""Escalation across boots (gpud's rule), health incidents, and the health count features."""

from __future__ import annotations

import json

import pandas as pd

from mlops_assets.lib.contracts.tables import HEALTH_EVENTS, INCIDENTS, TABLES, conform, schema_mismatches
from mlops_assets.lib.features.registry import FEATURE_BY_NAME
from mlops_assets.lib.health.escalation import escalate
from mlops_assets.lib.health.features import HEALTH_FEATURE_NAMES, health_window_features
from mlops_assets.lib.health.incidents import health_incidents
from mlops_assets.lib.health.rules import health_events
from mlops_assets.lib.triage.hypotheses import rules_triage

T0 = pd.Timestamp("2026-11-02 10:00:00", tz="UTC")
XID79 = "NVRM: Xid (PCI:0000:3b:00): 79, pid=7, name=python3, GPU has fallen off the bus."


def boot_events(boot: str, at: pd.Timestamp, line: str = XID79) -> pd.DataFrame:
    k = conform(pd.DataFrame([{"ts": at, "host": "h", "message": line}]), TABLES["kernel_events"])
    j = conform(
        pd.DataFrame(
            [
                {
                    "ts": at - pd.Timedelta(minutes=5),
                    "host": "h",
                    "identifier": "systemd",
                    "message": "Started Session 1 of user ops.",
                    "boot_id": boot,
                }
            ]
        ),
        TABLES["journal_entries"],
    )
    return health_events({"kernel_events": k, "journal_entries": j}, "h")


def test_same_xid_after_two_reboots_escalates_to_hardware_inspection() -> None:
    first = boot_events("boot-a", T0)
    assert first[["code", "action", "boot_id"]].values.tolist() == [["XID_79", "reboot", "boot-a"]]
    second = escalate(boot_events("boot-b", T0 + pd.Timedelta(days=1)), first)
    assert second["action"].tolist() == ["reboot"]  # one reboot: rebooting is still the action
    history = pd.concat([first, second], ignore_index=True)
    third = escalate(boot_events("boot-c", T0 + pd.Timedelta(days=2)), history)
    assert third["action"].tolist() == ["hardware_inspection"]
    assert json.loads(third["evidence"].iloc[0])["escalated_after_reboots"] == 2
    assert "escalated to hardware inspection" in third["message"].iloc[0]
    # an app-level Xid is not escalated (restarting the app is the catalog's answer)
    app = "NVRM: Xid (PCI:0000:3b:00): 13, pid=7, name=x, Graphics SM Warp Exception"
    hist13 = pd.concat(
        [boot_events("boot-a", T0, app), boot_events("boot-b", T0 + pd.Timedelta(days=1), app)]
    )
    assert escalate(boot_events("boot-c", T0 + pd.Timedelta(days=2), app), hist13)["action"].tolist() == [
        "restart_app"
    ]
    # the same boot seen again is not a reboot
    assert escalate(boot_events("boot-a", T0 + pd.Timedelta(hours=1)), first)["action"].tolist() == ["reboot"]


def burst() -> pd.DataFrame:
    k = conform(
        pd.DataFrame(
            [{"ts": T0 + pd.Timedelta(seconds=s), "host": "h", "message": XID79} for s in (5, 20, 50, 400)]
            + [{"ts": T0 + pd.Timedelta(hours=0, minutes=40), "host": "h", "message": XID79}]
            + [
                {
                    "ts": T0 + pd.Timedelta(seconds=8),
                    "host": "h",
                    "message": "NVRM: Xid (PCI:0000:3b:00): 13, pid=1, name=x, Graphics Exception",
                }
            ]
        ),
        TABLES["kernel_events"],
    )
    samples = conform(
        pd.DataFrame(
            [{"ts": T0, "host": "h", "gpu_index": 3, "gpu_uuid": "GPU-3", "pci_bus": "00000000:3B:00.0"}]
        ),
        TABLES["gpu_samples"],
    ).assign(pci_bus="00000000:3B:00.0")
    return health_events({"kernel_events": k, "gpu_samples": samples}, "h")


def test_fatal_and_critical_events_become_health_incidents_per_gpu_code_burst() -> None:
    events = burst()
    assert schema_mismatches(events, HEALTH_EVENTS) == []
    inc = health_incidents(events)
    assert schema_mismatches(inc, INCIDENTS) == []
    assert len(inc) == 2  # two bursts of Xid 79 (gap 34 min); the warning-level Xid 13 is not an incident
    first = inc.sort_values("start").iloc[0]
    assert (first["layer"], first["kind"], first["action"], first["severity"]) == (
        "health",
        "XID_79",
        "reboot",
        "critical",
    )
    assert (first["gpu_index"], first["gpu_uuid"], first["pci_bus"]) == (3, "GPU-3", "0000:3b:00")
    assert first["start"] == T0 and first["windows"] == 2 and pd.isna(first["max_score"])
    assert pd.isna(first["model_version"]) and first["sources"] == "kernel"
    evidence = json.loads(first["evidence"])
    assert evidence["events"] == 4 and evidence["gpu"] == {
        "index": 3,
        "uuid": "GPU-3",
        "pci_bus": "0000:3b:00",
    }
    triage = rules_triage(evidence)
    top = triage.hypotheses[0]
    assert top.cause.startswith(
        "GPU 3 (GPU-3, PCI 0000:3b:00) raised Xid 79 (ROBUST_CHANNEL_GPU_HAS_FALLEN_OFF_THE_BUS"
    )
    assert top.immediate_actions[0].startswith("Action reboot on GPU 3")
    assert "Xid 79" in triage.summary and "GPU 3" in triage.summary and "reboot" in triage.summary
    assert health_incidents(events)["incident_id"].tolist() == inc["incident_id"].tolist()  # stable ids


def test_health_counts_by_component_and_severity_are_registered_features() -> None:
    events = burst()
    feats = health_window_features(events, "h", T0, T0 + pd.Timedelta(hours=1))
    assert (
        len(feats) == 60 and feats["health_gpu_fatal"].sum() == 5 and feats["health_gpu_warning"].sum() == 1
    )
    assert feats.loc[0, "health_gpu_fatal"] == 3 and feats.loc[0, "health_gpu_warning"] == 1
    for name in HEALTH_FEATURE_NAMES:
        f = FEATURE_BY_NAME[name]
        assert (f.unit, f.worse, f.source) == ("count", "up", "health") and f.description
