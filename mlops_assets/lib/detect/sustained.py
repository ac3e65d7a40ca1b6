"""Sustained-deviation evidence: the mean of the last k windows of a host against its own baseline.

Why: some faults never stand out in one window but never go away either. A filling disk writes one
"no space left on device" line every ~25 s, spread over five templates: each 1-minute window holds one
or two such lines, well inside the noise of a single window (score ~0.70-0.79 against a threshold
~0.75), yet every window of the 18 minutes has them. The trailing mean of k consecutive windows has
~sqrt(k) less noise, so the same shift becomes a large robust z.

Only the columns with a "worse" direction in the registry are smoothed (rising event/template counts,
a falling fan or power limit); load-driven telemetry swings both ways in normal operation and stays
the forest's job. Baselines are the median and IQR of the training period's trailing means, per host
when the host had enough training windows (else pooled), with a scale floor for counts of
``count_floor`` log1p units (one window's floor over ~sqrt(k), with margin). A trailing mean is only
defined where the k rows are k consecutive windows of the same host: a gap in collection never lets
windows far apart stand in for a sustained state.

Measured (train seed 7 at six start hours, each scored on itself and on held-out seeds 5/11/13/23/
99/1234): k=5, floor 0.3 moves the filling disk from 0.68-0.79 to >= 0.787 against thresholds
0.750-0.763, with the false alarms per host-day unchanged or lower (max 2.0). A floor of 0.4 left
the disk at 0.755 (missed twice); k=8 added false alarms (up to 3.0).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

CenterScale = Callable[[np.ndarray, list[str], float], tuple[np.ndarray, np.ndarray]]


def host_runs(hosts: np.ndarray | None, n: int) -> tuple[np.ndarray, list[str]]:
    """(cut points, host of each run) of runs of equal hosts; one anonymous run when no hosts.

    Element-wise comparison of neighbours (~1 ms per 100k rows, 10x faster than factorizing).
    """
    if hosts is None or n == 0:
        return np.array([0, n]), [""]
    cuts = np.r_[0, np.flatnonzero(hosts[1:] != hosts[:-1]) + 1, n]
    return cuts, ["" if hosts[a] is None or hosts[a] is pd.NA else str(hosts[a]) for a in cuts[:-1]]


def trailing_mean(
    x: np.ndarray, hosts: np.ndarray | None, starts_ns: np.ndarray | None, k: int, window_ns: int
) -> np.ndarray:
    """Mean of each row and its k-1 predecessors (NaN-aware), rows sorted by host then time.

    NaN where fewer than k rows precede in the same host run, or where those k rows do not span
    exactly k consecutive windows (``starts_ns`` given).
    """
    n = len(x)
    out = np.full(x.shape, np.nan)
    if n < k or k < 1:
        return out
    cuts, _ = host_runs(hosts, n)
    for a, b in zip(cuts[:-1], cuts[1:], strict=True):
        if b - a >= k:  # sums restart per host: a host's means never carry another host's rounding
            out[a + k - 1 : b] = _run_means(
                x[a:b], None if starts_ns is None else starts_ns[a:b], k, window_ns
            )
    return out


def _run_means(x: np.ndarray, starts_ns: np.ndarray | None, k: int, window_ns: int) -> np.ndarray:
    """Trailing means of rows k-1.. of one host's rows (NaN where the k windows are not consecutive)."""
    total = np.empty((len(x) + 1, x.shape[1]))
    total[0] = 0.0
    missing = np.isnan(x)
    if missing.any():  # NaN-aware: a mean over the windows that have the value
        np.cumsum(np.where(missing, 0.0, x), axis=0, out=total[1:])
        present = np.zeros((len(x) + 1, x.shape[1]))
        np.cumsum(~missing, axis=0, dtype="float64", out=present[1:])
        counts = present[k:] - present[:-k]
        with np.errstate(invalid="ignore", divide="ignore"):
            means = (total[k:] - total[:-k]) / counts
        means[counts == 0] = np.nan
    else:
        np.cumsum(x, axis=0, out=total[1:])
        means = total[k:] - total[:-k]
        means /= k
    if starts_ns is not None:
        gap = starts_ns[k - 1 :] - starts_ns[: len(x) - k + 1] != (k - 1) * window_ns
        means[gap] = np.nan
    return means


@dataclass
class SustainedBaseline:
    """Per-host robust centre/scale of the trailing k-window means of the directed columns."""

    k: int
    window_ns: int
    columns: list[int]  # indices into the model's columns (directed ones only)
    sign: np.ndarray  # +1 rise is worse, -1 drop is worse, per entry of ``columns``
    median: np.ndarray
    scale: np.ndarray
    host_median: dict[str, np.ndarray] = field(default_factory=dict)
    host_scale: dict[str, np.ndarray] = field(default_factory=dict)

    @classmethod
    def fit(
        cls,
        x: np.ndarray,
        hosts: np.ndarray,
        starts_ns: np.ndarray,
        names: list[str],
        signs: np.ndarray,
        *,
        k: int,
        window_ns: int,
        count_floor: float,
        min_host_windows: int,
        center_scale: CenterScale,
    ) -> SustainedBaseline:
        cols = [int(j) for j in np.flatnonzero(signs)]
        sub_names = [names[j] for j in cols]
        means = trailing_mean(x[:, cols], hosts, starts_ns, k, window_ns)
        defined = ~np.isnan(means).all(axis=1)
        if not defined.any():
            raise ValueError(
                f"no run of {k} consecutive windows of one host in the training data: "
                "train on more contiguous data or lower sustained_windows"
            )
        median, scale = center_scale(means[defined], sub_names, count_floor)
        base = cls(k, window_ns, cols, signs[cols].astype("float64"), median, scale)
        for h in sorted(set(hosts.tolist())):
            rows = (hosts == h) & defined
            if rows.sum() >= min_host_windows:
                base.host_median[h], base.host_scale[h] = center_scale(means[rows], sub_names, count_floor)
        return base

    def _baseline(self, host: str) -> tuple[np.ndarray, np.ndarray]:
        if host in self.host_median:
            return self.host_median[host], self.host_scale[host]
        return self.median, self.scale

    def max_z(
        self,
        x: np.ndarray,
        hosts: np.ndarray | None,
        starts_ns: np.ndarray | None,
        neutral: tuple[np.ndarray, np.ndarray] | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """(largest directed robust z per row, >= 0; the trailing means), rows sorted by host, time.

        ``neutral`` = (row mask, column mask over x's columns): those cells are left out of the means
        (a boot's log burst must not become five minutes of sustained evidence).
        """
        sub = x[:, self.columns]
        if neutral is not None and neutral[0].any():
            cols = neutral[1][self.columns]
            sub[np.ix_(neutral[0], cols)] = np.nan
        means = trailing_mean(sub, hosts, starts_ns, self.k, self.window_ns)
        out = np.zeros(len(x))
        if not len(x):
            return out, means
        cuts, run_hosts = host_runs(hosts, len(x))
        tmp = np.empty((int(np.diff(cuts).max()), len(self.columns)))
        with np.errstate(invalid="ignore"):
            for a, b, h in zip(cuts[:-1], cuts[1:], run_hosts, strict=True):
                med, scale = self._baseline(h)
                t = tmp[: b - a]
                np.subtract(means[a:b], med, out=t)
                t *= self.sign / scale
                out[a:b] = np.fmax.reduce(t, axis=1)  # ignores NaN (no mean yet)
        return np.maximum(np.nan_to_num(out, nan=0.0), 0.0), means

    def z_of(self, means: np.ndarray, hosts: np.ndarray | None) -> np.ndarray:
        """Directed robust z (NaN -> 0, >= 0) of given trailing means, for explaining a few rows."""
        z = np.zeros(means.shape)
        cuts, run_hosts = host_runs(hosts, len(means))
        with np.errstate(invalid="ignore"):
            for a, b, h in zip(cuts[:-1], cuts[1:], run_hosts, strict=True):
                med, scale = self._baseline(h)
                z[a:b] = (means[a:b] - med) * (self.sign / scale)
        return np.maximum(np.nan_to_num(z, nan=0.0), 0.0)
