"""The design matrix of the detector: window features + top-K template counts, transformed.

One place defines which columns are counts (``log1p``-transformed, count scale floor), which
direction of a column is "worse" (from the feature registry), how the template vocabulary is chosen
and how the per-column robust centre/scale is measured, so training, scoring and serving agree.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from mlops_assets.lib.features.registry import DERIVED_BY_NAME, FEATURE_BY_NAME

TPL_PREFIX = "tpl__"
TPL_OTHER = "tpl_other"  # known templates outside the model's vocabulary
TPL_NEW = "tpl_new"  # messages no known template matches
RARE_EVENT_SHARE = 0.01  # a critical event seen in at most 1 % of a baseline's windows counts as rare


def is_count_column(name: str) -> bool:
    return (
        name.startswith("tpl")
        or FEATURE_BY_NAME.get(name) is not None
        and FEATURE_BY_NAME[name].unit == "count"
    )


def worse_sign(name: str) -> float:
    """+1 when a rise of the column means a sicker host, -1 for a drop, 0 for neither (see Feature.worse).

    "both" columns get +1 here; their drop is judged by a second pass (lib/detect/layers.py). The
    model's derived columns (registry DERIVED_FEATURES: the temperature excess) carry their own.
    """
    if name.startswith("tpl"):
        return 1.0
    f = FEATURE_BY_NAME.get(name) or DERIVED_BY_NAME.get(name)
    return {"up": 1.0, "down": -1.0, "both": 1.0}.get(f.worse, 0.0) if f is not None else 0.0


def is_volume_column(name: str) -> bool:
    """Counts whose rate follows load (Feature.volume, every template bucket): judged only beyond the
    host's calibrated rate (its training 99.9th percentile), never against the median."""
    if name.startswith("tpl"):
        return True
    f = FEATURE_BY_NAME.get(name)
    return f is not None and f.volume


def is_rate_column(name: str) -> bool:
    """Counts judged against the host's calibrated rate (its training 99.9th percentile per window)
    rather than its median: every count except the critical events (Feature.critical), which are
    judged against zero. A sparse count's median is 0 and its IQR 0, so against the median ten
    routine error lines in a minute of real chatter were an alarm; against the host's busiest normal
    minute they are not, and a burst far beyond it still is."""
    if name.startswith("tpl"):
        return True
    f = FEATURE_BY_NAME.get(name)
    return f is not None and f.unit == "count" and not f.critical


def is_log_column(name: str) -> bool:
    """Log-derived, non-critical columns: in a boot phase they are judged against earlier boots."""
    if name.startswith("tpl"):
        return True
    f = FEATURE_BY_NAME.get(name)
    return f is not None and f.source != "gpu" and not f.critical and f.name != "uptime_min_s"


def sustained_sign(name: str) -> float:
    """``worse_sign`` for the sustained term: 0 for volume totals and for the vocabulary templates.

    The vocabulary is the top-K templates by windows seen, i.e. routine chatter whose rate follows
    load like a volume total; trouble shows as error counts and as the rare/unknown buckets.
    """
    if name.startswith(TPL_PREFIX):
        return 0.0
    f = FEATURE_BY_NAME.get(name)
    return 0.0 if f is not None and f.volume else worse_sign(name)


def choose_vocabulary(template_counts: pd.DataFrame, k: int) -> list[str]:
    """Top-k template ids by the number of windows they appear in (ties: id order, deterministic)."""
    if template_counts.empty:
        return []
    tc = template_counts.dropna(subset=["template_id"])
    windows = tc.groupby("template_id", sort=True).size().sort_values(ascending=False, kind="stable")
    return [str(t) for t in windows.index[:k]]


def utc_ns(times: pd.Series) -> np.ndarray:
    """Timestamps as int64 UTC nanoseconds (any unit, naive read as UTC)."""
    if isinstance(times.dtype, pd.DatetimeTZDtype) and str(times.dtype.tz) == "UTC":
        return times.dt.as_unit("ns").array.asi8  # the usual case: no parsing, no cache probing
    return pd.to_datetime(times, utc=True).dt.as_unit("ns").array.asi8


def _row_of_count(features: pd.DataFrame, template_counts: pd.DataFrame) -> np.ndarray:
    """Row of ``features`` with the same (host, window_start) for each template-count row, -1 if none.

    Keys are packed into one int64 (host code * time span + time offset): a hash lookup of integers,
    ~2x faster than a (host, time) MultiIndex on 300k counts.
    """
    f_host, hosts = pd.factorize(features["host"].astype("string"))
    c_host = pd.Index(hosts).get_indexer(template_counts["host"].astype("string"))
    f_t, c_t = utc_ns(features["window_start"]), utc_ns(template_counts["window_start"])
    lo = min(int(f_t.min()), int(c_t.min()))
    span = max(int(f_t.max()), int(c_t.max())) - lo + 1
    if span * (len(hosts) + 1) >= 2**62:  # decades of nanoseconds: fall back to the MultiIndex
        rows = pd.MultiIndex.from_arrays([f_host, f_t])
        return np.where(c_host < 0, -1, rows.get_indexer(pd.MultiIndex.from_arrays([c_host, c_t])))
    pos = pd.Index(f_host.astype("int64") * span + (f_t - lo)).get_indexer(
        c_host.astype("int64") * span + (c_t - lo)
    )
    return np.where(c_host < 0, -1, pos)


def template_matrix(
    features: pd.DataFrame, template_counts: pd.DataFrame, vocabulary: list[str]
) -> np.ndarray:
    """Raw counts per ``features`` row: one column per vocabulary template, then "other", then "new"."""
    n = len(features)
    tpl = np.zeros((n, len(vocabulary) + 2))
    if n and not template_counts.empty:
        pos = _row_of_count(features, template_counts)
        tid = template_counts["template_id"].astype("string")
        col = pd.Categorical(tid, categories=pd.Index(vocabulary, dtype="string")).codes.astype("int64")
        col = np.where(tid.isna().to_numpy(), len(vocabulary) + 1, np.where(col < 0, len(vocabulary), col))
        ok = pos >= 0
        np.add.at(tpl, (pos[ok], col[ok]), template_counts["count"].to_numpy(dtype="float64")[ok])
    return tpl


def template_columns(vocabulary: list[str]) -> list[str]:
    return [TPL_PREFIX + t for t in vocabulary] + [TPL_OTHER, TPL_NEW]


def wide_frame(features: pd.DataFrame, template_counts: pd.DataFrame, vocabulary: list[str]) -> pd.DataFrame:
    """Features + one column per vocabulary template + other/new buckets, aligned to ``features`` rows."""
    wide = features.reset_index(drop=True)
    tpl = template_matrix(wide, template_counts, vocabulary)
    return pd.concat([wide, pd.DataFrame(tpl, columns=template_columns(vocabulary))], axis=1)


def design_matrix(
    features: pd.DataFrame,
    template_counts: pd.DataFrame,
    columns: list[str],
    vocabulary: list[str],
    pad: int = 0,
) -> np.ndarray:
    """``matrix(wide_frame(...), columns)`` without building the wide frame (the scoring hot path)."""
    tpl = template_matrix(features, template_counts, vocabulary)
    return matrix(features, columns, dict(zip(template_columns(vocabulary), tpl.T, strict=True)), pad)


def matrix(
    wide: pd.DataFrame, columns: list[str], extra: dict[str, np.ndarray] | None = None, pad: int = 0
) -> np.ndarray:
    """Transformed design matrix in ``columns`` order (missing template columns 0, missing features NaN).

    ``extra`` supplies raw columns that are not in ``wide`` (the template counts). Filled column by
    column (log1p applied on the 1-D column) so no full-matrix temporaries are made. ``pad`` extra
    NaN columns at the end leave room for the model's derived columns without a copy.
    """
    x = np.empty((len(wide), len(columns) + pad), dtype="float64")
    x[:, len(columns) :] = np.nan
    for j, c in enumerate(columns):
        if extra is not None and c in extra:
            col = extra[c]
        elif c in wide.columns:
            raw = wide[c]
            if not pd.api.types.is_numeric_dtype(raw.dtype):
                raw = pd.to_numeric(raw, errors="coerce")  # e.g. strings from a JSON request
            col = raw.to_numpy(dtype="float64", na_value=np.nan)
        else:
            x[:, j] = 0.0 if c.startswith("tpl") else np.nan
            continue
        if is_count_column(c):
            np.log1p(np.maximum(col, 0.0), out=x[:, j])
        else:
            x[:, j] = col
    return x


def robust_center_scale(
    x: np.ndarray, columns: list[str], floor: float, critical_floor: float | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Per-column median and max(IQR/1.349, floor); ``critical_floor`` for ``Feature.critical`` counts."""
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns (fanless boards) -> handled below
        med = np.nanmedian(x, axis=0)
        iqr = np.nanpercentile(x, 75, axis=0) - np.nanpercentile(x, 25, axis=0)
        std = np.nanstd(x, axis=0)
    med = np.where(np.isnan(med), 0.0, med)
    counts = np.array([is_count_column(c) for c in columns])
    count_floor = np.full(len(columns), floor)
    if critical_floor is not None:  # only where the event is rare for this baseline: a host with chronic
        # OOM kills must not turn each one into an alarm (and push the calibrated threshold above all else)
        critical = np.array([c in FEATURE_BY_NAME and FEATURE_BY_NAME[c].critical for c in columns])
        with np.errstate(invalid="ignore"):
            rare = np.nanmean(np.nan_to_num(x, nan=0.0) > 0, axis=0) <= RARE_EVENT_SHARE
        count_floor[critical & rare] = critical_floor
    # continuous floor: a small share of the typical magnitude, so a flat-but-nonzero series is not infinitely tight
    cont_floor = np.maximum(0.05 * np.abs(med), np.nan_to_num(0.25 * std, nan=0.0)) + 1e-6
    scale = np.maximum(np.nan_to_num(iqr / 1.349, nan=0.0), np.where(counts, count_floor, cont_floor))
    return med, scale
