"""Per-GPU telemetry of the window: statistics over the host's GPUs, throttling, ECC, missing GPUs."""

from __future__ import annotations

import numpy as np
import pandas as pd

from mlops_assets.lib.features.grid import count_in, numeric, window_index
from mlops_assets.lib.features.registry import MAX_GPUS, per_gpu_name

_PER_GPU_SOURCES = {"temp_c": "temp", "power_w": "power", "util_pct": "util", "fan_pct": "fan"}


def gpu_window_features(
    gpu: pd.DataFrame,
    errors: pd.DataFrame,
    start_ns: int,
    window_ns: int,
    n: int,
    expected_gpus: int | None,
    out: dict[str, np.ndarray],
) -> None:
    idx, keep = (
        window_index(gpu["ts"], start_ns, window_ns, n)
        if len(gpu)
        else (np.zeros(0, "int64"), np.zeros(0, bool))
    )
    g = gpu.loc[keep]
    w = idx[keep]
    out["gpu_samples"] = count_in(w, np.ones(len(w), bool), n)
    if len(errors):
        eidx, ekeep = window_index(errors["ts"], start_ns, window_ns, n)
        out["gpu_error_lines"] = count_in(eidx, ekeep, n)
    else:
        out["gpu_error_lines"] = np.zeros(n)
    gpu_ids = (
        pd.to_numeric(g["gpu_index"], errors="coerce").fillna(-1).astype("int64").to_numpy()
        if len(g)
        else np.zeros(0, "int64")
    )
    seen = len(np.unique(gpu_ids)) if len(gpu_ids) else 0
    expected = expected_gpus if expected_gpus is not None else seen
    frame = pd.DataFrame(
        {
            "w": w,
            "gpu": gpu_ids,
            "t": pd.to_datetime(g["ts"], utc=True).to_numpy(dtype="datetime64[ns]").astype("int64")
            if len(g)
            else np.zeros(0, "int64"),
            "temp": numeric(g, "temperature_c"),
            "util": numeric(g, "util_gpu_pct"),
            "mem": numeric(g, "mem_used_mib") / numeric(g, "mem_total_mib"),
            "power": numeric(g, "power_w"),
            "limit": numeric(g, "power_limit_w"),
            "fan": numeric(g, "fan_pct"),
            "clock": numeric(g, "sm_clock_mhz"),
            "ecc": numeric(g, "ecc_uncorrected"),
        }
    )
    reasons = pd.to_numeric(g["throttle_reasons"], errors="coerce").fillna(0).astype("int64").to_numpy()
    frame["ratio"] = frame["power"] / frame["limit"].where(frame["limit"] > 0)
    by_w = frame.groupby("w", sort=True)
    # one statistic per call: see the module docstring for why not .agg([...])
    stats = {
        "temp_max_c": by_w["temp"].max(),
        "temp_mean_c": by_w["temp"].mean(),
        "temp_std_c": by_w["temp"].std(ddof=0),
        "util_mean_pct": by_w["util"].mean(),
        "util_std_pct": by_w["util"].std(ddof=0),
        "util_max_pct": by_w["util"].max(),
        "mem_used_max_frac": by_w["mem"].max(),
        "mem_used_mean_frac": by_w["mem"].mean(),
        "power_mean_w": by_w["power"].mean(),
        "power_max_w": by_w["power"].max(),
        "power_std_w": by_w["power"].std(ddof=0),
        "power_limit_min_w": by_w["limit"].min(),
        "power_to_limit_max": by_w["ratio"].max(),
        "fan_min_pct": by_w["fan"].min(),
        "fan_mean_pct": by_w["fan"].mean(),
        "sm_clock_min_mhz": by_w["clock"].min(),
        "sm_clock_mean_mhz": by_w["clock"].mean(),
    }
    for name, s in stats.items():
        arr = np.full(n, np.nan)
        arr[s.index.to_numpy(dtype="int64")] = s.to_numpy(dtype="float64")
        out[name] = arr
    ones = np.ones(len(w), bool)
    out["throttle_power_samples"] = count_in(w, ones & ((reasons & 0x4) != 0), n)
    out["throttle_thermal_samples"] = count_in(w, ones & ((reasons & 0x60) != 0), n)
    out["throttle_hw_slowdown_samples"] = count_in(w, ones & ((reasons & 0x88) != 0), n)

    per_gpu = frame.sort_values("t", kind="stable").groupby(["w", "gpu"], sort=True)
    t_first, t_last = per_gpu["t"].first(), per_gpu["t"].last()
    slope = (per_gpu["temp"].last() - per_gpu["temp"].first()) / ((t_last - t_first) / 60e9).where(
        t_last > t_first
    )
    temp_mean = per_gpu["temp"].mean()
    _per_gpu_columns(per_gpu, n, out)
    ecc_max, ecc_min = per_gpu["ecc"].max(), per_gpu["ecc"].min()
    reporting = per_gpu.size().groupby(level="w").size()
    spread = temp_mean.groupby(level="w").max() - temp_mean.groupby(level="w").median()
    # ECC: growth inside the window plus growth since the same GPU's previous window in this partition
    prev = ecc_max.groupby(level="gpu").shift(1)
    inc = (ecc_max - ecc_min).clip(lower=0) + (ecc_min - prev).clip(lower=0).fillna(0)
    for name, s, fill in (
        ("temp_slope_max_c_per_min", slope.groupby(level="w").max(), np.nan),
        ("temp_gpu_spread_c", spread, np.nan),
        ("ecc_new_errors", inc.groupby(level="w").sum(), 0.0),
    ):
        arr = np.full(n, fill)
        if len(s):
            arr[s.index.to_numpy(dtype="int64")] = s.to_numpy(dtype="float64")
        out[name] = arr
    count = np.zeros(n)
    if len(reporting):
        count[reporting.index.to_numpy(dtype="int64")] = reporting.to_numpy(dtype="float64")
    # a window without any sample is no collection (host off, collector stopped), not GPUs gone: the
    # nvidia-smi failure lines and the neighbouring windows tell a GPU that fell off the bus
    out["gpus_missing"] = np.where(count > 0, np.clip(expected - count, 0, None), 0.0).astype("float64")


def _per_gpu_columns(per_gpu, n: int, out: dict[str, np.ndarray]) -> None:
    """gpu<i>_<stat> columns: the window mean of each of the first MAX_GPUS GPUs (NaN when absent)."""
    means = {base: per_gpu[col].mean() for base, col in _PER_GPU_SOURCES.items()}
    for base in _PER_GPU_SOURCES:
        for i in range(MAX_GPUS):
            out[per_gpu_name(i, base)] = np.full(n, np.nan)
    for base, s in means.items():
        if not len(s):
            continue
        w = s.index.get_level_values("w").to_numpy(dtype="int64")
        g = s.index.get_level_values("gpu").to_numpy(dtype="int64")
        v = s.to_numpy(dtype="float64")
        for i in range(MAX_GPUS):
            sel = g == i
            if sel.any():
                out[per_gpu_name(i, base)][w[sel]] = v[sel]
