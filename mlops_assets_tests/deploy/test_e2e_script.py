"""deploy/e2e-kind.sh cannot run here (no docker/kind): check what can be checked without a cluster."""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest
from dagster_graphql.schema import create_schema
from graphql import parse, validate

from .step_jobs import DEPLOY, REPO_ROOT

pytestmark = pytest.mark.k8s
SCRIPT = DEPLOY / "e2e-kind.sh"


def test_script_is_strict_bash_with_valid_syntax() -> None:
    text = SCRIPT.read_text()
    assert text.startswith("#!/usr/bin/env bash\n")
    assert "set -euo pipefail" in text
    bash = shutil.which("bash")
    assert bash, "bash is required to check the script"
    proc = subprocess.run([bash, "-n", str(SCRIPT)], capture_output=True, text=True, timeout=30)
    assert proc.returncode == 0, proc.stderr


def test_script_checks_its_prerequisites() -> None:
    text = SCRIPT.read_text()
    (tools,) = re.findall(r"for tool in ([a-z0-9 -]+); do", text)
    assert {"docker", "kind", "kubectl", "helm", "curl", "python3"} <= set(tools.split())
    assert "docker info" in text


def test_script_references_existing_files() -> None:
    for rel in re.findall(r'"\$ROOT/([^"]+)"', SCRIPT.read_text()):
        assert (REPO_ROOT / rel).exists(), rel


def test_graphql_documents_match_the_installed_dagster_schema() -> None:
    """The webserver in the chart is the same dagster version as uv.lock, so this is its schema."""
    docs = re.findall(r"gql '([^']+)'", SCRIPT.read_text())
    assert len(docs) == 3
    schema = create_schema().graphql_schema
    for doc in docs:
        assert validate(schema, parse(doc)) == [], doc
    bad = "mutation { launchPartitionBackfill(backfillParams: {nope: 1}) { __typename } }"
    assert validate(schema, parse(bad)), "schema validation must reject an unknown field"
