"""Steady-state output of the containers: inference access logs and metrics that follow the load
curve, notebook server activity, database checkpoints, cache snapshots, exporter hiccups."""

from __future__ import annotations

import numpy as np

from mlops_assets.simulate.containers import ts_py, ts_redis, ts_rfc, ts_vllm
from mlops_assets.simulate.gpu import Workload
from mlops_assets.simulate.host import NS, HostLog
from mlops_assets.simulate.normal import daytime, poisson_times

PEAK_RPS = 2.5


def vllm_output(host: HostLog, wl: Workload) -> None:
    """Access log lines (rate ~ load) and the 10 s engine metrics line, only while serving."""
    rng = host.rng
    T = len(wl.t_ns)
    dt = int(np.median(np.diff(wl.t_ns))) if T > 1 else 10 * NS
    serving = ~wl.vllm_down
    counts = rng.poisson(PEAK_RPS * wl.load * dt / NS) * serving
    starts = np.repeat(wl.t_ns, counts) + rng.integers(0, dt, counts.sum())
    clients = rng.integers(2, 60, counts.sum())
    ports = rng.integers(32768, 60999, counts.sum())
    status = rng.random(counts.sum())
    for ns, c, p, st in zip(starts.tolist(), clients.tolist(), ports.tolist(), status.tolist(), strict=True):
        code = "200 OK" if st > 0.006 else ("400 Bad Request" if st > 0.001 else "503 Service Unavailable")
        host.docker_line(
            "vllm", ns, "stdout", f'INFO:     10.20.5.{c}:{p} - "POST /v1/chat/completions HTTP/1.1" {code}'
        )
    for i in np.flatnonzero(serving & (np.arange(T) % 3 == 0)).tolist():
        ns = int(wl.t_ns[i]) + 7_000_000
        host.docker_line(
            "vllm", ns, "stdout", f'INFO:     172.17.0.1:{40000 + i % 20000} - "GET /health HTTP/1.1" 200 OK'
        )
        running = int(counts[max(0, i - 3) : i + 1].sum() * 1.5)
        if running == 0:
            continue
        gen = running * rng.uniform(28, 36)
        host.docker_line(
            "vllm",
            ns + 2_000_000_000,
            "stdout",
            f"INFO {ts_vllm(ns + 2 * NS)} metrics.py:351] Avg prompt throughput: {gen * 3.1:.1f} tokens/s, "
            f"Avg generation throughput: {gen:.1f} tokens/s, Running: {running} reqs, Swapped: 0 reqs, Pending: 0 reqs, "
            f"GPU KV cache usage: {min(99.0, running * 1.9):.1f}%, CPU KV cache usage: 0.0%.",
        )


def jupyter_output(host: HostLog) -> None:
    minutes = np.arange(host.start_ns, host.end_ns, 60 * NS)
    for ns in poisson_times(host, 14.0, 0.05 + daytime(minutes)):
        r = host.rng.random()
        if r < 0.7:
            msg = f"[I {ts_py(ns)} ServerApp] Saving file at /work/experiments/finetune-{int(r * 40)}.ipynb"
        elif r < 0.95:
            msg = f"[I {ts_py(ns)} ServerApp] 200 GET /api/kernels?{ns // NS} (alice@10.20.4.17) 1.{int(r * 90):02d}ms"
        else:
            msg = (
                f"[W {ts_py(ns)} ServerApp] 404 GET /api/contents/untitled{int(r * 9)}.ipynb?content=0 "
                f"(alice@10.20.4.17) 2.31ms referer=None"
            )
        host.docker_line("jupyter", ns, "stderr", msg)


def database_output(host: HostLog) -> None:
    """postgres checkpoints every 5 min, redis RDB snapshots every 5 min under write load."""
    rng = host.rng
    first = host.start_ns - host.start_ns % (300 * NS) + 300 * NS
    for ns in range(first, host.end_ns, 300 * NS):
        ns += int(rng.integers(0, 900_000_000))
        wrote = int(rng.integers(3, 400))
        host.docker_line("postgres", ns, "stderr", f"{ts_py(ns)} UTC [27] LOG:  checkpoint starting: time")
        end = ns + int(rng.integers(2, 30)) * NS
        host.docker_line(
            "postgres",
            end,
            "stderr",
            f"{ts_py(end)} UTC [27] LOG:  checkpoint complete: wrote {wrote} buffers ({wrote / 163.84:.1f}%); "
            f"0 WAL file(s) added, 0 removed, 0 recycled; write={(end - ns) / NS - 0.1:.3f} s, sync=0.0{wrote % 90:02d} s, "
            f"total={(end - ns) / NS:.3f} s; sync files={wrote // 9}, longest=0.004 s, average=0.001 s; "
            f"distance={wrote * 8} kB, estimate={wrote * 9} kB",
        )
        changes = int(rng.integers(0, 400))
        if changes >= 100:
            pid = host.next_pid()
            host.docker_line(
                "redis",
                ns + NS,
                "stdout",
                f"1:M {ts_redis(ns + NS)} * {changes} changes in 300 seconds. Saving...",
            )
            host.docker_line(
                "redis",
                ns + NS + 2_000_000,
                "stdout",
                f"1:M {ts_redis(ns + NS)} * Background saving started by pid {pid}",
            )
            host.docker_line(
                "redis", ns + NS + 90_000_000, "stdout", f"{pid}:C {ts_redis(ns + NS)} * DB saved on disk"
            )
            host.docker_line(
                "redis",
                ns + NS + 110_000_000,
                "stdout",
                f"1:M {ts_redis(ns + NS)} * Background saving terminated with success",
            )
    for ns in poisson_times(host, 0.12):
        host.docker_line(
            "node-exporter",
            ns,
            "stderr",
            f'ts={ts_rfc(ns)} caller=stdlib.go:105 level=error msg="error encoding and sending metric family: '
            f'write tcp 172.17.0.3:9100->172.17.0.1:{int(rng.integers(32768, 60999))}: write: broken pipe"',
        )
