"""`mlops-assets redact FILE|-` prints exactly what would leave the host: 300 generated secrets go in,
none comes out, and the per-rule counts say what was found."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from mlops_assets.lib.triage.hypotheses import SAMPLE_LINE_CHARS
from mlops_assets.lib.triage.redact import redact
from mlops_assets_tests.lib.triage.secret_corpus import generate, survivors

CORPUS = generate(300, seed=16)


def cli(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mlops_assets.cli", "redact", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_stdin_text_mode_leaves_no_secret_and_matches_the_library() -> None:
    text = "\n".join(p.line for p in CORPUS) + "\n"
    res = cli("-", stdin=text)
    assert res.returncode == 0, res.stderr
    assert survivors(res.stdout, CORPUS) == []
    assert res.stdout == redact(text)
    assert "redactions (" in res.stderr and "secret_pair=" in res.stderr


def test_file_lines_mode_is_what_a_prompt_sample_line_would_carry(tmp_path: Path) -> None:
    padded = ["z " * 240 + p.line for p in CORPUS]  # every secret sits at or beyond the 500-char cut
    src = tmp_path / "sample.log"
    src.write_text("\n".join(padded) + "\n")
    res = cli(str(src), "--mode", "lines", "--quiet")
    assert res.returncode == 0 and res.stderr == ""
    out = res.stdout.splitlines()
    # a PEM block or JSON key spans lines: each line is judged alone, as a separate log line would be
    assert len(out) == src.read_text().count("\n") and all(len(line) <= SAMPLE_LINE_CHARS for line in out)
    assert survivors(out, CORPUS) == []


def test_fail_on_find_and_unreadable_input(tmp_path: Path) -> None:
    clean = tmp_path / "clean.log"
    clean.write_text("NVRM: Xid (PCI:0000:3b:00): 79, pid=2231, GPU has fallen off the bus.\n")
    ok = cli(str(clean), "--fail-on-find")
    assert ok.returncode == 0 and ok.stdout == clean.read_text() and "0 redactions (nothing)" in ok.stderr
    found = cli("-", "--fail-on-find", stdin="mysql -u root -pS3cretPass9 db\n")
    assert found.returncode == 1 and "S3cretPass9" not in found.stdout
    missing = cli(str(tmp_path / "nope.log"))
    assert missing.returncode == 2 and "not a readable file" in missing.stderr


def test_ips_and_hostnames_are_opt_in_like_the_channels() -> None:
    line = "Failed password for root from 203.0.113.7 on gpu01.dc1.example.com\n"
    assert cli("-", stdin=line).stdout == line
    out = cli("-", "--ips", "--hostnames", stdin=line).stdout
    assert "203.0.113.7" not in out and "gpu01.dc1.example.com" not in out
