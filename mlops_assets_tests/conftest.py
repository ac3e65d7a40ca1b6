"""Suite-wide guards: nothing a test does may write into the working tree.

MLflow 3 falls back to ./mlflow.db (and ./mlruns) when no tracking URI is set; any code path that
forgets to pass one would otherwise litter the repo. Tests that need MLflow pass their own URI.
"""

import os
from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture(autouse=True, scope="session")
def _isolated_state(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    root: Path = tmp_path_factory.mktemp("session_state")
    saved = {k: os.environ.get(k) for k in ("MLFLOW_TRACKING_URI", "MLOPS_HOME")}
    os.environ.setdefault("MLFLOW_TRACKING_URI", f"sqlite:///{root / 'mlflow.db'}")
    os.environ.setdefault("MLOPS_HOME", str(root / "mlops_home"))
    yield
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
