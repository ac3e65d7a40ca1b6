"""Benchmark harness: runs every bench/bench_*.py and writes bench/results.json.

Each module defines ``run() -> list[dict]``; each record has the keys of RECORD_KEYS. A module
measures its naive baseline in the same run on the same generated input, so ratios are honest.
Usage: python bench/run.py [name-substring ...]; a run replaces the records of the benchmarks it ran
and keeps the others, so bench/results.json (committed) holds the latest figure of every benchmark.
"""

from __future__ import annotations

import importlib.util
import json
import os
import resource
import sys
import time
from pathlib import Path

RECORD_KEYS = (
    "name",
    "items",
    "seconds",
    "throughput",
    "unit",
    "baseline",
    "ratio_vs_baseline",
    "peak_rss_mb",
    "target",
)
HERE = Path(__file__).resolve().parent
# Run only when named (`make bench BENCH=image`): needs a Docker engine and minutes of cold builds.
OPT_IN = {"bench_image"}


def peak_rss_mb() -> float:
    """Peak RSS of this process so far (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def record(
    name: str,
    items: int,
    seconds: float,
    unit: str,
    baseline_throughput: float | None,
    target: str,
    rss_mb: float | None = None,
    **extra: object,
) -> dict:
    """Build one result record; ``baseline`` is the baseline's throughput in the same unit."""
    throughput = items / seconds if seconds > 0 else float("inf")
    rec = {
        "name": name,
        "items": items,
        "seconds": round(seconds, 4),
        "throughput": round(throughput, 1),
        "unit": unit,
        "baseline": round(baseline_throughput, 1) if baseline_throughput else None,
        "ratio_vs_baseline": round(throughput / baseline_throughput, 2) if baseline_throughput else None,
        "peak_rss_mb": round(rss_mb if rss_mb is not None else peak_rss_mb(), 1),
        "target": target,
    }
    rec.update(extra)
    return rec


def timed(fn, *args, **kwargs) -> tuple[object, float]:
    t0 = time.perf_counter()
    out = fn(*args, **kwargs)
    return out, time.perf_counter() - t0


def main(argv: list[str]) -> int:
    sys.path.insert(0, str(HERE))
    results: list[dict] = []
    failed: list[str] = []
    for path in sorted(HERE.glob("bench_*.py")):
        if argv and not any(a in path.stem for a in argv):
            continue
        if path.stem in OPT_IN and not argv:
            continue
        spec = importlib.util.spec_from_file_location(path.stem, path)
        mod = importlib.util.module_from_spec(spec)
        assert spec.loader is not None
        spec.loader.exec_module(mod)
        print(f"== {path.stem}", flush=True)
        try:
            recs = mod.run()
        except Exception as exc:  # noqa: BLE001 - report and continue with the other benchmarks
            failed.append(f"{path.stem}: {type(exc).__name__}: {exc}")
            print(f"   FAILED: {exc}", flush=True)
            continue
        for r in recs:
            missing = [k for k in RECORD_KEYS if k not in r]
            if missing:
                raise SystemExit(f"{path.stem} returned a record without {missing}")
            print("   " + json.dumps(r), flush=True)
        results.extend(recs)
    out = HERE / "results.json"
    # A selective run replaces only its own records: the file keeps every benchmark's latest figures.
    previous = json.loads(out.read_text()) if out.exists() else []
    fresh = {r["name"] for r in results}
    merged = [r for r in previous if r.get("name") not in fresh] + results
    tmp = out.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(sorted(merged, key=lambda r: r["name"]), indent=2) + "\n")
    os.replace(tmp, out)
    print(f"wrote {out} ({len(results)} records)")
    if failed:
        print("benchmarks that failed:\n  " + "\n  ".join(failed))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
