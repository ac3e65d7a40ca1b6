"""Shared logic of the fake remote tools: replay a simulator host folder like the real tools would.

Environment (set by the test sshd's SetEnv): FAKE_HOST_DIR = <sim root>/<host>, FAKE_CONTROL = a
folder whose files switch on failure modes (hang_<tool>, huge_<tool>, slow_<tool>, docker_denied,
journal_no_group).
"""

from __future__ import annotations

import os
import re
import sys
import time
from pathlib import Path

HOST = Path(os.environ.get("FAKE_HOST_DIR", "/nonexistent"))
CONTROL = Path(os.environ.get("FAKE_CONTROL", "/nonexistent"))
REALTIME = re.compile(rb'"__REALTIME_TIMESTAMP"\s*:\s*"(\d+)"')
CURSOR = re.compile(rb'"__CURSOR"\s*:\s*"([^"]+)"')
TIME_NANO = re.compile(rb'"timeNano"\s*:\s*(\d+)')


def control(tool: str) -> None:
    """Apply failure modes switched on by the test for ``tool``."""
    if (CONTROL / f"hang_{tool}").exists():
        time.sleep(3600)
    if (CONTROL / f"huge_{tool}").exists():
        chunk = b"x" * 65535 + b"\n"
        for _ in range(int((CONTROL / f"huge_{tool}").read_text() or "64") * 16):
            sys.stdout.buffer.write(chunk)
        sys.stdout.buffer.flush()
        sys.exit(0)


def out(data: bytes, tool: str = "") -> None:
    """Write ``data``; with CONTROL/slow_<tool>, stall half-way (marking CONTROL/started_<tool>)."""
    if tool and (CONTROL / f"slow_{tool}").exists():
        half = len(data) // 2
        sys.stdout.buffer.write(data[:half])
        sys.stdout.buffer.flush()
        (CONTROL / f"started_{tool}").touch()
        time.sleep(60)
        data = data[half:]
    sys.stdout.buffer.write(data)
    sys.stdout.buffer.flush()


def err(text: str, code: int) -> None:
    sys.stderr.write(text + "\n")
    sys.exit(code)


def read(path: Path) -> bytes:
    return path.read_bytes() if path.exists() else b""


def epoch_arg(value: str) -> int:
    """journalctl @S / docker S (integer or fractional seconds since the epoch) -> microseconds."""
    return int(float(value.lstrip("@")) * 1_000_000)
