"""The one place that decides local vs prod, and where local state lives.

`MLOPS_ASSETS_ENV=prod` selects production (Kubernetes step pods, object storage, remote MLflow);
anything else is local: SQLite/filesystem under `MLOPS_HOME` (default `./.mlops`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

Env = Literal["local", "prod"]


def current_env() -> Env:
    value = os.getenv("MLOPS_ASSETS_ENV", "local").strip().lower()
    if value not in ("local", "prod"):
        raise ValueError(f"MLOPS_ASSETS_ENV must be 'local' or 'prod', got {value!r}")
    return value  # type: ignore[return-value]


@dataclass(frozen=True)
class Settings:
    env: Env
    home: str  # local state folder (local env) or a scratch dir (prod)
    storage_root: str  # parsed tables, features, scores, reports (path or s3:// / gs:// URL)
    raw_dir: str  # landing folder read by the directory source
    hosts_file: str  # hosts.yaml for the SSH source
    mlflow_tracking_uri: str
    mlflow_artifact_root: str
    partitions_start: str  # first hourly partition, "YYYY-MM-DD-HH:MM"


def settings() -> Settings:
    env = current_env()
    home = Path(os.getenv("MLOPS_HOME", ".mlops")).resolve()
    if env == "prod":
        required = ["MLOPS_STORAGE_ROOT", "MLFLOW_TRACKING_URI"]
        missing = [k for k in required if not os.getenv(k)]
        if missing:
            raise RuntimeError(f"prod environment needs {', '.join(missing)} (see deploy/README.md)")
    return Settings(
        env=env,
        home=str(home),
        storage_root=os.getenv("MLOPS_STORAGE_ROOT", str(home / "storage")),
        raw_dir=os.getenv("MLOPS_RAW_DIR", str(home / "raw")),
        hosts_file=os.getenv("MLOPS_HOSTS_FILE", "hosts.yaml"),
        mlflow_tracking_uri=os.getenv("MLFLOW_TRACKING_URI", f"sqlite:///{home / 'mlflow.db'}"),
        mlflow_artifact_root=os.getenv("MLOPS_MLFLOW_ARTIFACT_ROOT", str(home / "mlartifacts")),
        partitions_start=os.getenv("MLOPS_PARTITIONS_START", "2026-01-01-00:00"),
    )
