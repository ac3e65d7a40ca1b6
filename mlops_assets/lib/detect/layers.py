"""The detector's layers evaluated on a transformed design matrix: baseline evidence and the forest.

Baseline layer (per host, and per GPU where the column is per GPU): the largest robust z of a window
in each column's "worse" direction (registry ``Feature.worse``; "both" columns in both), against
- the host's training median, for ordinary columns;
- the host's calibrated rate (training 99.9th percentile) for volume-like columns (line totals,
  template buckets, new info-level lines): volume alone is no alarm below what the host has done before;
- zero, for the GPUs' temperature excess over what their power predicts (lib/detect/baselines.py);
- the training's earlier boots for the log columns of windows in a start-up/shutdown phase (their
  largest value, pooled over hosts); with no boot in the training, such columns are not judged at all
  in a boot phase (critical events - fatal Xid, OOM kill, hung task, soft lockup - always are).
Forest layer: IsolationForest on the per-host robust z of the host-level columns (clipped to +-10),
so it looks for unusual combinations, not for a host being another host.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from mlops_assets.lib.detect.sustained import host_runs

SCORE_CHUNK = 16_384
Z_CLIP = 10.0


@dataclass
class Baseline:
    """Per-column centre (median; calibrated rate for volumes), lower centre for "both", scale."""

    center: np.ndarray
    center_down: np.ndarray
    scale: np.ndarray


def to_unit_score(z: np.ndarray, z_scale: float) -> np.ndarray:
    """A non-negative robust z onto the IsolationForest's 0.5..1 range: 1 - 0.5 * exp(-z / z_scale)."""
    return 1.0 - 0.5 * np.exp(-z / z_scale)


def directed(
    x: np.ndarray,
    base: Baseline,
    sign: np.ndarray,
    both: np.ndarray,
    out: np.ndarray | None = None,
) -> np.ndarray:
    """Directed robust z of every cell (>= 0 means worse), for rows of one baseline."""
    t = np.subtract(x, base.center, out=out)
    t *= sign / base.scale
    if both.any():
        cols = np.flatnonzero(both)
        v = x[:, cols]
        down = (base.center_down[cols] - v) / base.scale[cols]
        down[v <= 0] = 0.0  # no sample at all is a collection gap, not a slow collector
        np.fmax(t[:, cols], down, out=down)
        t[:, cols] = down
    return t


def deviation(
    x: np.ndarray,
    hosts: np.ndarray | None,
    baseline_of,
    sign: np.ndarray,
    both: np.ndarray,
    boot: np.ndarray,
    boot_base: Baseline | None,
    log_cols: np.ndarray,
    boot_skip: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """(largest directed z per row >= 0, its column index; -1 when nothing is worse).

    ``boot_skip``: columns not judged at all in a boot phase (the temperature excess: no power history).
    """
    n = len(x)
    z = np.zeros(n)
    arg = np.full(n, -1, dtype="int64")
    if not n:
        return z, arg
    cuts, run_hosts = host_runs(hosts, n)
    tmp = np.empty((int(np.diff(cuts).max()), x.shape[1]))
    with np.errstate(invalid="ignore"):
        for a, b, h in zip(cuts[:-1], cuts[1:], run_hosts, strict=True):
            base = baseline_of(h)
            t = directed(x[a:b], base, sign, both, out=tmp[: b - a])
            np.copyto(t, -np.inf, where=np.isnan(t))
            boot_rows = np.flatnonzero(boot[a:b])
            if len(boot_rows):
                t[boot_rows] = _boot_z(x[a:b][boot_rows], t[boot_rows], boot_base, sign, log_cols)
                if boot_skip is not None:
                    t[np.ix_(boot_rows, np.flatnonzero(boot_skip))] = -np.inf
            arg[a:b] = np.argmax(t, axis=1)
            z[a:b] = t[np.arange(b - a), arg[a:b]]
    bad = ~np.isfinite(z) | (z <= 0)
    z[bad] = 0.0
    arg[bad] = -1
    return z, arg


def _boot_z(
    x: np.ndarray, t: np.ndarray, boot_base: Baseline | None, sign: np.ndarray, log_cols: np.ndarray
) -> np.ndarray:
    t = t.copy()
    if boot_base is None:
        t[:, log_cols] = -np.inf
        return t
    with np.errstate(invalid="ignore"):
        bz = (x[:, log_cols] - boot_base.center[log_cols]) * (sign[log_cols] / boot_base.scale[log_cols])
    t[:, log_cols] = np.nan_to_num(bz, nan=-np.inf)
    return t


def full_z(
    x: np.ndarray, hosts: np.ndarray | None, baseline_of, sign: np.ndarray, both: np.ndarray
) -> np.ndarray:
    """Directed z of every cell for the few rows being explained (NaN -> 0)."""
    z = np.zeros(x.shape)
    cuts, run_hosts = host_runs(hosts, len(x))
    with np.errstate(invalid="ignore"):
        for a, b, h in zip(cuts[:-1], cuts[1:], run_hosts, strict=True):
            z[a:b] = directed(x[a:b], baseline_of(h), sign, both)
    return np.nan_to_num(z, nan=0.0, posinf=0.0, neginf=0.0)


def forest_input(
    x: np.ndarray,
    hosts: np.ndarray | None,
    baseline_of,
    cols: np.ndarray,
    boot: np.ndarray,
    log_cols: np.ndarray,
) -> np.ndarray:
    """Per-host robust z of the forest's columns, clipped; log columns neutral in boot phases."""
    out = np.empty((len(x), len(cols)))
    cuts, run_hosts = host_runs(hosts, len(x))
    with np.errstate(invalid="ignore"):
        for a, b, h in zip(cuts[:-1], cuts[1:], run_hosts, strict=True):
            base = baseline_of(h)
            np.divide(x[a:b, cols] - base.center[cols], base.scale[cols], out=out[a:b])
    np.clip(out, -Z_CLIP, Z_CLIP, out=out)
    np.nan_to_num(out, copy=False, nan=0.0)
    if boot.any():
        lc = np.flatnonzero(log_cols[cols])
        out[np.ix_(np.flatnonzero(boot), lc)] = 0.0
    return out


def forest_scores(forest, z: np.ndarray) -> np.ndarray:
    """-score_samples, chunked over 2 threads (score_samples ignores n_jobs; trees release the GIL)."""
    if forest is None or not len(z):
        return np.full(len(z), 0.5)
    if len(z) <= SCORE_CHUNK:
        return -forest.score_samples(z)
    n_chunks = 2 * -(-len(z) // (2 * SCORE_CHUNK))
    step = -(-len(z) // n_chunks)
    chunks = [z[i : i + step] for i in range(0, len(z), step)]
    with ThreadPoolExecutor(max_workers=2) as pool:
        return -np.concatenate(list(pool.map(forest.score_samples, chunks)))
