"""The timeline picture of an incident: GPU telemetry and log rates with the anomalous windows shaded.

One PNG, drawn with matplotlib's object API (``Figure`` + Agg canvas, no pyplot global state, so it is
safe in threads and needs no display). Panels: one per telemetry metric present (the incident's GPU
in a strong line, the host's other GPUs faint for comparison), then log lines per minute by source
with the warning-or-worse rate. Every panel shades the windows the detector flagged and the
incident's span, and marks health events with vertical lines.
"""

from __future__ import annotations

import io

import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

METRICS: tuple[tuple[str, str], ...] = (
    ("temperature_c", "temperature (°C)"),
    ("power_w", "power (W)"),
    ("util_gpu_pct", "utilisation (%)"),
    ("sm_clock_mhz", "SM clock (MHz)"),
    ("fan_pct", "fan (%)"),
    ("ecc_uncorrected", "uncorrected ECC"),
)
LOUD = ("warning", "error", "critical")
ONE_MINUTE = pd.Timedelta("1min")


def _shade(
    ax, anomalous: pd.DataFrame, window: pd.Timedelta, span: tuple[pd.Timestamp, pd.Timestamp]
) -> None:
    ax.axvspan(span[0], span[1], color="#f5c518", alpha=0.18, lw=0)
    for w in pd.to_datetime(anomalous.get("window_start", pd.Series(dtype=object)), utc=True):
        ax.axvspan(w, w + window, color="#d62728", alpha=0.22, lw=0)


def _mark(ax, health: pd.DataFrame) -> None:
    for ts in pd.to_datetime(health.get("ts", pd.Series(dtype=object)), utc=True):
        ax.axvline(ts, color="#7b2cbf", lw=1.2, ls="--")


def timeline_png(
    telemetry: pd.DataFrame,
    lines: pd.DataFrame,
    anomalous: pd.DataFrame,
    health: pd.DataFrame,
    span: tuple[pd.Timestamp, pd.Timestamp],
    gpu_index: int | None,
    window: pd.Timedelta = ONE_MINUTE,
) -> bytes:
    """PNG bytes of the timeline around ``span`` (inputs already cut to the plotted interval)."""
    metrics = [
        (col, label)
        for col, label in METRICS
        if col in telemetry.columns and pd.to_numeric(telemetry[col], errors="coerce").notna().any()
    ]
    panels = len(metrics) + 1
    fig = Figure(figsize=(11, 1.7 * panels + 0.6), dpi=90, layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(panels, 1, sharex=True, squeeze=False)[:, 0]
    tele = telemetry.assign(ts=pd.to_datetime(telemetry["ts"], utc=True)) if len(telemetry) else telemetry
    for ax, (col, label) in zip(axes, metrics, strict=False):
        for gpu, g in tele.groupby("gpu_index", dropna=False):
            g = g.sort_values("ts")
            mine = gpu_index is not None and not pd.isna(gpu) and int(gpu) == int(gpu_index)
            style = {"lw": 1.8, "color": "#1f4e9c", "label": f"GPU {int(gpu)}"} if mine else {"lw": 0.7}
            if not mine:
                style.update(color="#999999" if gpu_index is not None else None, alpha=0.8)
            ax.plot(g["ts"], pd.to_numeric(g[col], errors="coerce"), **style)
        ax.set_ylabel(label, fontsize=8)
        if gpu_index is not None and ax is axes[0]:
            ax.legend(loc="upper left", fontsize=7)
    ax = axes[-1]
    if len(lines):
        ts = pd.to_datetime(lines["ts"], utc=True).dt.floor(window)
        grid = pd.date_range(min(ts.min(), span[0].floor(window)), max(ts.max(), span[1]), freq=window)

        def rate(frame: pd.DataFrame) -> pd.Series:  # zero-filled, so quiet minutes show as 0
            return frame.groupby("_t").size().reindex(grid, fill_value=0)

        for source, g in lines.assign(_t=ts).groupby("source"):
            r = rate(g)
            ax.step(r.index, r.to_numpy(), where="post", lw=1.0, label=f"{source} lines/min")
        loud = lines.assign(_t=ts)[lines["level"].isin(LOUD)]
        if len(loud):
            r = rate(loud)
            ax.step(r.index, r.to_numpy(), where="post", lw=1.8, color="#d62728", label="warning+ lines/min")
        ax.legend(loc="upper left", fontsize=7, ncol=4)
    else:
        ax.text(0.5, 0.5, "no log lines stored for this interval", ha="center", transform=ax.transAxes)
    ax.set_ylabel("log lines / min", fontsize=8)
    ax.set_xlabel("UTC", fontsize=8)
    for a in axes:
        _shade(a, anomalous, window, span)
        _mark(a, health)
        a.tick_params(labelsize=7)
        a.grid(alpha=0.25)
    title = f"GPU {gpu_index}" if gpu_index is not None else "all GPUs of the host"
    axes[0].set_title(
        f"{title}: red = windows the detector flagged, yellow = incident span, purple dashes = health events",
        fontsize=9,
    )
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()
