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
from collections.abc import Callable


class P(str):
    """The few pathlib.Path methods the fakes use; pathlib's import alone costs ~15 ms per call."""

    def __truediv__(self, other: str) -> P:
        return P(os.path.join(self, other))

    def exists(self) -> bool:
        return os.path.exists(self)

    def read_bytes(self) -> bytes:
        with open(self, "rb") as fh:
            return fh.read()

    def read_text(self) -> str:
        return self.read_bytes().decode()

    def touch(self) -> None:
        open(self, "a").close()


HOST = P(os.environ.get("FAKE_HOST_DIR", "/nonexistent"))
CONTROL = P(os.environ.get("FAKE_CONTROL", "/nonexistent"))
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


def read(path: P) -> bytes:
    return path.read_bytes() if path.exists() else b""


def lines_between(data: bytes, ts_of: Callable[[bytes], int], lo: int | None, hi: int | None) -> bytes:
    """Whole lines of time-sorted ``data`` with lo <= ts <= hi (inclusive, like the real tools'
    --until), found by binary search over byte offsets the way journald seeks its index."""

    def first_at_or_after(target: int, strict: bool) -> int:
        a, b = 0, len(data)
        while a < b:
            mid = (a + b) // 2
            start = data.rfind(b"\n", 0, mid) + 1
            end = data.find(b"\n", start)
            ts = ts_of(data[start : end if end >= 0 else len(data)])
            if ts < target or (strict and ts == target):
                a = (end + 1) if end >= 0 else len(data)
            else:
                b = start
        return a

    begin = first_at_or_after(lo, False) if lo is not None else 0
    stop = first_at_or_after(hi, True) if hi is not None else len(data)
    return data[begin:stop] if stop > begin else b""


def epoch_arg(value: str) -> int:
    """journalctl @S / docker S (integer or fractional seconds since the epoch) -> microseconds."""
    return int(float(value.lstrip("@")) * 1_000_000)
