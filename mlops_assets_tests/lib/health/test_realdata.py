"""Every Xid line of the real kernel samples maps to its catalog entry, counted per file with an
independent regex; real host failure lines fire their rules."""

from __future__ import annotations

import re
from collections import Counter
from datetime import UTC, datetime

import pytest

from mlops_assets.lib.health.catalog import lookup_xid
from mlops_assets.lib.health.rules import health_events
from mlops_assets.lib.parsing.kernel import parse_kernel
from mlops_assets_tests.realdata import realdata_dir

INDEPENDENT_XID = re.compile(r"NVRM: Xid \(PCI:[0-9a-f:]+\): (\d+),")
KERNEL_FILES = (
    "leptonai_gpud__dmesg-time-format-short-iso.log",
    "leptonai_gpud__dmesg-with-xid-119.log",
    "leptonai_gpud__dmesg.0.ctime.log",
    "leptonai_gpud__dmesg.decode.iso.log.0__xid13_xid43.log",
    "leptonai_gpud__fabricmanager.log",
    "leptonai_gpud__kmsg.1.log",
    "leptonai_gpud__pstore_dmesg_panic.txt",
)
# what the files hold (read by eye once; the test recounts them independently every run)
EXPECTED_XIDS = {
    "leptonai_gpud__dmesg-with-xid-119.log": {119: 5},
    "leptonai_gpud__dmesg.decode.iso.log.0__xid13_xid43.log": {13: 629, 43: 7},
}


@pytest.mark.parametrize("name", KERNEL_FILES)
def test_every_real_xid_line_maps_to_its_catalog_entry(name: str) -> None:
    data = (realdata_dir("kernel_dmesg") / name).read_bytes()
    lines = data.decode("utf-8", "replace").splitlines()
    expected = Counter(int(m.group(1)) for ln in lines if (m := INDEPENDENT_XID.search(ln)))
    assert dict(expected) == EXPECTED_XIDS.get(name, {})
    parsed = parse_kernel(data, "h", boot_time=datetime(2025, 1, 1, tzinfo=UTC))
    ev = health_events({"kernel_events": parsed.table}, "h")
    xid = ev[ev["code"].str.startswith("XID_")]
    assert Counter(int(c[4:]) for c in xid["code"]) == expected
    for code, severity, action in xid[["code", "severity", "action"]].drop_duplicates().values:
        entry = lookup_xid(int(code[4:]))
        assert (severity, action) == (entry.severity, entry.action)
    assert set(xid["pci_bus"]) <= {"0000:9b:00", "0000:38:00"}


def test_real_samples_fire_the_host_rules_they_contain() -> None:
    root = realdata_dir("kernel_dmesg")
    panic = parse_kernel(
        (root / "leptonai_gpud__pstore_dmesg_panic.txt").read_bytes(),
        "h",
        boot_time=datetime(2025, 1, 1, tzinfo=UTC),
    )
    ev = health_events({"kernel_events": panic.table}, "h")
    assert ev[["code", "severity", "action"]].values.tolist() == [["KERNEL_PANIC", "fatal", "reboot"]]
    fm = parse_kernel((root / "leptonai_gpud__fabricmanager.log").read_bytes(), "h")
    ev = health_events({"kernel_events": fm.table}, "h")
    assert ev[["code", "component", "pci_bus", "severity"]].values.tolist() == [
        ["SXID_12028", "network", "0000:86:00", "warning"]
    ]
    # a full boot log of a healthy GPU host (and docker/veth chatter) raises nothing
    for quiet in ("leptonai_gpud__dmesg.0.ctime.log", "leptonai_gpud__dmesg-time-format-short-iso.log"):
        assert health_events(
            {"kernel_events": parse_kernel((root / quiet).read_bytes(), "h").table}, "h"
        ).empty


def test_xid_119_burst_names_the_gpu_from_the_driver_line() -> None:
    """The driver prints "NVRM: GPU at PCI:0000:9b:00: GPU-5096..." before the Xid: the uuid joins."""
    data = (realdata_dir("kernel_dmesg") / "leptonai_gpud__dmesg-with-xid-119.log").read_bytes()
    ev = health_events({"kernel_events": parse_kernel(data, "h").table}, "h")
    assert set(ev["gpu_uuid"]) == {"GPU-509665ad-b600-ac93-3616-d754b23d636d"}
    assert "Xid 119 (GSP_RPC_TIMEOUT)" in ev["message"].iloc[0]
