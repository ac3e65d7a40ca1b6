"""Fixtures for the SSH source tests: one simulated host replayed by fake tools behind a real sshd."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from mlops_assets_tests.sshd import SIM_HOST, LocalSshd, simulate_host, start_or_skip


@pytest.fixture(scope="session")
def sim_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return simulate_host(tmp_path_factory.mktemp("sim"))


@pytest.fixture
def sshd(tmp_path: Path, sim_root: Path) -> Iterator[LocalSshd]:
    server = start_or_skip(tmp_path / "sshd", sim_root / SIM_HOST)
    try:
        yield server
    finally:
        server.stop()
