"""Parsing throughput: journal JSON, docker json-file and nvidia-smi CSV vs naive pandas baselines.

Inputs are generated in-process (deterministic) and written to a temp dir; every parse - ours and
the baseline - runs in its own subprocess so its peak RSS is its own (reading the input bytes is
part of "end to end" and included). Baselines run on the same generated input; where the naive
baseline is too slow / too large at full size (pd.read_json on 1M lines needs ~8 GB) it runs on the
first N lines and its throughput is extrapolated linearly - the record says so (``baseline_note``).
Run: .venv/bin/python bench/run.py parsing
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent

JOURNAL_LINES = 1_000_000
DOCKER_LINES = 1_000_000
GPU_SAMPLES = 87_500  # x 8 GPUs = 700k rows
GPUS = 8
DOCKER_TEXT_LINES = 1_000_000
BASELINE_SUBSET = {"journal": 100_000, "docker": 200_000, "docker-text": 20_000}


def gen_journal(n: int, seed: int = 1) -> bytes:
    """journalctl -o json lines: ~1% byte-array MESSAGEs, ~0.02% truncated (invalid) lines."""
    rnd = random.Random(seed)
    units = [f"svc{i}.service" for i in range(40)]
    base = 1_795_000_000_000_000
    out = []
    for i in range(n):
        r = rnd.random()
        if r < 0.0002:
            out.append(f'{{"__REALTIME_TIMESTAMP":"{base + i}","MESSAGE":"truncated by a crash')
            continue
        unit = units[i % 40]
        msg: object = (
            [72, 105, 255, 0, 10] * 4 if r < 0.01 else f"worker {i % 977} finished job {i} in {i % 1000} ms"
        )
        entry = {
            "__CURSOR": f"s=83fee99ca0c3466db5fc120d52ca7dd8;i={i:x};b=f5a5c442fa6548cf97474d2d57c920b3;m={i:x};"
            f"t={base + i:x};x=8675b540119d10bb",
            "__REALTIME_TIMESTAMP": str(base + i * 1000),
            "__MONOTONIC_TIMESTAMP": str(i * 1000),
            "_BOOT_ID": "f5a5c442fa6548cf97474d2d57c920b3",
            "PRIORITY": str(i % 8),
            "_TRANSPORT": "journal",
            "_PID": str(1000 + i % 50),
            "_COMM": unit[:-8],
            "SYSLOG_IDENTIFIER": unit[:-8],
            "_SYSTEMD_UNIT": unit,
            "_HOSTNAME": "gpu-node-01",
            "MESSAGE": msg,
        }
        out.append(json.dumps(entry, separators=(",", ":")))
    return ("\n".join(out) + "\n").encode()


def _docker_ts(i: int, digits: int) -> str:
    frac = f"{(i * 7919) % 10**9:09d}"[:digits]
    sec = 5 + i // 1000
    return f"2026-11-23T{14 + sec // 3600 % 10:02d}:{sec // 60 % 60:02d}:{sec % 60:02d}.{frac}Z"


def gen_docker(n: int, seed: int = 2) -> bytes:
    """json-file driver lines with 1-9 digit fractions (mostly 9), stdout/stderr, some levels; every
    20000th line is a 40 KB line the driver split into 16 KB entries (joined back by the parser)."""
    rnd = random.Random(seed)
    levels = ["INFO", "INFO", "INFO", "DEBUG", "WARN", "ERROR"]
    out: list[str] = []
    i = 0
    while len(out) < n:
        digits = 9 if rnd.random() < 0.9 else rnd.randint(1, 9)
        stream = "stderr" if i % 10 == 0 else "stdout"
        log = f"{levels[i % 6]} step {i} loss={1 / (1 + i):.6f} lr=0.0003\n"
        if i % 20_000 == 19_999:
            log = "ERROR dump " + "x" * 40_000 + "\n"
        for k in range(0, len(log), 16_384):
            entry = {"log": log[k : k + 16_384], "stream": stream, "time": _docker_ts(i, digits)}
            out.append(json.dumps(entry, separators=(",", ":")))
        i += 1
    return ("\n".join(out[:n]) + "\n").encode()


def gen_docker_text(n: int) -> bytes:
    """``docker logs --timestamps`` of one stream; every 1000th line a traceback continuation."""
    out = []
    for i in range(n):
        if i % 1000 == 999:
            out.append('  File "train.py", line 42, in <module>')
        else:
            out.append(
                f"{_docker_ts(i, 9)} {'ERROR' if i % 7 == 0 else 'INFO'} step {i} loss={1 / (1 + i):.6f}"
            )
    return ("\n".join(out) + "\n").encode()


def gen_gpu(samples: int, gpus: int = GPUS) -> bytes:
    """nvidia-smi --query-gpu=<GPU_QUERY_FIELDS> --format=csv,nounits -l 1 (fan speed [N/A] as on SXM)."""
    from mlops_assets.lib.contracts.raw import GPU_QUERY_FIELDS

    lines = [", ".join(GPU_QUERY_FIELDS)]
    for s in range(samples):
        t = f"2026/11/23 {14 + s // 3600 % 10:02d}:{s // 60 % 60:02d}:{s % 60:02d}.{s % 1000:03d}"
        for g in range(gpus):
            lines.append(
                f"{t}, {g}, GPU-{g:08x}-1111-2222-3333-444444444444, NVIDIA A100-SXM4-80GB, 00000000:{16 + g:02X}:00.0, "
                f"{40 + (s + g) % 40}, {(s * 7 + g) % 101}, {(s * 3 + g) % 101}, {1000 + (s * 13) % 79000}, 81920, "
                f"{60 + (s * 11 + g) % 340}.{s % 100:02d}, 400.00, [N/A], {1095 + s % 315}, P0, "
                f"0x{(4 if s % 50 == 0 else 0):016x}, 0, 0, No, No, [N/A], {45 + (s + g) % 30}, 4, 16"
            )
    return ("\n".join(lines) + "\n").encode()


# ---- worker side (runs in a fresh subprocess) -------------------------------------------------


def _peak_rss_mb() -> float:
    """VmHWM of this process: unlike ru_maxrss it is not inherited from the (big) parent at fork."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024.0
    raise RuntimeError("no VmHWM in /proc/self/status: peak RSS cannot be measured on this OS")


def _worker(kind: str, path: str, limit: int) -> dict[str, object]:
    import mlops_assets.lib.parsing.docker
    import mlops_assets.lib.parsing.gpu
    import mlops_assets.lib.parsing.journal  # noqa: F401 - imports are not part of the parse time

    data = Path(path).read_bytes()
    if limit:
        data = b"\n".join(data.split(b"\n", limit)[:limit]) + b"\n"
    lines = data.count(b"\n")
    t0, c0 = time.perf_counter(), time.process_time()
    rows = _parse(kind, data)
    seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    # cpu_seconds (all threads) tells a slow run on a busy shared machine from a slow parser
    return {
        "seconds": seconds,
        "cpu_seconds": cpu,
        "rows": rows,
        "lines": lines,
        "peak_rss_mb": _peak_rss_mb(),
    }


def _parse(kind: str, data: bytes) -> int:
    import io

    import pandas as pd

    if kind == "journal":
        from mlops_assets.lib.parsing.journal import parse_journal_json

        return len(parse_journal_json(data, "bench").table)
    if kind == "docker":
        from mlops_assets.lib.parsing.docker import parse_docker_json_file

        return len(parse_docker_json_file(data, "bench", "trainer").table)
    if kind == "gpu":
        from mlops_assets.lib.parsing.gpu import parse_gpu_csv

        return len(parse_gpu_csv(data, "bench").table)
    if kind == "docker-text":
        from mlops_assets.lib.parsing.docker import parse_docker_logs

        return len(parse_docker_logs(data, "bench", "trainer", "stdout").table)
    if kind == "docker-text-baseline":
        # the naive way: one regex match and one pd.to_datetime per line
        import re

        prefix = re.compile(r"^(\S+) (.*)$")
        rows = []
        for line in data.decode().splitlines():
            m = prefix.match(line)
            if m:
                rows.append((pd.to_datetime(m.group(1), utc=True), m.group(2)))
        return len(rows)
    if kind in ("journal-baseline", "docker-baseline"):
        # the naive way: pandas reads every line (invalid lines would raise, so they are dropped first)
        good = b"\n".join(ln for ln in data.split(b"\n") if ln.endswith(b"}"))
        df = pd.read_json(io.BytesIO(good), lines=True, dtype=False)
        if kind == "journal-baseline":
            df["ts"] = pd.to_datetime(df["__REALTIME_TIMESTAMP"].astype("int64"), unit="us", utc=True)
        else:
            df["ts"] = pd.to_datetime(df["time"], utc=True, format="ISO8601")
        return len(df)
    if kind == "gpu-baseline":
        df = pd.read_csv(io.BytesIO(data), skipinitialspace=True)
        for col in df.columns[5:14]:
            if df[col].dtype == object:
                stripped = (
                    df[col].astype(str).str.replace(r"\s*(%|MiB|W|MHz)$|^\[.*\]$|^N/A$", "", regex=True)
                )
                df[col] = pd.to_numeric(stripped, errors="coerce")
        df["timestamp"] = pd.to_datetime(df["timestamp"], format="%Y/%m/%d %H:%M:%S.%f", utc=True)
        df["clocks_throttle_reasons.active"] = df["clocks_throttle_reasons.active"].map(lambda v: int(v, 16))
        return len(df)
    raise ValueError(f"unknown bench kind {kind!r}")


def _measure(kind: str, path: Path, limit: int = 0) -> dict[str, object]:
    env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.run(
        [sys.executable, __file__, "--worker", kind, str(path), str(limit)],
        capture_output=True,
        text=True,
        env=env,
        timeout=1800,
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"bench worker {kind} failed: {proc.stderr.strip()[-2000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


# ---- harness side --------------------------------------------------------------------------------


def run() -> list[dict]:
    sys.path.insert(0, str(HERE))
    sys.path.insert(0, str(REPO))
    from run import record  # bench/run.py

    cases = [
        (
            "journal",
            gen_journal,
            JOURNAL_LINES,
            "lines/s",
            ">= 400k lines/s and peak RSS <= 1.5 GB",
            "journal_json_1M",
        ),
        ("docker", gen_docker, DOCKER_LINES, "lines/s", ">= 1M lines/s", "docker_json_file_1M"),
        ("gpu", gen_gpu, GPU_SAMPLES, "rows/s", ">= 500k rows/s", "nvidia_smi_nounits_700k"),
        (
            "docker-text",
            gen_docker_text,
            DOCKER_TEXT_LINES,
            "lines/s",
            "none in the issue (column-wise, no per-line pd.to_datetime)",
            "docker_logs_timestamps_text_1M",
        ),
    ]
    results = []
    with tempfile.TemporaryDirectory(prefix="bench-parsing-") as tmp:
        for kind, gen, size, unit, target, name in cases:
            path = Path(tmp) / f"{kind}.input"
            path.write_bytes(gen(size))
            ours = _measure(kind, path)
            subset = BASELINE_SUBSET.get(kind, 0)
            base = _measure(f"{kind}-baseline", path, subset)
            base_tp = float(base["lines"]) / float(base["seconds"])
            naive = {
                "gpu": "pandas read_csv + regex unit stripping",
                "docker-text": "per-line regex + pd.to_datetime",
            }.get(kind, "pd.read_json(lines=True)")
            note = (
                f"baseline {naive} on the first {subset} lines, throughput extrapolated "
                f"linearly (peak RSS {base['peak_rss_mb']:.0f} MB for the subset)"
                if subset
                else f"baseline {naive} on the full input (peak RSS {base['peak_rss_mb']:.0f} MB)"
            )
            results.append(
                record(
                    name,
                    int(ours["rows"] if kind == "gpu" else ours["lines"]),
                    float(ours["seconds"]),
                    unit,
                    base_tp,
                    target,
                    rss_mb=float(ours["peak_rss_mb"]),
                    cpu_seconds=round(float(ours["cpu_seconds"]), 3),
                    rows_out=ours["rows"],
                    input_mb=round(path.stat().st_size / 1e6, 1),
                    baseline_note=note,
                    cpu_count=os.cpu_count(),
                    load_avg_1m=round(os.getloadavg()[0], 2),
                )
            )
            path.unlink()
    return results


if __name__ == "__main__":
    if len(sys.argv) >= 4 and sys.argv[1] == "--worker":
        print(json.dumps(_worker(sys.argv[2], sys.argv[3], int(sys.argv[4]) if len(sys.argv) > 4 else 0)))
    else:
        print(json.dumps(run(), indent=2))
