"""Simulator: determinism, labels, raw-format validity, and each fault's signature in its window."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest

from mlops_assets.lib.contracts.raw import GPU_QUERY_FIELDS
from mlops_assets.simulate import FAULT_KINDS, FaultSpec, default_schedule, read_labels, simulate
from mlops_assets.simulate.schedule import GAP_MINUTES, LONG_KINDS, MAX_MINUTES, MIN_MINUTES

START = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)
HOST = "gpu-node-01"
GPUS = 4


def _faults() -> list[FaultSpec]:
    """Every kind once on one host, 10 minutes each, 35 minutes apart, during the working day."""
    gpu_of = {"fan_failure": 3, "xid79_fell_off_bus": 0, "ecc_errors": 1}
    out = []
    for i, kind in enumerate(FAULT_KINDS):
        s = START + timedelta(minutes=20 + 35 * i)
        out.append(FaultSpec(HOST, kind, s, s + timedelta(minutes=10), gpu_of.get(kind)))
    return out


FAULTS = {f.kind: f for f in _faults()}


def _run(out: Path, seed: int = 3) -> None:
    simulate(out, hosts=1, gpus=GPUS, hours=6, seed=seed, start=START, gpu_interval_s=10, faults=_faults())


@pytest.fixture(scope="module")
def sim(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("sim")
    _run(out)
    return out


@pytest.fixture(scope="module")
def gpu(sim: Path) -> pd.DataFrame:
    lines = (sim / HOST / "nvidia-smi.csv").read_text().splitlines()
    rows = [line.split(", ") for line in lines[1:] if not line.startswith("Unable")]
    df = pd.DataFrame(rows, columns=[c.strip() for c in lines[0].split(", ")])
    df["ts"] = pd.to_datetime(df["timestamp"], format="%Y/%m/%d %H:%M:%S.%f", utc=True)
    for col in ("index", "temperature.gpu", "fan.speed [%]", "ecc.errors.uncorrected.volatile.total"):
        df[col] = df[col].astype(int)
    df["power.limit [W]"] = df["power.limit [W]"].astype(float)
    df["reasons"] = df["clocks_event_reasons.active"].map(lambda s: int(s, 16))
    return df


def _journal(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def _ts_us(entry: dict) -> datetime:
    return datetime.fromtimestamp(int(entry["__REALTIME_TIMESTAMP"]) / 1e6, tz=UTC)


def _inside(ts: datetime, f: FaultSpec) -> bool:
    return f.start <= ts < f.end


def _events(sim: Path) -> list[dict]:
    return [json.loads(line) for line in (sim / HOST / "docker/events.json").read_text().splitlines()]


def _ev_ts(e: dict) -> datetime:
    return datetime.fromtimestamp(e["timeNano"] / 1e9, tz=UTC)


def _docker_lines(sim: Path, name: str) -> list[tuple[datetime, str]]:
    out = []
    for line in (sim / HOST / "docker/logs" / name).read_text().splitlines():
        stamp, _, msg = line.partition(" ")
        out.append((datetime.fromisoformat(stamp[:26] + "+00:00"), msg))
    return out


def test_same_seed_is_byte_identical_and_other_seed_differs(sim: Path, tmp_path: Path) -> None:
    _run(tmp_path / "again")
    _run(tmp_path / "other", seed=4)
    files = sorted(p.relative_to(sim) for p in sim.rglob("*") if p.is_file())
    assert len(files) == 1 + 5 + 10  # labels + 5 host files + 5 containers x 2 streams
    for rel in files:
        assert (sim / rel).read_bytes() == (tmp_path / "again" / rel).read_bytes(), rel
    assert (sim / HOST / "journal.json").read_bytes() != (
        tmp_path / "other" / HOST / "journal.json"
    ).read_bytes()


def test_default_schedule_is_seeded_complete_and_spaced() -> None:
    hosts = ["gpu-node-01", "gpu-node-02"]
    a = default_schedule(hosts, 8, START, 24, seed=7)
    assert a == default_schedule(hosts, 8, START, 24, seed=7)
    assert [(f.host, f.kind, f.start) for f in a] != [
        (f.host, f.kind, f.start) for f in default_schedule(hosts, 8, START, 24, seed=8)
    ]
    assert sorted(f.kind for f in a) == sorted(FAULT_KINDS)
    assert [f.host for f in a if f.kind == "fan_failure"] == ["gpu-node-01"]
    for host in hosts:
        mine = sorted((f for f in a if f.host == host), key=lambda f: f.start)
        for f in mine:
            lo, hi = LONG_KINDS.get(f.kind, (MIN_MINUTES, MAX_MINUTES))
            assert timedelta(minutes=lo) <= f.end - f.start <= timedelta(minutes=hi)
            assert START <= f.start and f.end <= START + timedelta(hours=24)
        for x, y in zip(mine, mine[1:], strict=False):
            assert y.start - x.end >= timedelta(minutes=GAP_MINUTES)


def test_labels_match_schedule(sim: Path) -> None:
    labels = read_labels(sim / "labels.csv")
    assert list(labels.columns) == ["host", "start", "end", "fault", "sources"]
    assert str(labels["start"].dtype) == "datetime64[ns, UTC]"
    got = {(r.fault, r.start.to_pydatetime(), r.end.to_pydatetime(), r.sources) for r in labels.itertuples()}
    assert got == {(f.kind, f.start, f.end, ";".join(f.sources)) for f in _faults()}


def test_unknown_or_overlapping_faults_are_refused(tmp_path: Path) -> None:
    bad = FaultSpec(HOST, "meteor_strike", START, START + timedelta(minutes=5))
    with pytest.raises(ValueError, match="unknown fault kind"):
        simulate(tmp_path, hosts=1, gpus=2, hours=1, start=START, faults=[bad])
    a = FaultSpec(HOST, "disk_full", START, START + timedelta(minutes=10))
    with pytest.raises(ValueError, match="overlap"):
        simulate(
            tmp_path,
            hosts=1,
            gpus=2,
            hours=1,
            start=START,
            faults=[a, FaultSpec(HOST, "ssh_bruteforce", START, START + timedelta(minutes=5))],
        )


def test_journal_lines_are_journalctl_json(sim: Path) -> None:
    entries = _journal(sim / HOST / "journal.json")
    cursor = re.compile(r"^s=[0-9a-f]{32};i=[0-9a-f]+;b=[0-9a-f]{32};m=[0-9a-f]+;t=[0-9a-f]+;x=[0-9a-f]{16}$")
    assert len(entries) > 1000
    for e in entries:
        assert cursor.match(e["__CURSOR"])
        for key in (
            "__REALTIME_TIMESTAMP",
            "__MONOTONIC_TIMESTAMP",
            "_BOOT_ID",
            "_HOSTNAME",
            "PRIORITY",
            "SYSLOG_IDENTIFIER",
            "_TRANSPORT",
        ):
            assert isinstance(e[key], str), key
        assert e["MESSAGE"] is None or isinstance(e["MESSAGE"], str | list)
    stamps = [int(e["__REALTIME_TIMESTAMP"]) for e in entries]
    assert stamps == sorted(stamps)
    assert any(isinstance(e["MESSAGE"], list) for e in entries)  # ANSI-coloured backup status
    kernel = _journal(sim / HOST / "kernel.json")
    assert kernel and all(e["_TRANSPORT"] == "kernel" and e["SYSLOG_IDENTIFIER"] == "kernel" for e in kernel)


def test_nvidia_smi_rows_have_every_field(sim: Path) -> None:
    lines = (sim / HOST / "nvidia-smi.csv").read_text().splitlines()
    assert lines[0].startswith(
        "timestamp, index, uuid, name, pci.bus_id, temperature.gpu, utilization.gpu [%]"
    )
    for line in lines[1:]:
        if not line.startswith("Unable to determine the device handle"):
            assert len(line.split(", ")) == len(GPU_QUERY_FIELDS), line


def test_xid79_gpu_falls_off_bus_only_in_window(sim: Path, gpu: pd.DataFrame) -> None:
    f = FAULTS["xid79_fell_off_bus"]
    xid = [e for e in _journal(sim / HOST / "kernel.json") if "): 79, pid=" in e["MESSAGE"]]
    assert xid and all(_inside(_ts_us(e), f) for e in xid)
    assert "GPU has fallen off the bus" in xid[0]["MESSAGE"] and "PCI:0000:18:00" in xid[0]["MESSAGE"]
    in_win = gpu[(gpu["ts"] >= f.start) & (gpu["ts"] < f.end)]
    assert (in_win["index"] != 0).all() and len(in_win) > 0
    assert ((gpu["index"] == 0) & (gpu["ts"] >= f.end)).any()
    assert (
        "Unable to determine the device handle for GPU 00000000:18:00.0: Unknown Error"
        in (sim / HOST / "nvidia-smi.csv").read_text()
    )
    cuda = [t for t, m in _docker_lines(sim, "vllm.stderr") if "CUDA error: unspecified launch failure" in m]
    assert cuda and all(_inside(t, f) for t in cuda)
    assert any(
        e["Action"] == "die" and e["Actor"]["Attributes"]["exitCode"] == "1" and _inside(_ev_ts(e), f)
        for e in _events(sim)
    )


def test_fan_failure_thermal_runaway(gpu: pd.DataFrame) -> None:
    f = FAULTS["fan_failure"]
    g3 = gpu[gpu["index"] == 3]
    win = g3[(g3["ts"] >= f.start) & (g3["ts"] < f.end)]
    assert (win["fan.speed [%]"] == 0).all()
    assert win["temperature.gpu"].max() > 90
    assert (win["reasons"] & 0x60).any()
    outside = g3[(g3["ts"] < f.start) | (g3["ts"] >= f.end)]
    assert (outside["fan.speed [%]"] > 0).all()


def test_ecc_errors(sim: Path, gpu: pd.DataFrame) -> None:
    f = FAULTS["ecc_errors"]
    bad = gpu[gpu["ecc.errors.uncorrected.volatile.total"] > 0]
    assert (
        len(bad) > 0
        and (bad["index"] == 1).all()
        and bad["ts"].between(f.start, f.end, inclusive="left").all()
    )
    xids = [e for e in _journal(sim / HOST / "kernel.json") if re.search(r"\): (48|63|64), ", e["MESSAGE"])]
    assert {"48", "63", "64"} <= {re.search(r"\): (\d+),", e["MESSAGE"]).group(1) for e in xids}
    assert all(_inside(_ts_us(e), f) for e in xids)


def test_container_oom(sim: Path) -> None:
    f = FAULTS["container_oom"]
    ev = _events(sim)
    ooms = [e for e in ev if e["Action"] == "oom"]
    dies137 = [e for e in ev if e["Action"] == "die" and e["Actor"]["Attributes"]["exitCode"] == "137"]
    assert ooms and dies137 and all(_inside(_ev_ts(e), f) for e in ooms + dies137)
    killed = [
        e
        for e in _journal(sim / HOST / "kernel.json")
        if "Memory cgroup out of memory: Killed process" in e["MESSAGE"]
    ]
    assert killed and all(_inside(_ts_us(e), f) and "(python3)" in e["MESSAGE"] for e in killed)


def test_unit_crash_loop(sim: Path) -> None:
    f = FAULTS["unit_crash_loop"]
    journal = _journal(sim / HOST / "journal.json")
    restarts = [
        e
        for e in journal
        if isinstance(e["MESSAGE"], str) and "Scheduled restart job, restart counter is at" in e["MESSAGE"]
    ]
    assert len(restarts) >= 10 and all(_inside(_ts_us(e), f) for e in restarts)
    assert any("Main process exited, code=exited, status=1/FAILURE" in str(e["MESSAGE"]) for e in journal)


def test_container_restart_loop(sim: Path) -> None:
    f = FAULTS["container_restart_loop"]
    dies = [
        e
        for e in _events(sim)
        if e["Action"] == "die" and e["Actor"]["Attributes"]["exitCode"] == "1" and _inside(_ev_ts(e), f)
    ]
    starts = [e for e in _events(sim) if e["Action"] == "start" and _inside(_ev_ts(e), f)]
    assert len(dies) >= 5 and len(starts) >= 5
    tracebacks = [
        t for t, m in _docker_lines(sim, "vllm.stderr") if m.startswith("ValueError: The model's max seq len")
    ]
    assert len(tracebacks) >= 5 and all(_inside(t, f) for t in tracebacks)
    restarts = [
        e for e in _events(sim) if e["Action"] == "die" and e["Actor"]["Attributes"]["exitCode"] == "0"
    ]
    assert restarts, "routine restarts with exit code 0 are part of normal behaviour"


def test_power_cap(sim: Path, gpu: pd.DataFrame) -> None:
    f = FAULTS["power_cap"]
    win = gpu["ts"].between(f.start, f.end, inclusive="left")
    assert (gpu.loc[win, "power.limit [W]"] < 300).all() and (gpu.loc[~win, "power.limit [W]"] == 300).all()
    assert (gpu.loc[win, "reasons"] & 0x4).any()
    sudo = [e for e in _journal(sim / HOST / "journal.json") if "nvidia-smi -pl" in str(e["MESSAGE"])]
    assert sudo and all(_inside(_ts_us(e), f) for e in sudo)


def test_ssh_bruteforce(sim: Path) -> None:
    f = FAULTS["ssh_bruteforce"]
    journal = _journal(sim / HOST / "journal.json")
    brute = [
        e
        for e in journal
        if "Failed password for invalid user" in str(e["MESSAGE"]) and "203.0.113." in str(e["MESSAGE"])
    ]
    assert len(brute) >= 100 * 10 and all(_inside(_ts_us(e), f) for e in brute)
    assert any("Invalid user" in str(e["MESSAGE"]) and not _inside(_ts_us(e), f) for e in journal), (
        "benign scanner probes"
    )


def test_disk_full(sim: Path) -> None:
    f = FAULTS["disk_full"]
    journal = [
        e
        for e in _journal(sim / HOST / "journal.json")
        if "no space left on device" in str(e["MESSAGE"]).lower()
    ]
    assert journal and all(_inside(_ts_us(e), f) for e in journal)
    assert len({e["SYSLOG_IDENTIFIER"] for e in journal}) >= 2
    docker = [
        t
        for name in ("vllm.stderr", "jupyter.stderr", "postgres.stderr")
        for t, m in _docker_lines(sim, name)
        if "No space left on device" in m
    ]
    assert docker and all(_inside(t, f) for t in docker)
