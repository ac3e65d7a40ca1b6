"""Fault line on a live host -> notification at a webhook, through the real daemon and real sshd.

Setup: one simulated host whose logs run up to now, served by a real OpenSSH server on 127.0.0.1
(mlops_assets_tests/sshd.py: the fake nvidia-smi/journalctl/docker replay the host's files), the
whole code location under `dagster-daemon run` (every sensor at its default interval; the fast path
every 60 s), notifications to a local HTTP webhook receiver. Each trial appends an Xid 79 kernel
line stamped t0 (now, at a random phase of the sensor interval) to the host's kernel journal and
waits for the webhook to receive an alert naming XID_79 for that minute (t1). Target: median t1 - t0 <= 120 s over 3 trials.
Run: .venv/bin/python bench/run.py alert_latency
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from run import record

ROOT = Path(__file__).resolve().parents[1]

HOST = "gpu-node-01"
TRIALS = 3
TIMEOUT_S = 300


class Receiver:
    """A local webhook: records (arrival time, JSON body) of every POST."""

    def __init__(self) -> None:
        self.received: list[tuple[float, dict]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                outer.received.append((time.time(), json.loads(body or b"{}")))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def arrival_of(self, needle: str, after: float) -> float | None:
        for t, body in self.received:
            if t >= after and needle in json.dumps(body):
                return t
        return None


def run() -> list[dict]:
    import dagster as dg

    from mlops_assets.simulate import simulate
    from mlops_assets_tests.defs.test_fastpath import xid_line
    from mlops_assets_tests.sshd import LocalSshd, sshd_unavailable

    reason = sshd_unavailable()
    if reason:
        raise RuntimeError(f"alert_latency needs a local sshd: {reason}")
    tmp = Path(tempfile.mkdtemp(prefix="bench_alert_"))
    now = datetime.now(UTC)
    start = (now - timedelta(minutes=15)).replace(second=0, microsecond=0)
    simulate(
        tmp / "sim",
        hosts=1,
        gpus=2,
        hours=(now - start).total_seconds() / 3600,
        seed=5,
        start=start,
        faults=[],
    )
    host_dir = tmp / "sim" / HOST
    sshd = LocalSshd(tmp / "sshd", host_dir).start()
    receiver = Receiver()
    home = tmp / "home"
    (tmp / "dagster_home").mkdir()
    shutil.copy(ROOT / "dagster.yaml", tmp / "dagster_home" / "dagster.yaml")
    env = {
        **os.environ,
        "DAGSTER_HOME": str(tmp / "dagster_home"),
        "MLOPS_HOME": str(home),
        "MLOPS_LOG_SOURCE": "ssh",
        "MLOPS_HOSTS_FILE": str(sshd.write_hosts_file(tmp / "hosts.yaml", [sshd.host_entry(HOST)])),
        "MLOPS_NOTIFY_CHANNELS": "webhook",
        "MLOPS_WEBHOOK_URL": receiver.url,
        "MLFLOW_TRACKING_URI": f"sqlite:///{tmp / 'mlflow.db'}",
        "MLOPS_SENSOR_BACKFILL_HOURS": "1",
    }
    os.environ["DAGSTER_HOME"] = env["DAGSTER_HOME"]
    with dg.DagsterInstance.get() as instance:
        instance.add_dynamic_partitions("hosts", [HOST])
    daemon = subprocess.Popen(
        [str(ROOT / ".venv" / "bin" / "dagster-daemon"), "run", "-w", str(ROOT / "workspace.yaml")],
        cwd=ROOT,
        env=env,
        stdout=open(tmp / "daemon.log", "wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    latencies: list[float] = []
    try:
        time.sleep(90)  # code location loaded, the fast path's first pull done
        kernel = host_dir / "kernel.json"
        phases = random.Random(15)
        time.sleep(phases.uniform(0, 55))
        for _ in range(TRIALS):
            t0 = time.time()
            stamp = datetime.fromtimestamp(t0, UTC)
            kernel.write_bytes(kernel.read_bytes() + xid_line(stamp))
            needle = f'"start": "{stamp.replace(second=0, microsecond=0).isoformat()}'
            t1 = None
            while t1 is None and time.time() - t0 < TIMEOUT_S:
                time.sleep(1)
                t1 = receiver.arrival_of(needle, t0)
            if t1 is None:
                raise RuntimeError(f"no XID_79 alert within {TIMEOUT_S} s; see {tmp / 'daemon.log'}")
            latencies.append(t1 - t0)
            # next trial in a new minute (a new incident), at a random phase of the sensor's interval
            time.sleep(61 - (time.time() % 60) + phases.uniform(0, 55))
    finally:
        os.killpg(daemon.pid, signal.SIGTERM)
        daemon.wait(timeout=60)
        sshd.stop()
        receiver.server.shutdown()
    median = statistics.median(latencies)
    return [
        record(
            "alert_latency",
            items=TRIALS,
            seconds=median,
            unit="alerts/s",
            baseline_throughput=None,
            target="median (webhook arrival - fault line written) <= 120 s",
            latencies_s=[round(x, 1) for x in latencies],
            median_s=round(median, 1),
            meets_target=median <= 120,
        )
    ]
