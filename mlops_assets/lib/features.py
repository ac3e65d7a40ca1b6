"""Per-host time-window features from the parsed tables: one documented registry, a fixed schema.

Every partition gets exactly the columns of :data:`FEATURES` (plus host, window_start, window_end),
one row per window in [start, end) even when a window has no data: counts are 0 there and GPU
statistics NaN (the model imputes them). Template counts are a separate LONG table
(:func:`build_template_counts`) so the model can choose its own vocabulary.

Everything is vectorised: records are mapped to an integer window index once, then counted with
``np.bincount`` or reduced with one ``groupby`` per statistic (pandas 2.3's multi-stat
``resample().agg([...])`` is wrong, DESIGN.md section 5).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd

from mlops_assets.lib.contracts import TABLES, empty_frame
from mlops_assets.lib.feature_registry import (
    FEATURE_BY_NAME,
    FEATURE_NAMES,
    FEATURES,
    KEY_COLUMNS,
    TEMPLATE_COUNT_COLUMNS,
    XID_GROUPS,
    Feature,
    feature_registry_frame,
)

__all__ = [  # the registry is re-exported: callers import features and their registry from one place
    "FEATURES",
    "FEATURE_BY_NAME",
    "FEATURE_NAMES",
    "KEY_COLUMNS",
    "TEMPLATE_COUNT_COLUMNS",
    "XID_GROUPS",
    "Feature",
    "assign_templates",
    "build_template_counts",
    "build_window_features",
    "feature_registry_frame",
    "window_grid",
]

TS = "datetime64[ns, UTC]"


_AUTH = r"Failed password|Invalid user|authentication failure"
_TRACEBACK = (
    r"Traceback \(most recent call last\)|^\w*(?:Error|Exception):|CUDA error|panic:|Segmentation fault"
)
_DISK_FULL = r"No space left on device"


def _window_index(ts: pd.Series, start_ns: int, window_ns: int, n: int) -> tuple[np.ndarray, np.ndarray]:
    """(window index, in-range mask) of each record; records outside [start, end) are out of scope."""
    t = pd.to_datetime(ts, utc=True).to_numpy(dtype="datetime64[ns]").astype("int64")
    valid = ~pd.isna(ts).to_numpy()
    idx = np.where(valid, (t - start_ns) // window_ns, -1)
    keep = (idx >= 0) & (idx < n)
    return idx, keep


def _count(idx: np.ndarray, mask: np.ndarray, n: int) -> np.ndarray:
    return np.bincount(idx[mask], minlength=n)[:n].astype("float64")


def _contains(s: pd.Series, pattern: str) -> np.ndarray:
    return s.astype("string").fillna("").str.contains(pattern, regex=True).to_numpy(dtype=bool)


def _num(df: pd.DataFrame, col: str) -> np.ndarray:
    return pd.to_numeric(df[col], errors="coerce").astype("float64").to_numpy(na_value=np.nan)


def _gpu_features(
    gpu: pd.DataFrame,
    errors: pd.DataFrame,
    start_ns: int,
    window_ns: int,
    n: int,
    expected_gpus: int | None,
    out: dict[str, np.ndarray],
) -> None:
    idx, keep = (
        _window_index(gpu["ts"], start_ns, window_ns, n)
        if len(gpu)
        else (np.zeros(0, "int64"), np.zeros(0, bool))
    )
    g = gpu.loc[keep]
    w = idx[keep]
    out["gpu_samples"] = _count(w, np.ones(len(w), bool), n)
    if len(errors):
        eidx, ekeep = _window_index(errors["ts"], start_ns, window_ns, n)
        out["gpu_error_lines"] = _count(eidx, ekeep, n)
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
            "temp": _num(g, "temperature_c"),
            "util": _num(g, "util_gpu_pct"),
            "mem": _num(g, "mem_used_mib") / _num(g, "mem_total_mib"),
            "power": _num(g, "power_w"),
            "limit": _num(g, "power_limit_w"),
            "fan": _num(g, "fan_pct"),
            "clock": _num(g, "sm_clock_mhz"),
            "ecc": _num(g, "ecc_uncorrected"),
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
    out["throttle_power_samples"] = _count(w, ones & ((reasons & 0x4) != 0), n)
    out["throttle_thermal_samples"] = _count(w, ones & ((reasons & 0x60) != 0), n)
    out["throttle_hw_slowdown_samples"] = _count(w, ones & ((reasons & 0x88) != 0), n)

    per_gpu = frame.sort_values("t", kind="stable").groupby(["w", "gpu"], sort=True)
    t_first, t_last = per_gpu["t"].first(), per_gpu["t"].last()
    slope = (per_gpu["temp"].last() - per_gpu["temp"].first()) / ((t_last - t_first) / 60e9).where(
        t_last > t_first
    )
    temp_mean = per_gpu["temp"].mean()
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
    out["gpus_missing"] = np.clip(expected - count, 0, None).astype("float64")


def _journal_features(
    j: pd.DataFrame, start_ns: int, window_ns: int, n: int, out: dict[str, np.ndarray]
) -> None:
    idx, keep = (
        _window_index(j["ts"], start_ns, window_ns, n)
        if len(j)
        else (np.zeros(0, "int64"), np.zeros(0, bool))
    )
    prio = pd.to_numeric(j["priority"], errors="coerce").fillna(6).to_numpy() if len(j) else np.zeros(0)
    msg = j["message"] if len(j) else pd.Series([], dtype="string")
    out["journal_lines"] = _count(idx, keep, n)
    out["journal_crit"] = _count(idx, keep & (prio <= 2), n)
    out["journal_err"] = _count(idx, keep & (prio == 3), n)
    out["journal_warning"] = _count(idx, keep & (prio == 4), n)
    out["journal_notice"] = _count(idx, keep & (prio == 5), n)
    out["journal_unit_restarts"] = _count(idx, keep & _contains(msg, r"Scheduled restart job"), n)
    out["journal_unit_failures"] = _count(
        idx, keep & _contains(msg, r"Failed with result|Failed to start"), n
    )
    out["journal_auth_failures"] = _count(idx, keep & _contains(msg, _AUTH), n)
    out["journal_disk_full"] = _count(idx, keep & _contains(msg, _DISK_FULL), n)
    units = np.zeros(n)
    err = keep & (prio <= 3)
    if err.any():
        who = j["unit"].astype("string").fillna(j["identifier"].astype("string")).fillna("?")[err]
        distinct = pd.DataFrame({"w": idx[err], "u": who.to_numpy()}).drop_duplicates()
        units = _count(distinct["w"].to_numpy(), np.ones(len(distinct), bool), n)
    out["journal_units_in_error"] = units


def _kernel_features(
    k: pd.DataFrame, start_ns: int, window_ns: int, n: int, out: dict[str, np.ndarray]
) -> None:
    idx, keep = (
        _window_index(k["ts"], start_ns, window_ns, n)
        if len(k)
        else (np.zeros(0, "int64"), np.zeros(0, bool))
    )
    kind = k["kind"].astype("string").fillna("").to_numpy() if len(k) else np.zeros(0, dtype=object)
    xid = (
        pd.to_numeric(k["xid"], errors="coerce").fillna(-1).astype("int64").to_numpy()
        if len(k)
        else np.zeros(0, "int64")
    )
    msg = k["message"] if len(k) else pd.Series([], dtype="string")
    is_xid = xid >= 0
    out["kernel_lines"] = _count(idx, keep, n)
    grouped = np.zeros(len(xid), bool)
    for name, codes in XID_GROUPS.items():
        member = is_xid & np.isin(xid, codes)
        grouped |= member
        out[name] = _count(idx, keep & member, n)
    out["xid_other"] = _count(idx, keep & is_xid & ~grouped, n)
    out["nvrm_lines"] = _count(idx, keep & ~is_xid & _contains(msg, r"NVRM"), n)
    out["oom_kills"] = _count(
        idx, keep & ((kind == "oom") | _contains(msg, r"Out of memory: Killed process|oom-kill:")), n
    )
    out["hung_tasks"] = _count(
        idx, keep & ((kind == "hung_task") | _contains(msg, r"blocked for more than")), n
    )


def _docker_features(
    lines: pd.DataFrame,
    events: pd.DataFrame,
    start_ns: int,
    window_ns: int,
    n: int,
    out: dict[str, np.ndarray],
) -> None:
    idx, keep = (
        _window_index(lines["ts"], start_ns, window_ns, n)
        if len(lines)
        else (np.zeros(0, "int64"), np.zeros(0, bool))
    )
    stream = (
        lines["stream"].astype("string").fillna("").to_numpy() if len(lines) else np.zeros(0, dtype=object)
    )
    level = lines["level"].astype("string").fillna("").to_numpy() if len(lines) else np.zeros(0, dtype=object)
    msg = lines["message"] if len(lines) else pd.Series([], dtype="string")
    out["docker_lines"] = _count(idx, keep, n)
    out["docker_stderr_lines"] = _count(idx, keep & (stream == "stderr"), n)
    out["docker_error_lines"] = _count(idx, keep & np.isin(level, ["error", "critical"]), n)
    out["docker_warning_lines"] = _count(idx, keep & (level == "warning"), n)
    out["docker_tracebacks"] = _count(idx, keep & _contains(msg, _TRACEBACK), n)
    out["docker_disk_full"] = _count(idx, keep & _contains(msg, _DISK_FULL), n)
    eidx, ekeep = (
        _window_index(events["ts"], start_ns, window_ns, n)
        if len(events)
        else (np.zeros(0, "int64"), np.zeros(0, bool))
    )
    action = (
        events["action"].astype("string").fillna("").to_numpy() if len(events) else np.zeros(0, dtype=object)
    )
    code = (
        pd.to_numeric(events["exit_code"], errors="coerce").fillna(0).to_numpy()
        if len(events)
        else np.zeros(0)
    )
    out["docker_dies"] = _count(eidx, ekeep & (action == "die"), n)
    out["docker_nonzero_exits"] = _count(eidx, ekeep & (action == "die") & (code != 0), n)
    out["docker_ooms"] = _count(eidx, ekeep & (action == "oom"), n)
    out["docker_starts"] = _count(eidx, ekeep & np.isin(action, ["start", "restart"]), n)
    out["docker_kills"] = _count(eidx, ekeep & (action == "kill"), n)
    out["docker_unhealthy"] = _count(eidx, ekeep & (np.char.find(action.astype(str), "unhealthy") >= 0), n)


def window_grid(
    host: str, start: datetime | pd.Timestamp, end: datetime | pd.Timestamp, window: str
) -> pd.DataFrame:
    """host, window_start, window_end for every window in [start, end)."""
    starts = pd.date_range(
        pd.Timestamp(start).tz_convert("UTC")
        if pd.Timestamp(start).tzinfo
        else pd.Timestamp(start, tz="UTC"),
        pd.Timestamp(end).tz_convert("UTC") if pd.Timestamp(end).tzinfo else pd.Timestamp(end, tz="UTC"),
        freq=window,
        inclusive="left",
    ).astype(TS)
    return pd.DataFrame(
        {
            "host": pd.array([host] * len(starts), dtype="string"),
            "window_start": starts,
            "window_end": (starts + pd.Timedelta(window)).astype(TS),
        }
    )


def _table(tables: dict[str, pd.DataFrame], name: str) -> pd.DataFrame:
    """The named table, or an empty one with its contract columns when the source had nothing."""
    df = tables.get(name)
    return df if df is not None and len(df) else empty_frame(TABLES[name])


def build_window_features(
    tables: dict[str, pd.DataFrame],
    host: str,
    start: datetime | pd.Timestamp,
    end: datetime | pd.Timestamp,
    *,
    window: str = "1min",
    expected_gpus: int | None = None,
) -> pd.DataFrame:
    """Feature frame of one host over [start, end): KEY_COLUMNS + FEATURE_NAMES, one row per window.

    ``expected_gpus`` is the host's GPU count; when None, the number of distinct GPUs seen in the
    input is used (so a GPU missing for the whole input cannot be noticed - pass it when known).
    """
    grid = window_grid(host, start, end, window)
    n = len(grid)
    start_ns = int(pd.Timestamp(grid["window_start"].iloc[0]).value) if n else 0
    window_ns = int(pd.Timedelta(window).value)
    out: dict[str, np.ndarray] = {}
    _gpu_features(
        _table(tables, "gpu_samples"),
        _table(tables, "gpu_errors"),
        start_ns,
        window_ns,
        n,
        expected_gpus,
        out,
    )
    _journal_features(_table(tables, "journal_entries"), start_ns, window_ns, n, out)
    _kernel_features(_table(tables, "kernel_events"), start_ns, window_ns, n, out)
    _docker_features(
        _table(tables, "docker_lines"), _table(tables, "docker_events"), start_ns, window_ns, n, out
    )
    feats = pd.DataFrame({name: out[name].astype("float64") for name in FEATURE_NAMES})
    return pd.concat([grid, feats], axis=1)


def build_template_counts(
    tables: dict[str, pd.DataFrame],
    host: str,
    start: datetime | pd.Timestamp,
    end: datetime | pd.Timestamp,
    *,
    window: str = "1min",
) -> pd.DataFrame:
    """LONG counts of log templates per window: host, window_start, template_id (NA = unmatched), count.

    Reads the ``template_id`` column of journal_entries and docker_lines (filled by the template miner).
    """
    grid = window_grid(host, start, end, window)
    n = len(grid)
    window_ns = int(pd.Timedelta(window).value)
    start_ns = int(pd.Timestamp(grid["window_start"].iloc[0]).value) if n else 0
    parts = []
    for name in ("journal_entries", "docker_lines"):
        df = tables.get(name)
        if df is None or df.empty or "template_id" not in df.columns:
            continue
        idx, keep = _window_index(df["ts"], start_ns, window_ns, n)
        parts.append(
            pd.DataFrame({"w": idx[keep], "template_id": df["template_id"].astype("string").to_numpy()[keep]})
        )
    if not parts or not any(len(p) for p in parts):
        return pd.DataFrame(
            {
                "host": pd.Series(dtype="string"),
                "window_start": pd.Series(dtype=TS),
                "template_id": pd.Series(dtype="string"),
                "count": pd.Series(dtype="int64"),
            }
        )
    long = pd.concat(parts, ignore_index=True)
    counts = long.groupby(["w", "template_id"], dropna=False, sort=True).size().rename("count").reset_index()
    return pd.DataFrame(
        {
            "host": pd.array([host] * len(counts), dtype="string"),
            "window_start": grid["window_start"].to_numpy()[counts["w"].to_numpy(dtype="int64")],
            "template_id": counts["template_id"].astype("string"),
            "count": counts["count"].astype("int64"),
        }
    ).astype({"window_start": TS})


def assign_templates(tables: dict[str, pd.DataFrame], miner: Any) -> dict[str, pd.DataFrame]:
    """Copy of ``tables`` with ``template_id`` of journal/docker messages matched by ``miner`` (read-only).

    Unmatched messages get NA (a "new template" signal); the miner is never changed here, so scoring
    can not shift the template vocabulary a model was trained on.
    """
    out = dict(tables)
    for name in ("journal_entries", "docker_lines"):
        df = tables.get(name)
        if df is None or df.empty:
            continue
        df = df.copy()
        ids = miner.match(df["message"].astype("string").fillna("").tolist())
        df["template_id"] = pd.array(ids, dtype="string")
        out[name] = df
    return out
