"""Per-GPU columns, boots/shutdowns, uptime from the journald cursor, soft lockups, new severe lines."""

import numpy as np
import pandas as pd

from mlops_assets.lib.features.registry import gpu_index_of, per_gpu_base, per_gpu_name
from mlops_assets_tests.lib.features.test_windows import END, START, _ts, feats, gpu_row, table


def test_per_gpu_columns_name_their_gpu_and_a_collection_gap_is_not_missing_gpus() -> None:
    g = table(
        "gpu_samples",
        [gpu_row(0, 0, temperature_c=40.0, power_w=100.0), gpu_row(0, 1, temperature_c=80.0, power_w=340.0)]
        + [gpu_row(60, 0, temperature_c=44.0)],
    )
    out = feats(gpu_samples=g)
    assert out[per_gpu_name(1, "temp_c")].tolist()[0] == 80.0 and out["gpu1_power_w"].iloc[0] == 340.0
    assert np.isnan(out["gpu1_temp_c"].iloc[1]) and np.isnan(out["gpu7_temp_c"].iloc[0])
    assert out["gpus_missing"].tolist() == [0.0, 1.0, 0.0]  # minute 3 has no sample at all: a gap
    assert per_gpu_base("gpu3_temp_excess_c") == "gpu_temp_excess_c" and gpu_index_of("gpu3_fan_pct") == 3
    assert per_gpu_base("gpus_missing") is None


def _journal(rows: list[tuple[float, str, str, int, str | None]]) -> pd.DataFrame:
    return table(
        "journal_entries",
        [
            {"ts": _ts(s)[0], "host": "h", "identifier": ident, "message": msg, "priority": prio, "template_id": tpl,
             "cursor": f"s=ab;i=1;b=cd;m={int(mono * 1e6):x};t=1;x=2"}
            for (s, ident, msg, prio, tpl), mono in zip(rows, [r[0] + 5 for r in rows], strict=True)
        ],
    )  # fmt: skip


def test_boots_uptime_and_new_severe_lines() -> None:
    j = _journal(
        [
            (1, "systemd", "systemd 255.4 running in system mode (+PAM)", 6, "T1"),
            (2, "systemd", "Startup finished in 3.2s (kernel) + 20s (userspace) = 23.2s.", 6, "T2"),
            (70, "nvidia-persistenced", "never seen before and bad", 3, None),
            (80, "app", "never seen before but fine", 6, None),
            (130, "systemd", "Reached target shutdown.target - System Shutdown.", 6, "T3"),
        ]
    )
    k = table(
        "kernel_events",
        [
            {"ts": _ts(0.5)[0], "host": "h", "kind": "", "message": "Linux version 6.8.0-49-generic (buildd@x)"},
            {"ts": _ts(65)[0], "host": "h", "kind": "", "message": "watchdog: BUG: soft lockup - CPU#3 stuck for 22s! [kworker/3:1:123]"},
            {"ts": _ts(66)[0], "host": "h", "kind": "", "message": "NETDEV WATCHDOG: eno1 (ixgbe): transmit queue 2 timed out"},
        ],
    )  # fmt: skip
    out = feats(journal_entries=j, kernel_events=k)
    assert out["boot_markers"].tolist() == [3.0, 0.0, 1.0]
    assert out["uptime_min_s"].tolist() == [6.0, 75.0, 135.0]
    assert out["soft_lockups"].tolist() == [0.0, 1.0, 0.0] and out["nic_watchdog"].tolist() == [0.0, 1.0, 0.0]
    assert out["log_new_severe"].tolist() == [0.0, 1.0, 0.0] and out["log_new_other"].tolist() == [
        0.0,
        1.0,
        0.0,
    ]
    assert len(out) == int((END - START) / pd.Timedelta("1min"))
