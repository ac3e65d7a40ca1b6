"""Data drift between the champion's training features and recent features (Evidently 0.7).

Evidently takes ~6-10 s to import: it is imported inside `compute_drift` only, never at module
load, so the code location and the hot paths stay fast.
"""

from __future__ import annotations

import json
import warnings
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta

import numpy as np
import pandas as pd

ID_COLUMNS = ("host", "window_start", "window_end")


@dataclass(frozen=True)
class DriftSummary:
    drift_share: float  # share of compared features whose distribution drifted
    drifted: list[str]
    n_features: int
    dataset_drift: bool  # drift_share >= the share threshold
    share_threshold: float
    per_feature: pd.DataFrame  # feature, method, value, threshold, drifted
    reference_rows: int
    current_rows: int

    def to_json(self) -> dict:
        d = asdict(self)
        d["per_feature"] = self.per_feature.to_dict(orient="records")
        return d


def _is_drifted(method: str, value: float, threshold: float) -> bool:
    """Evidently reports a p-value for statistical tests and a distance for the others."""
    if "p_value" in method:
        return bool(value < threshold)
    return bool(value >= threshold)


def comparable_columns(reference: pd.DataFrame, current: pd.DataFrame) -> list[str]:
    """Numeric feature columns present in both and not constant in both (nothing to compare)."""
    cols = []
    for c in reference.columns:
        if c in ID_COLUMNS or c not in current.columns or not pd.api.types.is_numeric_dtype(reference[c]):
            continue
        both = pd.concat([reference[c], current[c]], ignore_index=True).dropna()
        if both.nunique() > 1:
            cols.append(c)
    return cols


def compute_drift(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    *,
    share_threshold: float = 0.3,
    feature_threshold: float = 0.2,
    html_path: str | None = None,
) -> DriftSummary:
    """Run Evidently's DataDriftPreset on the comparable feature columns; optionally save the HTML.

    Minute windows are autocorrelated, so p-value tests flag everything on a day of data; normed
    Wasserstein / Jensen-Shannon distances with ``feature_threshold`` (0.2 = a fifth of a reference
    standard deviation) flag shifts an operator would call real, and stay quiet on day-to-day noise.
    """
    if reference.empty or current.empty:
        raise ValueError(
            f"drift needs rows on both sides (reference={len(reference)}, current={len(current)})"
        )
    from evidently import Report
    from evidently.presets import DataDriftPreset

    cols = comparable_columns(reference, current)
    ref = reference[cols].astype("float64")
    cur = current[cols].astype("float64")
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        snapshot = Report(
            [
                DataDriftPreset(
                    drift_share=share_threshold,
                    num_method="wasserstein",
                    num_threshold=feature_threshold,
                    cat_method="jensenshannon",
                    cat_threshold=feature_threshold,
                )
            ]
        ).run(cur, ref)
    rows = []
    for metric in snapshot.dict()["metrics"]:
        cfg = metric["config"]
        if cfg.get("type", "").endswith("ValueDrift"):
            value = float(metric["value"])
            rows.append(
                {
                    "feature": cfg["column"],
                    "method": cfg["method"],
                    "value": value,
                    "threshold": float(cfg["threshold"]),
                    "drifted": _is_drifted(cfg["method"], value, float(cfg["threshold"])),
                }
            )
    per_feature = pd.DataFrame(rows, columns=["feature", "method", "value", "threshold", "drifted"])
    drifted = per_feature.loc[per_feature["drifted"], "feature"].tolist()
    share = len(drifted) / len(per_feature) if len(per_feature) else 0.0
    if html_path is not None:
        save_html(snapshot, html_path)
    return DriftSummary(
        share,
        drifted,
        len(per_feature),
        share >= share_threshold,
        share_threshold,
        per_feature,
        len(ref),
        len(cur),
    )


def save_html(snapshot: object, html_path: str) -> None:
    """Render locally, then publish atomically (works for local paths and object-store URLs)."""
    import os
    import tempfile

    from mlops_assets.lib.storage.partition_store import atomic_write_bytes

    fd, tmp = tempfile.mkstemp(suffix=".html")
    os.close(fd)
    try:
        snapshot.save_html(tmp)  # type: ignore[attr-defined]
        with open(tmp, "rb") as fh:
            atomic_write_bytes(html_path, fh.read())
    finally:
        os.unlink(tmp)


def score_shift(reference_scores: pd.Series, current_scores: pd.Series) -> dict[str, float]:
    """How the anomaly-score distribution moved: means, 99th percentiles and a KS statistic."""
    from scipy.stats import ks_2samp

    ref, cur = reference_scores.dropna().to_numpy(), current_scores.dropna().to_numpy()
    if len(ref) == 0 or len(cur) == 0:
        return {"score_mean_ref": float("nan"), "score_mean_cur": float("nan"), "score_ks": float("nan")}
    return {
        "score_mean_ref": float(np.mean(ref)),
        "score_mean_cur": float(np.mean(cur)),
        "score_p99_ref": float(np.quantile(ref, 0.99)),
        "score_p99_cur": float(np.quantile(cur, 0.99)),
        "score_ks": float(ks_2samp(ref, cur).statistic),
    }


@dataclass(frozen=True)
class RetrainPolicy:
    """Retrain only when drift persists K evaluations in a row, and not again within the cooldown."""

    consecutive: int = 3
    cooldown: timedelta = timedelta(hours=12)

    def decide(
        self, history: list[dict], last_retrain_at: datetime | None, now: datetime
    ) -> tuple[bool, str]:
        """``history`` is the drift evaluations, oldest first, each with ``at`` (ISO) and ``dataset_drift``."""
        recent = history[-self.consecutive :]
        streak = 0
        for ev in reversed(history):
            if not ev["dataset_drift"]:
                break
            streak += 1
        if len(recent) < self.consecutive or streak < self.consecutive:
            return False, f"drift streak {streak}/{self.consecutive}: not persistent yet"
        if last_retrain_at is not None and now - last_retrain_at < self.cooldown:
            left = self.cooldown - (now - last_retrain_at)
            return False, f"drift persisted {streak} evaluations but retraining is cooling down ({left} left)"
        # Only evaluations after the last retraining may count, or one drift episode retrains twice.
        if last_retrain_at is not None:
            after = [ev for ev in recent if datetime.fromisoformat(ev["at"]) > last_retrain_at]
            if len(after) < self.consecutive:
                return False, "drift streak started before the last retraining: waiting for fresh evidence"
        return True, f"drift persisted {streak} consecutive evaluations (>= {self.consecutive})"


def append_history(history_json: str | None, evaluation: dict, keep: int = 500) -> str:
    history = json.loads(history_json) if history_json else []
    history.append(evaluation)
    return json.dumps(history[-keep:])
