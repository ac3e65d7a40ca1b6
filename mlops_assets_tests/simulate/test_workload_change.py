"""simulate(workload=(since, delta)): a heavier inference load from ``since`` on (the demo's last-day
environment change). It must move utilisation and power (temperatures following), leave the GPU
telemetry before ``since`` byte-identical, and stay fault-free: the health rules find nothing critical."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest

from mlops_assets.lib.health.rules import health_events
from mlops_assets.lib.parsing.bundle import parse_bundle
from mlops_assets.simulate import simulate
from mlops_assets.sources.directory import DirectorySource

START = datetime(2026, 11, 2, 0, 0, tzinfo=UTC)
SINCE = START + timedelta(hours=6)
HOST = "gpu-node-01"
GPUS = 4


def _sim(out: Path, workload: tuple[datetime, float] | None) -> Path:
    simulate(out, hosts=1, gpus=GPUS, hours=12, seed=5, start=START, faults=[], workload=workload)
    return out


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    base = _sim(tmp_path_factory.mktemp("base"), None)
    heavy = _sim(tmp_path_factory.mktemp("heavy"), (SINCE, 0.3))
    return base, heavy


def _gpu(root: Path) -> pd.DataFrame:
    tables = parse_bundle(DirectorySource(root).fetch(HOST, START, START + timedelta(hours=12)), HOST).tables
    df = tables["gpu_samples"].copy()
    df["after"] = pd.to_datetime(df["ts"], utc=True) >= SINCE
    return df


def test_before_since_the_output_is_unchanged(pair: tuple[Path, Path]) -> None:
    base, heavy = pair
    cut = SINCE.strftime("%Y/%m/%d %H:%M")
    before = [
        [line for line in (root / HOST / "nvidia-smi.csv").read_text().splitlines() if line[:16] < cut]
        for root in (base, heavy)
    ]
    assert len(before[0]) > 1000 and before[0] == before[1]


def test_heavier_load_raises_utilisation_power_and_temperature(pair: tuple[Path, Path]) -> None:
    base, heavy = (_gpu(root) for root in pair)
    inference = [0, 1]  # the inference server's cards (half of the host's)
    for col, rise in (("util_gpu_pct", 15.0), ("power_w", 20.0), ("temperature_c", 2.0)):
        b = base[base["after"] & base["gpu_index"].isin(inference)][col].astype(float).mean()
        h = heavy[heavy["after"] & heavy["gpu_index"].isin(inference)][col].astype(float).mean()
        assert h - b >= rise, (col, b, h)
    other = [2, 3]
    b = base[base["after"] & base["gpu_index"].isin(other)]["util_gpu_pct"].astype(float).mean()
    h = heavy[heavy["after"] & heavy["gpu_index"].isin(other)]["util_gpu_pct"].astype(float).mean()
    assert abs(h - b) < 1.0, "only the inference cards get the new deployment's requests"


def test_the_heavier_day_stays_fault_free(pair: tuple[Path, Path]) -> None:
    _, heavy = pair
    assert (heavy / "labels.csv").read_text().strip().count("\n") == 0  # header only
    bundle = parse_bundle(DirectorySource(heavy).fetch(HOST, SINCE, SINCE + timedelta(hours=6)), HOST)
    events = health_events(bundle.tables, HOST, expected_gpus=GPUS)
    serious = events[events["severity"].isin(["fatal", "critical"])]
    assert serious.empty, serious[["ts", "code", "message"]].to_string()


def test_a_delta_outside_zero_to_one_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="0 <= delta <= 1"):
        simulate(tmp_path, hosts=1, gpus=1, hours=1, faults=[], workload=(START, 1.5))
    assert not (tmp_path / "labels.csv").exists()
