"""`mlops-assets templates`: CSV output (stdout and atomic --out), CRLF and undecodable bytes."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from mlops_assets.cli import main

RAW = (
    b"Accepted publickey for alice from 10.0.0.7 port 50122 ssh2\r\n"
    b"Accepted publickey for bob from 10.0.3.9 port 40001 ssh2\r\n"
    b"GPU 0000:3b:00.0 has fallen off the bus \xff\xfe\r\n"
    b"\r\n"
    b"Accepted publickey for carol from 10.1.1.1 port 22 ssh2"
)


def test_writes_csv_to_out_and_summary_to_stderr(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = tmp_path / "messages.txt"
    src.write_bytes(RAW)
    out = tmp_path / "nested" / "templates.csv"
    assert main(["templates", str(src), "--out", str(out)]) == 0
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.strip() == "templates: 5 messages, 3 templates"
    frame = pd.read_csv(out, keep_default_na=False)
    assert list(frame.columns) == ["line_no", "template_id", "template"]
    assert frame["line_no"].tolist() == [1, 2, 3, 4, 5]
    assert frame["template_id"].nunique() == 3
    assert frame.loc[0, "template_id"] == frame.loc[1, "template_id"] == frame.loc[4, "template_id"]
    assert frame.loc[0, "template"] == "Accepted publickey for <*> from <*> port <*> <*>"
    assert frame.loc[2, "template"] == "GPU <*>:<*>:<*> has fallen off the bus \ufffd\ufffd"
    assert frame.loc[3, "template"] == ""
    assert not any(p.name.startswith(".tmp-") for p in out.parent.iterdir())


def test_stdout_when_no_out(tmp_path: Path) -> None:
    src = tmp_path / "messages.txt"
    src.write_bytes(RAW)
    proc = subprocess.run(
        [sys.executable, "-m", "mlops_assets.cli", "templates", str(src)], capture_output=True, check=True
    )
    frame = pd.read_csv(io.BytesIO(proc.stdout), keep_default_na=False)
    assert len(frame) == 5 and frame["template_id"].str.match(r"^T[0-9a-f]{10}$").all()
    assert b"5 messages, 3 templates" in proc.stderr


def test_missing_file_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["templates", str(tmp_path / "nope.txt")]) == 2
    assert "not a readable file" in capsys.readouterr().err
