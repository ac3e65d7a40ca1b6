"""Fixtures for the UI end-to-end tests: one real dagster-webserver per module, one headless Chromium.

Both start against throw-away state (DAGSTER_HOME and MLOPS_HOME under tmp) and are stopped at the
end. They skip only when the executable is missing or cannot be spawned; a webserver that dies or
never answers, or a code location that fails to load, is a test error carrying the log / import error.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from mlops_assets_tests.e2e.ui_graphql import GraphQLClient, wait_location_loaded
from mlops_assets_tests.e2e.webserver import (
    DagsterWebserver,
    WebserverStartError,
    instance_env,
    write_instance_yaml,
)

REPO_ROOT = Path(__file__).resolve().parents[2]
LOCATION_NAME = "mlops_assets"  # workspace.yaml's location_name
CHROMIUM = Path(os.getenv("MLOPS_E2E_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


@dataclass(frozen=True)
class DagsterUI:
    """A running webserver and the instance/data folders it serves."""

    server: DagsterWebserver
    client: GraphQLClient
    dagster_home: Path
    mlops_home: Path

    @property
    def url(self) -> str:
        return self.server.url


def e2e_workspace() -> Path:
    """The workspace under test: the repo's own, unless MLOPS_E2E_WORKSPACE points elsewhere (fixture work)."""
    return Path(os.getenv("MLOPS_E2E_WORKSPACE", str(REPO_ROOT / "workspace.yaml"))).resolve()


@pytest.fixture(scope="module")
def dagster_ui(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DagsterUI]:
    base = tmp_path_factory.mktemp("dagster_ui")
    dagster_home, mlops_home = base / "dagster_home", base / "mlops_home"
    mlops_home.mkdir()
    write_instance_yaml(REPO_ROOT / "dagster.yaml", dagster_home)
    server = DagsterWebserver(
        executable=REPO_ROOT / ".venv" / "bin" / "dagster-webserver",
        workspace=e2e_workspace(),
        cwd=REPO_ROOT,
        env=instance_env(dagster_home, mlops_home),
        log_path=base / "webserver.log",
    )
    try:
        server.start()
    except WebserverStartError as exc:
        pytest.skip(f"dagster-webserver could not be started: {exc}")
    client = GraphQLClient(server.url)
    try:
        server.wait_ready()
        wait_location_loaded(client, LOCATION_NAME)
        yield DagsterUI(server, client, dagster_home, mlops_home)
    except BaseException:
        print(f"--- dagster-webserver log tail ({server.log_path}) ---\n{server.log_tail()}")
        raise
    finally:
        server.stop()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """On a failing e2e test, append the webserver's log tail to the report."""
    report = yield
    ui = item.funcargs.get("dagster_ui") if hasattr(item, "funcargs") else None
    if report.failed and isinstance(ui, DagsterUI):
        report.sections.append(("dagster-webserver log tail", ui.server.log_tail()))
    return report


@pytest.fixture(scope="module")
def chromium_page(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    """A Playwright page in the system's headless Chromium (no `playwright install`)."""
    if not CHROMIUM.exists() or shutil.which(str(CHROMIUM)) is None:
        pytest.skip(f"no Chromium executable at {CHROMIUM}")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as pw:
        try:
            browser = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        except sync_api.Error as exc:
            pytest.skip(f"Chromium at {CHROMIUM} could not be launched: {exc}")
        try:
            page = browser.new_page(viewport={"width": 1600, "height": 1000})
            yield page
        finally:
            browser.close()
