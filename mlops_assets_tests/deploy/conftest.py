"""Fixtures for the deploy tests: a real PostgreSQL server for the production instance storage."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from mlops_assets_tests.postgres import PgServer, postgres_unavailable, running_postgres


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PgServer]:
    """One throwaway cluster for the session; skipped (with the reason) only if it cannot start."""
    reason = postgres_unavailable()
    if reason:
        pytest.skip(f"PostgreSQL cannot start here: {reason}")
    server_cm = running_postgres()
    try:
        server = server_cm.__enter__()
    except RuntimeError as exc:
        pytest.skip(f"PostgreSQL did not start: {exc}")
    try:
        yield server
    finally:
        server_cm.__exit__(None, None, None)
