"""GPU rules on gpu_samples frames built directly (with the agreed INTERFACES.md "GPU fields" columns
when a test needs them): a column that is not collected makes its rule silent, never an error."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from mlops_assets.lib.contracts.tables import TABLES, conform
from mlops_assets.lib.health.rules import health_events

T0 = pd.Timestamp("2026-11-02 10:00:00", tz="UTC")
UUIDS = ["GPU-aaaa", "GPU-bbbb", "GPU-cccc", "GPU-dddd"]
PCIS = ["00000000:18:00.0", "00000000:2A:00.0", "00000000:3B:00.0", "00000000:5D:00.0"]


def samples(minutes: int = 20, step_s: int = 10, gpus: int = 4, **columns) -> pd.DataFrame:
    """Healthy samples every ``step_s``; ``columns`` maps name -> f(t_index, gpu) -> value."""
    rows = []
    for i in range(minutes * 60 // step_s):
        for g in range(gpus):
            row = {
                # real nvidia-smi stamps each GPU's row on its own: a few ms apart
                "ts": T0 + pd.Timedelta(seconds=i * step_s, milliseconds=3 * g),
                "host": "h",
                "gpu_index": g,
                "gpu_uuid": UUIDS[g],
                "power_limit_w": 700.0,
                "throttle_reasons": 0,
                "ecc_uncorrected": 0,
            }
            row.update({k: f(i, g) for k, f in columns.items()})
            rows.append(row)
    df = pd.DataFrame(rows)
    extra = [c for c in df.columns if c not in TABLES["gpu_samples"]]
    return pd.concat([conform(df, TABLES["gpu_samples"]), df[extra].reset_index(drop=True)], axis=1)


def run(df: pd.DataFrame, **kw) -> pd.DataFrame:
    return health_events({"gpu_samples": df}, "h", **kw)


def test_healthy_samples_raise_nothing() -> None:
    assert run(samples(), expected_gpus=4).empty


def test_xid_pci_maps_to_gpu_index_and_uuid_through_the_samples_pci_bus_column() -> None:
    df = samples(minutes=1, pci_bus=lambda i, g: PCIS[g])
    k = conform(
        pd.DataFrame(
            [
                {
                    "ts": T0,
                    "host": "h",
                    "message": "NVRM: Xid (PCI:0000:3b:00): 79, pid=7, name=python3, GPU has fallen off the bus.",
                }
            ]
        ),
        TABLES["kernel_events"],
    )
    ev = health_events({"gpu_samples": df, "kernel_events": k}, "h")
    assert ev[["code", "gpu_index", "gpu_uuid", "pci_bus"]].values.tolist() == [
        ["XID_79", 2, "GPU-cccc", "0000:3b:00"]
    ]
    assert ev["message"].iloc[0].startswith("GPU 2 (GPU-cccc, PCI 0000:3b:00) raised Xid 79")


def test_without_pci_bus_column_the_xid_keeps_its_pci_and_the_index_is_null() -> None:
    k = conform(
        pd.DataFrame(
            [{"ts": T0, "host": "h", "message": "NVRM: Xid (PCI:0000:3b:00): 48, pid=7, name=x, DBE"}]
        ),
        TABLES["kernel_events"],
    )
    ev = health_events({"gpu_samples": samples(minutes=1), "kernel_events": k}, "h")
    assert ev["pci_bus"].tolist() == ["0000:3b:00"] and ev["gpu_index"].isna().all()


def test_uncorrectable_ecc_increments_volatile_or_aggregate() -> None:
    df = samples(
        ecc_uncorrected=lambda i, g: 2 if (g == 1 and i >= 30) else 0,
        ecc_uncorrected_aggregate=lambda i, g: 10 + (1 if (g == 3 and i >= 50) else 0),
    )
    ev = run(df)
    assert ev[["code", "gpu_index", "action"]].values.tolist() == [
        ["ECC_UNCORRECTED", 1, "reset_gpu"],
        ["ECC_UNCORRECTED", 3, "reset_gpu"],
    ]
    assert json.loads(ev["evidence"].iloc[0])["increase"] == 2


@pytest.mark.parametrize(
    ("column", "code", "severity", "action"),
    [
        ("remapped_rows_pending", "ROW_REMAP_PENDING", "critical", "reset_gpu"),
        ("remapped_rows_failure", "ROW_REMAP_FAILED", "fatal", "hardware_inspection"),
        ("retired_pages_pending", "RETIRED_PAGES_PENDING", "critical", "reset_gpu"),
    ],
)
def test_memory_flags_fire_once_when_they_turn_on(column: str, code: str, severity: str, action: str) -> None:
    ev = run(samples(**{column: lambda i, g: g == 0 and i >= 12}))
    assert ev[["code", "gpu_index", "severity", "action"]].values.tolist() == [[code, 0, severity, action]]
    assert ev["ts"].iloc[0] == T0 + pd.Timedelta(seconds=120)


@pytest.mark.parametrize(
    ("bit", "code"),
    [
        (0x8, "HW_SLOWDOWN"),
        (0x40, "HW_THERMAL_SLOWDOWN"),
        (0x80, "HW_POWER_BRAKE"),
        (0x20, "SW_THERMAL_SLOWDOWN"),
    ],
)
def test_clock_event_reasons_need_a_sustained_rate(bit: int, code: str) -> None:
    """gpud's threshold: active in >= 6 of 10 minutes. 5 minutes of the bit is not an event."""
    short = samples(clocks_event_reasons=lambda i, g: bit if (g == 2 and 6 <= i < 36) else 0)  # 5 min
    assert run(short).empty
    long = samples(clocks_event_reasons=lambda i, g: bit | 0x1 if (g == 2 and 6 <= i < 48) else 0)  # 7 min
    ev = run(long)
    assert ev[["code", "gpu_index"]].values.tolist() == [[code, 2]]
    assert ev["ts"].iloc[0] == T0 + pd.Timedelta(minutes=7)  # the end of the 6th active minute


def test_throttle_reasons_column_is_the_fallback_bitmask() -> None:
    ev = run(samples(throttle_reasons=lambda i, g: 0x40 if g == 0 else 0x4))
    assert ev["code"].tolist() == ["HW_THERMAL_SLOWDOWN"]  # SW power cap (0x4) alone is normal under load


def test_gpu_missing_against_expected_count_and_power_limit_lowered() -> None:
    df = samples(power_limit_w=lambda i, g: 250.0 if i >= 60 else 700.0)
    df = df[~((df["gpu_index"] == 3) & (df["ts"] >= T0 + pd.Timedelta(minutes=5)))]
    ev = run(df, expected_gpus=4)
    missing = ev[ev["code"] == "GPU_MISSING"]
    assert missing[["gpu_index", "gpu_uuid", "action"]].values.tolist() == [[3, "GPU-dddd", "reboot"]]
    lowered = ev[ev["code"] == "POWER_LIMIT_LOWERED"]
    assert sorted(lowered["gpu_index"]) == [0, 1, 2] and "700 W to 250 W" in lowered["message"].iloc[0]
    assert run(df).query("code == 'GPU_MISSING'").empty  # no expected count: the rule cannot know


def test_nvidia_smi_failure_lines_are_one_event_per_run() -> None:
    errors = conform(
        pd.DataFrame(
            [
                {
                    "ts": T0 + pd.Timedelta(seconds=10 * i),
                    "host": "h",
                    "pci_bus": "00000000:3B:00.0",
                    "message": "Unable to determine the device handle for GPU 00000000:3B:00.0: Unknown Error",
                }
                for i in range(30)
            ]
        ),
        TABLES["gpu_errors"],
    )
    ev = health_events(
        {"gpu_errors": errors, "gpu_samples": samples(minutes=1, pci_bus=lambda i, g: PCIS[g])}, "h"
    )
    assert ev[["code", "gpu_index", "action"]].values.tolist() == [["NVSMI_FAILED", 2, "reboot"]]
    assert json.loads(ev["evidence"].iloc[0])["repeats"] == 30
