"""Learned baselines that follow the load: each GPU's temperature given its power, and the start-up phase.

Temperature alone says little: a consumer RTX 3090 at its 350 W limit runs at 80+ degC by design, an
idle H100 at 30. What a failing cooler changes is the temperature FOR A GIVEN POWER. Per host and GPU,
``temp = a + b0 * power + b1 * power[-1] + b2 * power[-2]`` is fitted on the training windows
(least squares, refitted once without the residuals beyond 3.5 robust sigmas, so faults inside the
training range do not bend it; the previous two minutes' power enter because heat lags power by a
minute or two: a card that just went idle is still hot).
Its residual, minus the median residual of the hour of day where the training covers >= 2 days and
the hourly medians differ by > 1 degC (a room that warms in the afternoon), is the GPU's "temperature
excess" column ``gpu<i>_temp_excess_c``: up is worse (a card 10 degC hotter than its power predicts
is a cooling fault; a hot card under full load predicts its own heat). A cooler-than-predicted card
is not a failure this layer acts on.

Relative to the host's peers where the host has >= 2 cards with a baseline: the column is the card's
own residual minus the median own residual of the host's OTHER cards at the same minute. Cards in one
chassis share the inlet air, so a room or chassis that warms by 5 degC lifts every card's residual
alike and cancels; a card much hotter than its siblings at its own power is that card's fan, heatsink
or airflow. Where no other card has a residual at that minute, the own residual stands. A 1-card
host keeps its own-baseline residual (nothing to compare with: a warmer room is then judged as a
cooling fault of its card). What this no longer sees: a chassis-wide cooling loss that heats every
card alike below the slowdown threshold (the health rules catch HW/SW thermal slowdown and
over-temperature; the drift report sees the common shift). The residual scale of a relative column
is measured on the relative training residuals.

The start-up phase: a window is in it when the journal says the boot is < ``BOOT_PHASE_S`` old
(journald cursor's monotonic ``m=``) or a boot/shutdown marker appeared in it or in the previous
``BOOT_TRAIL`` windows. Log evidence of such windows is judged against the training's earlier boots
(lib/detect/model.py), not against steady state.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from mlops_assets.lib.detect.sustained import host_runs
from mlops_assets.lib.features.registry import MAX_GPUS, per_gpu_name

BOOT_PHASE_S = 900.0
BOOT_TRAIL = 15
MIN_FIT_WINDOWS = 240  # windows of one GPU with temperature and power before its baseline is trusted
MIN_POWER_SPREAD_W = 15.0  # below it the board's own power says nothing about its heat: slope borrowed
BORROWED_FLOOR_C = 3.0  # residual scale floor of a board judged with a borrowed slope
RESIDUAL_FLOOR_C = 1.0
# the scale is at least such that the training's 99.95th percentile residual is z = TAIL_Z (below any
# alarm floor): load steps leave a few degC of transient residual that no lag term removes
TAIL_QUANTILE, TAIL_Z = 0.9995, 4.0
PEER_WINDOW = 10  # windows of the peers' common mode (median of medians): longer than a load-step transient
SHED_WINDOWS, SHED_W = 4, 50.0  # excess not judged this many windows after the power fell by > SHED_W
EXCESS_COLUMNS = [per_gpu_name(i, "temp_excess_c") for i in range(MAX_GPUS)]


def _prev(
    v: np.ndarray, hosts: np.ndarray | None, starts_ns: np.ndarray | None, window_ns: int
) -> np.ndarray:
    """The previous window's value of the same host (the value itself where there is none)."""
    out = np.r_[v[:1], v[:-1]].astype("float64")
    if len(v):
        cuts, _ = host_runs(hosts, len(v))
        out[cuts[:-1]] = v[cuts[:-1]]
        if starts_ns is not None:
            gap = np.r_[True, np.diff(starts_ns) != window_ns]
            out[gap] = v[gap]
    return np.where(np.isnan(out), v, out)


def _design(p: np.ndarray, starts_ns: np.ndarray | None, window_ns: int) -> np.ndarray:
    p1 = _prev(p, None, starts_ns, window_ns)
    p2 = _prev(p1, None, starts_ns, window_ns)
    return np.column_stack([np.ones(len(p)), p, p1, p2])


@dataclass
class ThermalBaseline:
    """Per (host, GPU): coefficients of temp ~ power and its two lags; residual scale; hour offsets."""

    window_ns: int
    coef: dict[tuple[str, int], np.ndarray] = field(default_factory=dict)
    scale: dict[tuple[str, int], float] = field(default_factory=dict)
    hourly: dict[tuple[str, int], np.ndarray] = field(default_factory=dict)  # 24 offsets, degC
    relative: set[str] = field(default_factory=set)  # hosts judged against their peers (>= 2 cards)
    floor: dict[tuple[str, int], float] = field(default_factory=dict)  # scale floor (borrowed slope)

    @classmethod
    def fit(
        cls,
        x: np.ndarray,
        columns: list[str],
        hosts: np.ndarray,
        starts_ns: np.ndarray | None,
        window_ns: int,
    ) -> ThermalBaseline:
        base = cls(window_ns)
        cuts, run_hosts = host_runs(hosts, len(x))
        for a, b, h in zip(cuts[:-1], cuts[1:], run_hosts, strict=True):
            st = None if starts_ns is None else starts_ns[a:b]
            idle: list[tuple[int, np.ndarray, np.ndarray, np.ndarray]] = []
            slopes = []
            for i in range(MAX_GPUS):
                t = x[a:b, columns.index(per_gpu_name(i, "temp_c"))]
                p = x[a:b, columns.index(per_gpu_name(i, "power_w"))]
                ok = ~np.isnan(t) & ~np.isnan(p)
                if ok.sum() < MIN_FIT_WINDOWS:
                    continue
                design = _design(p, st, window_ns)[ok]
                if np.percentile(p[ok], 99.5) - np.percentile(p[ok], 0.5) < MIN_POWER_SPREAD_W:
                    idle.append((i, t[ok], design, ok))  # never loaded in training: slope borrowed below
                    continue
                coef, resid = _robust_fit(t[ok], design)
                slopes.append(coef[1:])
                base._store((h, i), coef, resid, None if st is None else st[ok], len(ok), 0.0)
            for i, t, design, ok in idle if slopes else []:
                # the host's other boards' heat per watt, this board's own idle level; a wider scale,
                # because the slope is not its own (a card that never ran in training is judged gently)
                slope = np.median(np.array(slopes), axis=0)
                coef = np.r_[float(np.median(t - design[:, 1:] @ slope)), slope]
                base._store((h, i), coef, t - design @ coef, None, len(ok), BORROWED_FLOOR_C)
            base._store_relative(h, base._own(x[a:b], columns, h, st, hours_of(st)))
        return base

    def _store_relative(self, host: str, own: np.ndarray) -> None:
        """Mark ``host`` peer-relative when >= 2 of its cards have a baseline; scales of the relative
        training residuals replace the own-residual scales (their noise is that of a difference)."""
        cards = [i for i in range(MAX_GPUS) if (host, i) in self.coef]
        if len(cards) < 2:
            return
        self.relative.add(host)
        rel = peer_relative(own, cards)
        for i in cards:
            r = rel[:, i][~np.isnan(rel[:, i])]
            if len(r) < MIN_FIT_WINDOWS:
                continue
            self.scale[(host, i)] = max(_robust_scale(r), RESIDUAL_FLOOR_C, self.floor[(host, i)])

    def _store(
        self,
        key: tuple[str, int],
        coef: np.ndarray,
        resid: np.ndarray,
        st: np.ndarray | None,
        n: int,
        floor: float,
    ) -> None:
        self.coef[key] = coef
        self.floor[key] = floor
        self.scale[key] = max(_robust_scale(resid), RESIDUAL_FLOOR_C, floor)
        if st is not None:
            self.hourly[key] = _hour_offsets(resid, st, n, self.window_ns)

    def excess(
        self, x: np.ndarray, columns: list[str], hosts: np.ndarray | None, starts_ns: np.ndarray | None
    ) -> np.ndarray:
        """(rows x MAX_GPUS) temperature excess, degC: own residual, minus the peers' median residual on
        hosts with >= 2 baselined cards (module docstring); NaN without a baseline."""
        out = np.full((len(x), MAX_GPUS), np.nan)
        if not self.coef or not len(x):
            return out
        cuts, run_hosts = host_runs(hosts, len(x))
        hours = hours_of(starts_ns)
        for a, b, h in zip(cuts[:-1], cuts[1:], run_hosts, strict=True):
            st = None if starts_ns is None else starts_ns[a:b]
            shed = np.zeros((b - a, MAX_GPUS), bool)
            own = self._own(x[a:b], columns, h, st, None if hours is None else hours[a:b], shed)
            if h in self.relative:
                own = peer_relative(own, [i for i in range(MAX_GPUS) if (h, i) in self.coef])
            # a card that just shed load is neutral (0), not missing: the sustained term's trailing means
            # must not be taken over the hot rows before it only
            out[a:b] = np.where(shed, 0.0, own)
        return out

    def _own(
        self,
        x: np.ndarray,
        columns: list[str],
        host: str,
        st: np.ndarray | None,
        hours: np.ndarray | None,
        shed: np.ndarray | None = None,
    ) -> np.ndarray:
        """Own-baseline residual of each card of one host's rows (NaN for cards without a baseline, and
        where the card just shed load with a reading: those rows are also set in ``shed`` when given)."""
        out = np.full((len(x), MAX_GPUS), np.nan)
        for i in range(MAX_GPUS):
            coef = self.coef.get((host, i))
            if coef is None:
                continue
            t = x[:, columns.index(per_gpu_name(i, "temp_c"))]
            p = x[:, columns.index(per_gpu_name(i, "power_w"))]
            r = t - _design(p, st, self.window_ns) @ coef
            off = self.hourly.get((host, i))
            if off is not None and hours is not None:
                r = r - off[hours]
            masked = shed_load(p)
            if shed is not None:
                shed[:, i] = masked & ~np.isnan(r)
            out[:, i] = np.where(masked, np.nan, r)
        return out

    def gpu_scale(self, host: str) -> np.ndarray:
        """Residual scale per GPU of ``host`` (NaN where the GPU has no baseline)."""
        return np.array([self.scale.get((host, i), np.nan) for i in range(MAX_GPUS)])


def hours_of(starts_ns: np.ndarray | None) -> np.ndarray | None:
    return None if starts_ns is None else ((starts_ns // 3_600_000_000_000) % 24).astype("int64")


def _robust_scale(resid: np.ndarray) -> float:
    """Larger of the MAD and the tail scale (the training's TAIL_QUANTILE residual at z = TAIL_Z)."""
    med = float(np.median(resid))
    mad = float(np.median(np.abs(resid - med))) * 1.4826
    return max(mad, (float(np.quantile(resid, TAIL_QUANTILE)) - med) / TAIL_Z)


def peer_relative(own: np.ndarray, cards: list[int], window: int = PEER_WINDOW) -> np.ndarray:
    """Each card's residual minus the common mode of the OTHER ``cards``: the median of their residuals
    at the row, or the median of that over the last ``window`` rows when it is larger, and never less
    than zero. The larger of the two: a room that warms cancels at once, and a peer's few-minute
    load-step transient (cooler than its fit for a while) does not read as this card's heat. So the
    relative excess is never above the own one. The own residual stands where no other card has one
    in the window."""
    out = own.copy()
    for i in cards:
        med = _row_median(own[:, [j for j in cards if j != i]])
        common = np.fmax(med, _row_median(_trailing(med, window)))
        # never below zero: peers cooler than their fits (a colder room, the start of a range whose lag
        # terms have no history) say nothing about this card's heat; the comparison only explains heat away
        out[:, i] = own[:, i] - np.nan_to_num(np.fmax(common, 0.0), nan=0.0)
    return out


def _row_median(v: np.ndarray) -> np.ndarray:
    """NaN-aware median of each row (sort-based: NaN sorts last); NaN for a row without values."""
    s = np.sort(v, axis=1)
    k = (~np.isnan(s)).sum(axis=1)
    lo = np.take_along_axis(s, (np.maximum(k - 1, 0) // 2)[:, None], axis=1)[:, 0]
    hi = np.take_along_axis(s, (k // 2)[:, None].clip(max=s.shape[1] - 1), axis=1)[:, 0]
    return np.where(k == 0, np.nan, np.where(k % 2 == 1, lo, 0.5 * (lo + hi)))


def _trailing(v: np.ndarray, window: int) -> np.ndarray:
    """(n, window) view of each row's value and its window - 1 predecessors (NaN before the start)."""
    padded = np.r_[np.full(window - 1, np.nan), v]
    return np.lib.stride_tricks.sliding_window_view(padded, window)


def shed_load(p: np.ndarray, k: int = SHED_WINDOWS) -> np.ndarray:
    """Rows where the card's power fell by more than SHED_W within the last ``k`` windows: heat lags
    power by the board's thermal time constant (1-2 min on air-cooled boards), so a card that just shed
    load is still hot for its new power. Its excess is not judged there (a fan fault persists past it)."""
    prior = np.fmax.reduce(_trailing(np.r_[np.nan, p[:-1]], k), axis=1) if len(p) else p
    with np.errstate(invalid="ignore"):
        return prior - p > SHED_W


def _robust_fit(t: np.ndarray, a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    keep = np.ones(len(t), bool)
    coef = np.zeros(a.shape[1])
    for _ in range(2):
        coef = np.linalg.lstsq(a[keep], t[keep], rcond=None)[0]
        resid = t - a @ coef
        mad = np.median(np.abs(resid - np.median(resid))) * 1.4826
        keep = np.abs(resid - np.median(resid)) <= max(3.5 * mad, RESIDUAL_FLOOR_C)
    return coef, t - a @ coef


def _hour_offsets(resid: np.ndarray, starts_ns: np.ndarray, n: int, window_ns: int) -> np.ndarray | None:
    """Median residual per hour of day, when >= 2 days cover every hour and the hours differ by > 1 degC."""
    if n * window_ns < 2 * 86_400_000_000_000:
        return None
    hours = (starts_ns // 3_600_000_000_000) % 24
    med = np.array([np.median(resid[hours == k]) if (hours == k).sum() >= 60 else np.nan for k in range(24)])
    if np.isnan(med).any() or med.max() - med.min() <= 1.0:
        return None
    return med - np.median(med)


def boot_phase(
    x: np.ndarray, columns: list[str], hosts: np.ndarray | None, starts_ns: np.ndarray | None
) -> np.ndarray:
    """Rows (sorted by host, time) in a start-up or shutdown phase (see the module docstring)."""
    up = x[:, columns.index("uptime_min_s")] if "uptime_min_s" in columns else np.full(len(x), np.nan)
    phase = np.nan_to_num(up, nan=np.inf) < BOOT_PHASE_S
    if "boot_markers" in columns and len(x):
        marked = np.nan_to_num(x[:, columns.index("boot_markers")]) > 0
        cuts, _ = host_runs(hosts, len(x))
        for a, b in zip(cuts[:-1], cuts[1:], strict=True):
            m = marked[a:b].astype("int64")
            c = np.cumsum(m)
            trail = c - np.r_[np.zeros(BOOT_TRAIL + 1, "int64"), c[: -(BOOT_TRAIL + 1)]][: len(c)]
            phase[a:b] |= trail > 0
    return phase
