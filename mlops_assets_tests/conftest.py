"""Suite-wide guards: nothing a test does may write into the working tree.

MLflow 3 falls back to ./mlflow.db (and ./mlruns) when no tracking URI is set; any code path that
forgets to pass one would otherwise litter the repo. Tests that need MLflow pass their own URI.
"""

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from mlops_assets_tests.sshd import SIM_HOST, LocalSshd, simulate_host, start_or_skip


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


@pytest.fixture(scope="session")
def sim_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One simulated host's raw files, replayed by the fake remote tools behind the test sshd."""
    return simulate_host(tmp_path_factory.mktemp("sim"))


@pytest.fixture
def sshd(tmp_path: Path, sim_root: Path) -> Iterator[LocalSshd]:
    """A real OpenSSH server on 127.0.0.1 (skips with the reason only if it cannot start)."""
    server = start_or_skip(tmp_path / "sshd", sim_root / SIM_HOST)
    try:
        yield server
    finally:
        server.stop()
