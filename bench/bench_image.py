"""Production image: debootstrap base time, cold build time and the size of what ships.

Opt-in (needs a Docker engine and several minutes): `make bench BENCH=image`. The base is rebuilt
into its own tag (FORCE=1), and the project image is built with --no-cache from that base, exactly as
`make image` does it, so both figures are cold. The baseline is none: there was no image before.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

from run import record

ROOT = Path(__file__).resolve().parents[1]
BASE_TAG = "mlops-assets-base:bench"
IMAGE_TAG = "mlops-assets:bench"
BASE_TARGET_S = 180
BUILD_TARGET_S = 900  # one cold build must leave room for the rest of a 30-minute CI run
SIZE_TARGET_MB = 2000


def _run(cmd: list[str], env: dict[str, str]) -> float:
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=ROOT, env={**os.environ, **env}, capture_output=True, text=True)
    seconds = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({proc.returncode}): {proc.stderr[-2000:]}")
    return seconds


def _size_mb(tag: str) -> float:
    out = subprocess.run(["docker", "image", "inspect", tag], capture_output=True, text=True, check=True)
    return json.loads(out.stdout)[0]["Size"] / 1e6


def run() -> list[dict]:
    ready = subprocess.run([str(ROOT / "deploy/image/dockerd.sh")], capture_output=True, text=True)
    if ready.returncode != 0:
        raise RuntimeError(f"no Docker engine: {ready.stderr.strip()}")
    base_s = _run(["deploy/image/build-base.sh", BASE_TAG], {"FORCE": "1"})
    build_s = _run(["deploy/image/build.sh"], {"IMAGE": IMAGE_TAG, "BASE_IMAGE": BASE_TAG, "NO_CACHE": "1"})
    base_mb, image_mb = _size_mb(BASE_TAG), _size_mb(IMAGE_TAG)
    subprocess.run(["docker", "image", "rm", IMAGE_TAG, BASE_TAG], capture_output=True)
    return [
        record(
            "image_base_debootstrap",
            1,
            base_s,
            "images/s",
            None,
            f"debootstrap + docker import < {BASE_TARGET_S} s",
            size_mb=round(base_mb, 1),
            meets_target=base_s < BASE_TARGET_S,
        ),
        record(
            "image_build_cold",
            1,
            build_s,
            "images/s",
            None,
            f"cold `make image` (--no-cache, lock install) < {BUILD_TARGET_S} s, image < {SIZE_TARGET_MB} MB",
            size_mb=round(image_mb, 1),
            meets_target=build_s < BUILD_TARGET_S and image_mb < SIZE_TARGET_MB,
        ),
    ]
