"""A freshly simulated, labelled period run through the production features path (demo and tests)."""

from __future__ import annotations

import tempfile
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd

from mlops_assets.simulate.core import DEFAULT_START, simulate
from mlops_assets.simulate.schedule import read_labels
from mlops_assets.sources.offline import features_from_raw_dir


def simulate_heldout(
    miner: Any, *, seed: int, hosts: int, hours: int, gpus: int, start: datetime | None = None
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """(features, template counts, labels) of a freshly simulated labelled period (seed != training)."""
    with tempfile.TemporaryDirectory(prefix="mlops-heldout-") as tmp:
        summary = simulate(
            Path(tmp), hosts=hosts, gpus=gpus, hours=hours, seed=seed, start=start or DEFAULT_START
        )
        feats, counts = [], []
        for host in summary.hosts:
            f, c = features_from_raw_dir(tmp, host, summary.start, summary.end, miner, expected_gpus=gpus)
            feats.append(f)
            counts.append(c)
        labels = read_labels(Path(tmp) / "labels.csv")
    return pd.concat(feats, ignore_index=True), pd.concat(counts, ignore_index=True), labels
