"""Start and stop a real `dagster-webserver` on a throw-away instance (DAGSTER_HOME + MLOPS_HOME in tmp).

Run coordination: the repo's dagster.yaml uses the QueuedRunCoordinator, whose queue is drained only
by `dagster-daemon`. The daemon would also tick the code location's sensors (the automation sensor
starts RUNNING), launching runs of its own into the instance under test on a 2-core box. So the test
instance copies the repo's dagster.yaml but swaps in the DefaultRunCoordinator: a run launched through
GraphQL goes straight to the webserver's DefaultRunLauncher (a `dagster api execute_run` subprocess)
and the only runs in the instance are the ones the test launched.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import yaml

# Variables that would point the code location away from the tmp MLOPS_HOME.
_LEAKY_ENV = (
    "MLOPS_ASSETS_ENV",
    "MLOPS_STORAGE_ROOT",
    "MLOPS_RAW_DIR",
    "MLOPS_HOSTS_FILE",
    "MLOPS_LOG_SOURCE",
    "MLFLOW_TRACKING_URI",
    "MLOPS_MLFLOW_ARTIFACT_ROOT",
)
DEFAULT_RUN_COORDINATOR = {"module": "dagster.core.run_coordinator", "class": "DefaultRunCoordinator"}


class WebserverStartError(RuntimeError):
    """The webserver executable is missing or could not be spawned (a reason to skip, not to fail)."""


class WebserverNotReady(RuntimeError):
    """The webserver started but exited or never answered: a real failure, reported with its log."""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def write_instance_yaml(repo_dagster_yaml: Path, dagster_home: Path) -> Path:
    """Copy the repo's instance config into ``dagster_home``: telemetry and NUX off, runs launched directly."""
    config = yaml.safe_load(repo_dagster_yaml.read_text()) or {}
    config["telemetry"] = {"enabled": False}
    config["nux"] = {"enabled": False}  # no "Join the Dagster community" dialog over the page
    config["run_coordinator"] = DEFAULT_RUN_COORDINATOR
    dagster_home.mkdir(parents=True, exist_ok=True)
    target = dagster_home / "dagster.yaml"
    target.write_text(yaml.safe_dump(config, sort_keys=False))
    return target


def instance_env(dagster_home: Path, mlops_home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in _LEAKY_ENV}
    env.update(DAGSTER_HOME=str(dagster_home), MLOPS_HOME=str(mlops_home), PYTHONUNBUFFERED="1")
    return env


@dataclass
class DagsterWebserver:
    """One `dagster-webserver` process group serving ``workspace`` on 127.0.0.1."""

    executable: Path
    workspace: Path
    cwd: Path
    env: dict[str, str]
    log_path: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        if not self.executable.exists():
            raise WebserverStartError(f"{self.executable} not found: run `make venv` first")
        cmd = [str(self.executable), "-w", str(self.workspace), "-h", "127.0.0.1", "-p", str(self.port)]
        with self.log_path.open("wb") as log:
            try:
                self.process = subprocess.Popen(
                    cmd,
                    cwd=self.cwd,
                    env=self.env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            except OSError as exc:
                raise WebserverStartError(f"cannot spawn {self.executable}: {exc}") from exc

    def wait_ready(self, timeout_s: float = 90.0) -> dict[str, object]:
        """Poll `/server_info` until it answers JSON; raise WebserverNotReady on exit or timeout."""
        if self.process is None:
            raise WebserverNotReady("start() was not called")
        deadline = time.monotonic() + timeout_s
        last_error = "no answer yet"
        while time.monotonic() < deadline:
            code = self.process.poll()
            if code is not None:
                raise WebserverNotReady(f"dagster-webserver exited with code {code}:\n{self.log_tail()}")
            try:
                with urllib.request.urlopen(f"{self.url}/server_info", timeout=5) as resp:
                    return json.loads(resp.read())
            except (urllib.error.URLError, ConnectionError, TimeoutError, json.JSONDecodeError) as exc:
                last_error = repr(exc)
            time.sleep(0.5)
        raise WebserverNotReady(
            f"dagster-webserver not ready after {timeout_s:.0f} s ({last_error}):\n{self.log_tail()}"
        )

    def log_tail(self, lines: int = 60) -> str:
        if not self.log_path.exists():
            return "(no webserver log)"
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def stop(self, grace_s: float = 10.0) -> None:
        """SIGTERM the whole process group (webserver + code server + run workers), then SIGKILL."""
        proc = self.process
        if proc is None:
            return
        self.process = None
        try:
            os.killpg(proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            proc.wait()
            return
        try:
            proc.wait(timeout=grace_s)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=grace_s)
        # Children that outlived the leader (run workers) share its group id.
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
