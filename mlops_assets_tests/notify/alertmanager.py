"""A real Prometheus Alertmanager on 127.0.0.1 for the channel tests (Debian's prometheus-alertmanager).

Started with clustering off, its own storage folder and a route that forwards every notification
(firing and resolved, no waiting) to a webhook receiver the test owns, so a test sees what an SRE's
pager would receive. Skips when the binary is absent (.ci/run installs it).
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

BINARY = os.getenv("MLOPS_ALERTMANAGER", "/usr/bin/prometheus-alertmanager")

CONFIG = """
route:
  receiver: sre
  group_by: [alertname, host, gpu]
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: sre
    webhook_configs:
      - url: {webhook}
        send_resolved: true
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Alertmanager:
    url: str
    process: subprocess.Popen[bytes]
    log: Path

    def alerts(self, **filters: str) -> list[dict[str, Any]]:
        query = "&".join(f"{k}={v}" for k, v in filters.items())
        with urllib.request.urlopen(
            f"{self.url}/api/v2/alerts{'?' + query if query else ''}", timeout=5
        ) as r:
            return json.loads(r.read())


@contextmanager
def alertmanager(tmp: Path, webhook: str) -> Iterator[Alertmanager]:
    exe = shutil.which(BINARY) or (BINARY if Path(BINARY).exists() else None)
    if exe is None:
        pytest.skip(f"no Alertmanager binary at {BINARY} (apt-get install prometheus-alertmanager)")
    tmp.mkdir(parents=True, exist_ok=True)
    (tmp / "am.yml").write_text(CONFIG.format(webhook=webhook))
    port = _free_port()
    log = tmp / "alertmanager.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [
                exe,
                f"--config.file={tmp / 'am.yml'}",
                f"--storage.path={tmp / 'data'}",
                f"--web.listen-address=127.0.0.1:{port}",
                "--cluster.listen-address=",
                "--log.level=debug",
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    am = Alertmanager(f"http://127.0.0.1:{port}", proc, log)
    try:
        deadline = time.monotonic() + 30
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"alertmanager exited {proc.returncode}:\n{log.read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(f"{am.url}/-/ready", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError(
                        f"alertmanager not ready in 30 s:\n{log.read_text()[-3000:]}"
                    ) from None
                time.sleep(0.2)
        yield am
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)
