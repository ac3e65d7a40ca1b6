"""Fault overlay: pure bytes -> bytes + labels; every kind leaves its signature in what the
production parse/features path makes of the copy, and the original bytes stay untouched."""

from datetime import timedelta

import pandas as pd
import pytest

from mlops_assets.lib.evaluate.heldout import replay
from mlops_assets.lib.evaluate.overlay import (
    FAULT_KINDS,
    OverlayFault,
    labels_frame,
    overlay_hour,
    plan_faults,
)
from mlops_assets.lib.templates import TemplateMiner
from mlops_assets.simulate import DEFAULT_START, simulate
from mlops_assets.sources.directory import DirectorySource

HOUR = pd.Timestamp(DEFAULT_START)
KEY = HOUR.strftime("%Y-%m-%d-%H:%M")
# kind -> (feature that must rise in the fault's windows, or fall when prefixed "-")
SIGNATURE = {
    "fan_stall": "-fan_min_pct",
    "thermal_runaway": "temp_max_c",
    "power_cap": "-power_limit_min_w",
    "gpu_lost": "gpus_missing",
    "ecc_errors": "xid_memory",
    "oom_kill": "oom_kills",
    "disk_full": "docker_disk_full",
    "container_crash_loop": "docker_nonzero_exits",
    "service_failure": "journal_unit_failures",
}


@pytest.fixture(scope="module")
def hour(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, dict]:
    raw = tmp_path_factory.mktemp("overlay")
    summary = simulate(raw, hosts=1, hours=1, seed=5, faults=[])
    host = summary.hosts[0]
    return host, DirectorySource(str(raw)).fetch(host, DEFAULT_START, DEFAULT_START + timedelta(hours=1))


def test_plan_is_seeded_one_per_hour_inside_the_hour() -> None:
    hours = {
        "a": [HOUR + pd.Timedelta(hours=h) for h in range(12)],
        "b": [HOUR + pd.Timedelta(hours=h) for h in range(6)],
    }
    plan = plan_faults(hours, {"a": [0, 1, 2, 3], "b": [0, 1]}, seed=3)
    assert plan == plan_faults(hours, {"a": [0, 1, 2, 3], "b": [0, 1]}, seed=3)
    assert plan != plan_faults(hours, {"a": [0, 1, 2, 3], "b": [0, 1]}, seed=4)
    assert sorted(f.kind for f in plan) == sorted(FAULT_KINDS * 2)
    assert len({(f.host, f.start.floor("1h")) for f in plan}) == len(plan)
    assert all(f.end.floor("1h") == f.start.floor("1h") for f in plan)
    assert set(labels_frame(plan).columns) >= {"host", "start", "end", "fault", "sources", "gpu"}
    with pytest.raises(ValueError, match="hold out more days"):
        plan_faults({"a": hours["a"][:3]}, {"a": [0]}, seed=1)


@pytest.mark.parametrize("kind", FAULT_KINDS)
def test_each_kind_reaches_the_features(hour: tuple[str, dict], kind: str) -> None:
    host, bundle = hour
    before = {s: dict(m) for s, m in bundle.items()}
    fault = OverlayFault(host, kind, HOUR + pd.Timedelta(minutes=20), HOUR + pd.Timedelta(minutes=32), 3)
    overlaid = overlay_hour(bundle, host, [fault], seed=1)
    assert bundle == before, "the overlay works on a copy"
    for source, members in before.items():  # nothing the host printed is lost
        for name, data in members.items():
            assert set(data.splitlines()) <= set(overlaid[source][name].splitlines()) or source == "gpu"
    miner = TemplateMiner()
    _, clean, _ = replay(bundle, host, KEY, miner, expected_gpus=8)
    tables, feats, _ = replay(overlaid, host, KEY, miner, expected_gpus=8)
    inside = (feats["window_start"] >= fault.start.floor("1min")) & (feats["window_start"] < fault.end)
    feature = SIGNATURE[kind].lstrip("-")
    delta = feats.loc[inside, feature].mean() - clean.loc[inside, feature].mean()
    assert (delta < 0) if SIGNATURE[kind].startswith("-") else (delta > 0), (kind, feature, delta)
    outside = ~inside & (feats["window_start"] < fault.start - pd.Timedelta(minutes=1))
    pd.testing.assert_frame_equal(
        feats[outside].reset_index(drop=True), clean[outside].reset_index(drop=True)
    )
    if kind == "gpu_lost":
        xids = tables["kernel_events"]["xid"].dropna().astype(int).tolist()
        assert 79 in xids and len(tables["gpu_errors"]) > 0
