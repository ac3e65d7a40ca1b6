"""The realistic test bed: mixed cards, reboots, real background chatter, slow cooling drift, no label peeking."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest

from mlops_assets.simulate import FaultSpec, simulate
from mlops_assets.simulate.replay import load_samples
from mlops_assets_tests.realdata import realdata_dir

START = datetime(2026, 11, 2, 0, 0, tzinfo=UTC)


def _gpu(root: Path, host: str) -> pd.DataFrame:
    df = pd.read_csv(root / host / "nvidia-smi.csv", skipinitialspace=True)
    df["ts"] = pd.to_datetime(df["timestamp"], format="%Y/%m/%d %H:%M:%S.%f", utc=True)
    return df


def _journal(root: Path, host: str) -> list[dict]:
    return [json.loads(line) for line in (root / host / "journal.json").read_text().splitlines()]


@pytest.fixture(scope="module")
def bed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("bed")
    drift = FaultSpec(
        "gpu-node-02", "thermal_drift", START + timedelta(hours=8), START + timedelta(hours=11), 3
    )
    simulate(
        out,
        hosts=2,
        hours=14,
        seed=5,
        start=START,
        faults=[drift],
        fleet="mixed",
        reboots_per_day=8.0,
        realdata=realdata_dir(),
    )
    return out


def test_mixed_fleet_has_per_host_cards_and_envelopes(bed: Path) -> None:
    home, node = _gpu(bed, "gpu-node-01"), _gpu(bed, "gpu-node-02")
    assert sorted(home["name"].unique()) == ["NVIDIA GeForce RTX 3060", "NVIDIA GeForce RTX 3090"]
    assert set(node["name"]) == {"NVIDIA H100 80GB HBM3"} and node["index"].nunique() == 8
    limits = home.groupby("name")["power.limit [W]"].max()
    assert limits["NVIDIA GeForce RTX 3090"] == 350 and limits["NVIDIA GeForce RTX 3060"] == 170
    assert (node["fan.speed [%]"] == "[N/A]").all()


def test_reboots_bring_a_new_boot_id_banner_startup_burst_and_a_telemetry_gap(bed: Path) -> None:
    entries = _journal(bed, "gpu-node-02")
    boot_ids = list(dict.fromkeys(e["_BOOT_ID"] for e in entries))
    banners = [e for e in entries if str(e["MESSAGE"]).startswith("Linux version")]
    assert len(boot_ids) >= 2 and len(banners) == len(boot_ids) - 1
    assert any("Startup finished in" in str(e["MESSAGE"]) for e in entries)
    for banner in banners:  # monotonic time restarts with the boot, and the cursor names the new boot
        assert int(banner["__MONOTONIC_TIMESTAMP"]) < 5_000_000
        assert f"b={banner['_BOOT_ID']}" in banner["__CURSOR"]
        t = pd.Timestamp(int(banner["__REALTIME_TIMESTAMP"]) * 1000, tz="UTC")
        gpu = _gpu(bed, "gpu-node-02")
        assert not gpu["ts"].between(t - pd.Timedelta("55s"), t - pd.Timedelta("1s")).any()


def test_real_chatter_is_replayed_from_the_samples(bed: Path) -> None:
    idents = {e.get("SYSLOG_IDENTIFIER") for e in _journal(bed, "gpu-node-01")}
    assert idents & {"ftpd", "sshd(pam_unix)", "ntpd", "gmetad", "crond(pam_unix)"}


def test_replay_without_the_samples_fails_naming_the_folder(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=str(tmp_path)):
        load_samples(str(tmp_path))


def test_thermal_drift_heats_the_card_at_constant_load(bed: Path) -> None:
    g = _gpu(bed, "gpu-node-02")
    g3 = g[g["index"] == 3].set_index("ts")
    before = g3.loc[START + timedelta(hours=7, minutes=40) : START + timedelta(hours=8)]
    late = g3.loc[START + timedelta(hours=10, minutes=40) : START + timedelta(hours=11)]
    assert abs(late["power.draw [W]"].mean() - before["power.draw [W]"].mean()) < 40
    assert late["temperature.gpu"].mean() - before["temperature.gpu"].mean() > 9


def test_the_nightly_restart_happens_even_next_to_a_fault(tmp_path: Path) -> None:
    near = FaultSpec(
        "gpu-node-01",
        "disk_full",
        START + timedelta(hours=2, minutes=55),
        START + timedelta(hours=3, minutes=10),
    )
    simulate(tmp_path, hosts=1, gpus=2, hours=5, seed=1, start=START, faults=[near])
    assert any("nightly-restart.sh" in str(e["MESSAGE"]) for e in _journal(tmp_path, "gpu-node-01"))
