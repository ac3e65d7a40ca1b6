"""Window features on small hand-made tables: each family's values, the fixed column set, empty inputs."""

import numpy as np
import pandas as pd
import pytest

from mlops_assets.lib.contracts.tables import TABLES, conform
from mlops_assets.lib.features.registry import FEATURE_NAMES, FEATURES, KEY_COLUMNS, feature_registry_frame
from mlops_assets.lib.features.template_counts import build_template_counts
from mlops_assets.lib.features.windows import build_window_features

START = pd.Timestamp("2026-11-01 00:00", tz="UTC")
END = START + pd.Timedelta("3min")


def _ts(*seconds: float) -> list[pd.Timestamp]:
    return [START + pd.Timedelta(seconds=s) for s in seconds]


def table(name: str, rows: list[dict]) -> pd.DataFrame:
    return conform(pd.DataFrame(rows), TABLES[name])


def gpu_row(s: float, gpu: int, **kw) -> dict:
    base = {
        "ts": _ts(s)[0],
        "host": "h",
        "gpu_index": gpu,
        "temperature_c": 40.0,
        "util_gpu_pct": 10.0,
        "mem_used_mib": 100.0,
        "mem_total_mib": 1000.0,
        "power_w": 100.0,
        "power_limit_w": 300.0,
        "fan_pct": 30.0,
        "sm_clock_mhz": 1500.0,
        "throttle_reasons": 0,
        "ecc_uncorrected": 0,
    }
    return {**base, **kw}


def feats(**tables: pd.DataFrame) -> pd.DataFrame:
    return build_window_features(tables, "h", START, END, expected_gpus=2)


def test_fixed_columns_and_empty_input() -> None:
    out = build_window_features({}, "h", START, END)
    assert list(out.columns) == [*KEY_COLUMNS, *FEATURE_NAMES]
    assert len(out) == 3 and out["window_start"].tolist() == _ts(0, 60, 120)
    counts = [f.name for f in FEATURES if f.unit == "count"]
    assert (out[counts] == 0).all().all()  # counts are 0 where nothing happened ...
    assert out["temp_max_c"].isna().all()  # ... telemetry is unknown, not 0
    assert build_template_counts({}, "h", START, END).empty
    assert set(feature_registry_frame().columns) >= {"name", "unit", "source", "description", "worse"}
    assert len(set(FEATURE_NAMES)) == len(FEATURE_NAMES)


def test_registry_directions_are_valid() -> None:
    assert {f.worse for f in FEATURES} <= {"up", "down", "both", ""}
    # a count is worse upwards unless the registry says why not; "both" always says why
    assert all(f.worse == "up" or f.reason for f in FEATURES if f.unit == "count")
    assert all(f.reason for f in FEATURES if f.worse == "both")
    assert {f.name: f.worse for f in FEATURES}["fan_min_pct"] == "down"


def test_gpu_statistics_per_window() -> None:
    rows = [
        gpu_row(0, 0, temperature_c=40.0),
        gpu_row(30, 0, temperature_c=50.0),
        gpu_row(0, 1, temperature_c=60.0, fan_pct=0.0, power_w=290.0, throttle_reasons=0x20 | 0x4),
        gpu_row(30, 1, temperature_c=70.0, ecc_uncorrected=0),
        gpu_row(70, 0, ecc_uncorrected=3),
        gpu_row(80, 0, ecc_uncorrected=5, throttle_reasons=0x80),
    ]
    out = feats(gpu_samples=table("gpu_samples", rows))
    w0, w1, w2 = out.iloc[0], out.iloc[1], out.iloc[2]
    assert w0["gpu_samples"] == 4 and w0["gpus_missing"] == 0
    assert w0["temp_max_c"] == 70 and w0["temp_mean_c"] == 55
    assert w0["temp_slope_max_c_per_min"] == pytest.approx(20.0)  # +10 degC in 30 s on either board
    assert w0["temp_gpu_spread_c"] == pytest.approx(65 - 55)  # hottest board's mean minus the median board's
    assert w0["fan_min_pct"] == 0 and w0["fan_mean_pct"] == pytest.approx(22.5)
    assert w0["power_to_limit_max"] == pytest.approx(290 / 300)
    assert w0["throttle_thermal_samples"] == 1 and w0["throttle_power_samples"] == 1
    assert w0["mem_used_max_frac"] == pytest.approx(0.1)
    assert (
        w1["gpus_missing"] == 1 and w1["ecc_new_errors"] == 5
    )  # 0 -> 3 since the last window, 3 -> 5 inside
    assert w1["throttle_hw_slowdown_samples"] == 1
    # no sample at all is a collection gap (host off, collector stopped), not two GPUs gone
    assert w2["gpus_missing"] == 0 and np.isnan(w2["temp_max_c"])


def test_journal_kernel_docker_counts() -> None:
    journal = table(
        "journal_entries",
        [
            {"ts": _ts(1)[0], "priority": 3, "unit": "a.service", "message": "boom"},
            {
                "ts": _ts(2)[0],
                "priority": 3,
                "unit": "b.service",
                "message": "a.service: Failed with result 'exit-code'.",
            },
            {"ts": _ts(3)[0], "priority": 2, "unit": "a.service", "message": "crit"},
            {
                "ts": _ts(61)[0],
                "priority": 6,
                "identifier": "sshd",
                "message": "Failed password for root from 1.2.3.4",
            },
            {
                "ts": _ts(62)[0],
                "priority": 5,
                "unit": "x",
                "message": "x.service: Scheduled restart job, restart counter is at 3.",
            },
            {"ts": _ts(999)[0], "priority": 0, "message": "outside the range: ignored"},
        ],
    )
    kernel = table(
        "kernel_events",
        [
            {"ts": _ts(5)[0], "kind": "xid", "xid": 79, "message": "NVRM: Xid (PCI:0000:3b:00): 79"},
            {"ts": _ts(6)[0], "kind": "xid", "xid": 48, "message": "NVRM: Xid 48"},
            {"ts": _ts(7)[0], "kind": "xid", "xid": 13, "message": "NVRM: Xid 13"},
            {"ts": _ts(8)[0], "kind": "xid", "xid": 999, "message": "NVRM: Xid 999"},
            {"ts": _ts(9)[0], "kind": "nvrm", "message": "NVRM: GPU at PCI:0000:3b:00: GPU-x"},
            {"ts": _ts(70)[0], "kind": "oom", "message": "Out of memory: Killed process 42 (python)"},
        ],
    )
    lines = table(
        "docker_lines",
        [
            {
                "ts": _ts(130)[0],
                "container": "vllm",
                "stream": "stderr",
                "level": "error",
                "message": "Traceback (most recent call last):",
            },
            {
                "ts": _ts(131)[0],
                "container": "vllm",
                "stream": "stdout",
                "level": "warning",
                "message": "write failed: No space left on device",
            },
        ],
    )
    events = table(
        "docker_events",
        [
            {"ts": _ts(132)[0], "container": "vllm", "action": "die", "exit_code": 137},
            {"ts": _ts(133)[0], "container": "vllm", "action": "die", "exit_code": 0},
            {"ts": _ts(134)[0], "container": "vllm", "action": "oom"},
            {"ts": _ts(135)[0], "container": "vllm", "action": "restart"},
            {"ts": _ts(136)[0], "container": "vllm", "action": "health_status: unhealthy"},
        ],
    )
    out = feats(journal_entries=journal, kernel_events=kernel, docker_lines=lines, docker_events=events)
    w0, w1, w2 = (out.iloc[i] for i in range(3))
    assert (w0["journal_lines"], w0["journal_err"], w0["journal_crit"], w0["journal_units_in_error"]) == (
        3,
        2,
        1,
        2,
    )
    assert w0["journal_unit_failures"] == 1
    assert (w1["journal_auth_failures"], w1["journal_unit_restarts"], w1["journal_notice"]) == (1, 1, 1)
    assert out["journal_lines"].sum() == 5
    assert (w0["xid_fatal"], w0["xid_memory"], w0["xid_app"], w0["xid_other"], w0["nvrm_lines"]) == (
        1,
        1,
        1,
        1,
        1,
    )
    assert w1["oom_kills"] == 1 and w0["oom_kills"] == 0
    assert (
        w2["docker_lines"],
        w2["docker_stderr_lines"],
        w2["docker_error_lines"],
        w2["docker_warning_lines"],
    ) == (2, 1, 1, 1)
    assert (w2["docker_tracebacks"], w2["docker_disk_full"]) == (1, 1)
    assert (
        w2["docker_dies"],
        w2["docker_nonzero_exits"],
        w2["docker_ooms"],
        w2["docker_starts"],
        w2["docker_unhealthy"],
    ) == (2, 1, 1, 1, 1)


def test_template_counts_long_table_keeps_unmatched_as_na() -> None:
    journal = table(
        "journal_entries",
        [
            {"ts": _ts(1)[0], "message": "a", "template_id": "T1"},
            {"ts": _ts(2)[0], "message": "a", "template_id": "T1"},
            {"ts": _ts(3)[0], "message": "new", "template_id": None},
            {"ts": _ts(65)[0], "message": "a", "template_id": "T1"},
        ],
    )
    out = build_template_counts({"journal_entries": journal}, "h", START, END)
    assert list(out.columns) == ["host", "window_start", "template_id", "count"]
    got = {
        (str(r.window_start), None if pd.isna(r.template_id) else r.template_id): r.count
        for r in out.itertuples()
    }
    assert got == {(str(START), "T1"): 2, (str(START), None): 1, (str(START + pd.Timedelta("1min")), "T1"): 1}
