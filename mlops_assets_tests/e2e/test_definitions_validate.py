"""`dagster definitions validate -w workspace.yaml`: the real CLI loads and validates the code location."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from mlops_assets_tests.e2e.conftest import REPO_ROOT
from mlops_assets_tests.e2e.webserver import instance_env, write_instance_yaml

pytestmark = pytest.mark.e2e


def test_definitions_validate_exits_zero(tmp_path: Path) -> None:
    dagster = REPO_ROOT / ".venv" / "bin" / "dagster"
    dagster_home, mlops_home = tmp_path / "dagster_home", tmp_path / "mlops_home"
    write_instance_yaml(REPO_ROOT / "dagster.yaml", dagster_home)
    proc = subprocess.run(
        [str(dagster), "definitions", "validate", "-w", str(REPO_ROOT / "workspace.yaml")],
        cwd=REPO_ROOT,
        env=instance_env(dagster_home, mlops_home),
        capture_output=True,
        text=True,
        timeout=240,
    )
    output = f"{proc.stdout}\n{proc.stderr}"
    assert proc.returncode == 0, f"dagster definitions validate exited {proc.returncode}:\n{output[-6000:]}"
    assert "Validation successful for code location mlops_assets" in output, output[-3000:]
