"""Score-over-time picture for the model and deployment assets (matplotlib, Agg backend).

Inlined in the asset's metadata as Markdown with a data URI, so the Dagster UI shows it without
access to the storage root; the same PNG is also written to storage.
"""

import base64
import io

import dagster as dg
import pandas as pd


def score_plot_png(scores: pd.DataFrame, threshold: float, labels: pd.DataFrame | None = None) -> bytes:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    hosts = sorted(scores["host"].astype(str).unique())
    fig, axes = plt.subplots(
        len(hosts) or 1, 1, figsize=(10, 2.2 * max(1, len(hosts))), sharex=True, squeeze=False
    )
    for ax, host in zip(axes[:, 0], hosts, strict=False):
        s = scores[scores["host"].astype(str) == host].sort_values("window_start")
        ax.plot(s["window_start"], s["score"], lw=0.7, label="score")
        ax.axhline(threshold, color="red", lw=0.8, ls="--", label="threshold")
        flagged = s[s["is_anomaly"]]
        ax.scatter(flagged["window_start"], flagged["score"], s=6, color="red")
        if labels is not None:
            for lab in labels[labels["host"].astype(str) == host].itertuples(index=False):
                ax.axvspan(lab.start, lab.end, color="orange", alpha=0.25)
        ax.set_ylabel(host, fontsize=8)
    axes[0, 0].set_title("anomaly score per window (orange: labelled faults)")
    buf = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buf, format="png", dpi=64)
    plt.close(fig)
    return buf.getvalue()


def inline_png(png: bytes, caption: str) -> dg.MarkdownMetadataValue:
    """Markdown that embeds ``png`` (the UI renders data-URI images in Markdown metadata)."""
    return dg.MetadataValue.md(f"![{caption}](data:image/png;base64,{base64.b64encode(png).decode()})")
