"""Where the real public log samples live (../shared/realdata beside the repo, or $MLOPS_REALDATA).

Tests that read them skip when the folder is absent: :func:`realdata_dir` says so with the path looked at.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
REALDATA = Path(os.environ.get("MLOPS_REALDATA", REPO.parent / "shared" / "realdata"))


def realdata_dir(*parts: str) -> Path:
    """The folder (or file) under realdata, or skip the test naming what is missing."""
    path = REALDATA.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"real samples not found at {path} (set MLOPS_REALDATA)")
    return path
