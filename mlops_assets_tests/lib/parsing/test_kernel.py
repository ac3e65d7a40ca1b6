"""Kernel events: kinds, Xid fields, every timestamp form, relative times, continuation lines."""

from __future__ import annotations

import json
from datetime import datetime

import pandas as pd

from mlops_assets.lib.contracts.tables import KERNEL_EVENTS, schema_mismatches
from mlops_assets.lib.parsing.kernel import classify, parse_kernel

XID = "NVRM: Xid (PCI:0000:3b:00): 79, pid=1234, name=python, GPU has fallen off the bus."


def test_classify_kinds() -> None:
    assert classify(XID) == {"kind": "xid", "xid": 79, "pci_bus": "0000:3b:00", "pid": 1234}
    assert (
        classify("NVRM: Xid (PCI:0000:38:00): 13, pid='<unknown>', name=<unknown>, Graphics")["pid"] is None
    )
    oom = classify("Out of memory: Killed process 4321 (python) total-vm:1kB")
    assert (oom["kind"], oom["pid"]) == ("oom", 4321)
    assert classify("Memory cgroup out of memory: Killed process 77 (x)")["kind"] == "oom"
    hung = classify("INFO: task kworker/3:1:918 blocked for more than 120 seconds.")
    assert (hung["kind"], hung["pid"]) == ("hung_task", 918)
    assert classify("NVRM: GPU 0000:3b:00.0: GPU has fallen off the bus.")["kind"] == "nvrm"
    assert classify("usb 1-2: new device")["kind"] == "other"


def test_journal_json_kernel_lines() -> None:
    line = {
        "__REALTIME_TIMESTAMP": "1795000000000000",
        "MESSAGE": XID,
        "_TRANSPORT": "kernel",
        "PRIORITY": "3",
    }
    data = (json.dumps(line) + "\n{oops\n").encode()
    r = parse_kernel(data, "gpu-01")
    assert schema_mismatches(r.table, KERNEL_EVENTS) == []
    assert r.table[["kind", "xid", "pci_bus", "pid", "host"]].values.tolist() == [
        ["xid", 79, "0000:3b:00", 1234, "gpu-01"]
    ]
    assert r.reasons == {"invalid_json": 1} and r.quarantine["source"].tolist() == ["kernel"]


def test_text_forms_and_timezones() -> None:
    data = (
        "kern  :warn  : 2025-01-21T02:21:33,498559+00:00 " + XID + "\n"
        "2025-01-21T10:21:34,000000+08:00 oom-kill:constraint=CONSTRAINT_NONE,task=python,pid=55\n"
        "2025-01-02T15:20:12+0800 node-7 kernel: docker0: port 1 entered disabled state\n"
        "[Sun Feb 23 16:24:18 2025] NVRM: GPU at PCI:0000:9b:00: GPU-5096\n"
        "[Feb 25 2025 13:59:45] [INFO] [tid 1803] Received an inband message:\n"
        "Message payload details: Team release request\n"
    ).encode()
    r = parse_kernel(data, "h")
    assert r.table["ts"].tolist() == [
        pd.Timestamp("2025-01-21 02:21:33.498559", tz="UTC"),
        pd.Timestamp("2025-01-21 02:21:34", tz="UTC"),
        pd.Timestamp("2025-01-02 07:20:12", tz="UTC"),
        pd.Timestamp("2025-02-23 16:24:18", tz="UTC"),
        pd.Timestamp("2025-02-25 13:59:45", tz="UTC"),
    ]
    assert r.table["kind"].tolist() == ["xid", "oom", "other", "nvrm", "other"]
    assert r.table["pid"].iloc[1] == 55
    assert r.table["message"].iloc[2] == "docker0: port 1 entered disabled state"
    assert r.table["message"].iloc[4].endswith("\nMessage payload details: Team release request")
    assert r.skipped == 1 and r.notes["continuation_lines"] == 1 and "UTC" in r.notes["timezone"]


def test_relative_times_need_boot_time() -> None:
    data = b"6,3964,206764307,-;nvidia-nvswitch2: open\n SUBSYSTEM=pci\n<6>[    2.608284] mlx5_core up\n"
    without = parse_kernel(data, "h")
    assert without.table.empty and without.reasons == {"relative_timestamp_only": 2} and without.skipped == 1
    boot = datetime(2025, 1, 1)
    r = parse_kernel(data, "h", boot_time=boot)
    assert r.table["ts"].tolist() == [
        pd.Timestamp("2025-01-01", tz="UTC") + pd.Timedelta(microseconds=206764307),
        pd.Timestamp("2025-01-01", tz="UTC") + pd.Timedelta(seconds=2.608284),
    ]
    assert r.table["message"].iloc[0] == "nvidia-nvswitch2: open\nSUBSYSTEM=pci"


def test_lines_without_any_timestamp_before_a_record_are_quarantined() -> None:
    r = parse_kernel(b"just text\n# comment\ndmesg-erst-1:\nPanic#1 Part1\n\n", "h")
    assert r.reasons == {"no_timestamp": 1} and r.skipped == 4 and r.records_in == 5
