"""Template mining: throughput on a generated 1M-message corpus and Loghub grouping accuracy, vs Drain3.

Baseline: Drain3 0.9.11 (`make bench` installs it) measured in the same run. Drain3 is pure Python and
does per-line work, so on the 1M corpus it runs on the first DRAIN3_SUBSET messages (reported in the
record); ours runs on all 1M, best wall time of REPEATS runs (CPU time and load average recorded too:
the machine is shared). Accuracy (Zhu et al. 2019 grouping accuracy) is not a throughput: it is in the
extra keys `accuracy*` / `baseline_accuracy*` (Drain3 default config) and
`baseline_accuracy_docs_config` (Drain3 with the masking + sim_th=0.4 of its example drain3.ini).

Accuracy sets (issue 16 item 7): HPC, Linux, OpenSSH, Thunderbird 2k samples, each scored against two
ground truths: Loghub's `*_structured.csv` and loghub-2.0's corrected `*_structured_corrected.csv`. The
target mean is over these 8 files. Declared split: the rules were chosen on the first 1000 lines of each
file (dev half, a miner fitted on those lines alone); the second 1000 lines (a fresh miner) are the
report half; `full` is the whole file. All three are recorded.
"""

from __future__ import annotations

import os
import random
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from run import record  # noqa: E402

from mlops_assets.lib.templates import TemplateMiner, grouping_accuracy  # noqa: E402

N_MESSAGES = 1_000_000
DRAIN3_SUBSET = 200_000
REPEATS = 3
DATASETS = ("HPC", "Linux", "OpenSSH", "Thunderbird")
GROUND_TRUTHS = {
    "loghub": ("loghub", "{ds}_2k.log_structured.csv"),
    "loghub2_corrected": ("loghub2_corrected", "{ds}_2k.log_structured_corrected.csv"),
}
DEV_LINES = 1000
TARGET_MEAN = 0.93
TARGET_RATE = 500_000
UNITS = ["nginx", "sshd", "kubelet", "dockerd", "containerd", "cron", "nvidia-persistenced", "dcgm-exporter"]
USERS = ["alice", "bob", "carol", "dave", "root", "ubuntu", "svc-train", "jenkins"]
CONTAINERS = ["trainer", "jupyter", "triton", "redis", "postgres", "prometheus", "grafana", "loader"]
LEVELS = ["INFO", "WARN", "ERROR", "DEBUG"]

# Drain3's examples/drain3.ini masking (the documented "best known" setup).
DRAIN3_DOC_MASKING = [
    (r"((?<=[^A-Za-z0-9])|^)(([0-9a-f]{2,}:){3,}([0-9a-f]{2,}))((?=[^A-Za-z0-9])|$)", "ID"),
    (r"((?<=[^A-Za-z0-9])|^)(\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3})((?=[^A-Za-z0-9])|$)", "IP"),
    (r"((?<=[^A-Za-z0-9])|^)([0-9a-f]{6,} ?){3,}((?=[^A-Za-z0-9])|$)", "SEQ"),
    (r"((?<=[^A-Za-z0-9])|^)([0-9A-F]{4} ?){4,}((?=[^A-Za-z0-9])|$)", "SEQ"),
    (r"((?<=[^A-Za-z0-9])|^)(0x[a-f0-9A-F]+)((?=[^A-Za-z0-9])|$)", "HEX"),
    (r"((?<=[^A-Za-z0-9])|^)([\-\+]?\d+)((?=[^A-Za-z0-9])|$)", "NUM"),
]


def _generators(r: random.Random) -> list[Callable[[], str]]:
    """Journal/docker-like templates, each with several variable fields (ground truth = list index)."""
    ip = lambda: f"10.{r.randint(0, 255)}.{r.randint(0, 255)}.{r.randint(1, 254)}"  # noqa: E731
    return [
        lambda: (
            f"Accepted publickey for {r.choice(USERS)} from {ip()} port {r.randint(1024, 65535)} ssh2: RSA SHA256:{r.getrandbits(64):x}"
        ),
        lambda: (
            f"Failed password for invalid user {r.choice(USERS)}x from {ip()} port {r.randint(1024, 65535)} ssh2"
        ),
        lambda: (
            f"Started {r.choice(UNITS)}.service - Session {r.randint(1, 99999)} of User {r.choice(USERS)}."
        ),
        lambda: (
            f"{r.choice(UNITS)}.service: Main process exited, code=exited, status={r.randint(1, 255)}/FAILURE"
        ),
        lambda: (
            f"{r.choice(UNITS)}.service: Scheduled restart job, restart counter is at {r.randint(1, 50)}."
        ),
        lambda: (
            f"pam_unix(sshd:session): session opened for user {r.choice(USERS)}(uid={r.randint(0, 2000)}) by (uid=0)"
        ),
        lambda: (
            f"GET /api/v1/jobs/{r.randint(1, 10**6)} HTTP/1.1 {r.choice([200, 201, 404, 500])} {r.randint(10, 99999)} {r.random() * 900:.3f}ms"
        ),
        lambda: (
            f"POST /v2/models/{r.choice(CONTAINERS)}/infer HTTP/1.1 200 {r.randint(10, 99999)} latency={r.random():.4f}s"
        ),
        lambda: (
            f"container {r.getrandbits(48):012x} ({r.choice(CONTAINERS)}) exited with code {r.randint(0, 137)} after {r.randint(1, 3600)}s"
        ),
        lambda: (
            f'level={r.choice(LEVELS).lower()} ts={time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(r.randint(1_700_000_000, 1_800_000_000)))}Z msg="step done" step={r.randint(1, 10**6)} loss={r.random() * 4:.5f} lr={r.random() / 1000:.2e}'
        ),
        lambda: (
            f"[{r.choice(LEVELS)}] worker-{r.randint(0, 63)} rss={r.randint(1, 99999)}MiB gpu={r.randint(0, 7)} util={r.randint(0, 100)}%"
        ),
        lambda: (
            f"NVRM: Xid (PCI:0000:{r.randint(0, 255):02x}:00): {r.choice([13, 31, 43, 48, 79, 119])}, pid={r.randint(100, 99999)}, name={r.choice(CONTAINERS)}, Ch {r.randint(0, 255):08x}"
        ),
        lambda: (
            f"Out of memory: Killed process {r.randint(100, 99999)} ({r.choice(CONTAINERS)}) total-vm:{r.randint(10**5, 10**8)}kB, anon-rss:{r.randint(10**5, 10**8)}kB, file-rss:0kB"
        ),
        lambda: (
            f"loaded checkpoint /data/ckpt/run-{uuid.UUID(int=r.getrandbits(128))}/epoch_{r.randint(0, 99)}.pt in {r.random() * 60:.2f} s"
        ),
        lambda: f"Connection reset by {ip()} port {r.randint(1024, 65535)} [preauth]",
        lambda: (
            f"docker0: port {r.randint(1, 16)}(veth{r.getrandbits(28):07x}) entered {r.choice(['blocking', 'forwarding', 'disabled'])} state"
        ),
        lambda: (
            f"health check of {r.choice(CONTAINERS)} failed: context deadline exceeded after {r.randint(1, 30)}s (attempt {r.randint(1, 5)}/5)"
        ),
        lambda: (
            f"Reached target {r.choice(['Multi-User System', 'Graphical Interface', 'Network', 'Timers'])}."
        ),
        lambda: (
            f"python3[{r.randint(100, 99999)}]: epoch {r.randint(0, 500)} batch {r.randint(0, 10**4)}/{10**4} throughput {r.random() * 5000:.1f} samples/s"
        ),
        lambda: (
            f"CRON[{r.randint(100, 99999)}]: ({r.choice(USERS)}) CMD (/usr/local/bin/rotate --keep {r.randint(1, 30)})"
        ),
    ]


def generate_corpus(n: int, seed: int = 7) -> tuple[list[str], list[int]]:
    r = random.Random(seed)
    gens = _generators(r)
    weights = [r.randint(1, 20) for _ in gens]
    kinds = r.choices(range(len(gens)), weights=weights, k=n)
    return [gens[k]() for k in kinds], kinds


def _drain3(config_name: str):
    try:
        from drain3 import TemplateMiner as Drain3Miner
        from drain3.masking import MaskingInstruction
        from drain3.template_miner_config import TemplateMinerConfig
    except ImportError as exc:
        raise RuntimeError("drain3 is missing: run `make bench` (installs drain3==0.9.11 --no-deps)") from exc
    config = TemplateMinerConfig()  # without load(): Drain3's defaults, no masking
    if config_name == "docs":
        config.drain_sim_th, config.drain_depth, config.drain_max_children = 0.4, 4, 100
        config.masking_instructions = [MaskingInstruction(p, m) for p, m in DRAIN3_DOC_MASKING]
    return Drain3Miner(config=config)


def _drain3_ids(messages: list[str], config_name: str = "default") -> tuple[list[int], float]:
    miner = _drain3(config_name)
    t0 = time.perf_counter()
    ids = [miner.add_log_message(m)["cluster_id"] for m in messages]
    return ids, time.perf_counter() - t0


def _realdata() -> Path:
    return Path(os.environ.get("MLOPS_REALDATA", ROOT.parent / "shared" / "realdata"))


def _best_of(fn: Callable[[], object]) -> tuple[object, float, float, list[float]]:
    """Result, best wall seconds, the CPU seconds of that run, and every run's wall seconds."""
    best = None
    walls = []
    for _ in range(REPEATS):
        cpu0, t0 = time.process_time(), time.perf_counter()
        out = fn()
        wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
        walls.append(round(wall, 4))
        if best is None or wall < best[1]:
            best = (out, wall, cpu)
    assert best is not None
    return (*best, walls)


def bench_throughput() -> list[dict]:
    messages, truth = generate_corpus(N_MESSAGES)
    load_before = os.getloadavg()[0]
    ids, fit_s, fit_cpu, fit_walls = _best_of(lambda: TemplateMiner().fit_match(messages))
    miner = TemplateMiner()
    miner.fit(messages)
    matched, match_s, match_cpu, match_walls = _best_of(lambda: miner.match(messages))
    load_after = os.getloadavg()[0]
    if not (matched == ids).all():
        raise RuntimeError("match() disagrees with fit_match() on the messages it was fitted on")

    subset = messages[:DRAIN3_SUBSET]
    d3_ids, d3_s = _drain3_ids(subset)
    d3 = _drain3("default")
    for m in subset:
        d3.add_log_message(m)
    t0 = time.perf_counter()
    for m in subset:
        d3.match(m)
    d3_match_s = time.perf_counter() - t0
    ours_subset = TemplateMiner().fit_match(subset)
    common = {
        "baseline_items": len(subset),
        "baseline_name": f"drain3 0.9.11 default config, first {len(subset)} messages",
        "accuracy": round(grouping_accuracy(truth, ids), 4),
        "accuracy_on_baseline_subset": round(grouping_accuracy(truth[:DRAIN3_SUBSET], ours_subset), 4),
        "baseline_accuracy": round(grouping_accuracy(truth[:DRAIN3_SUBSET], d3_ids), 4),
        "n_templates": miner.n_templates,
        "true_templates": len(set(truth)),
        "repeats": REPEATS,
        "load": [round(load_before, 2), round(load_after, 2)],
        "cpus": os.cpu_count(),
        "measured_under": "shared 2-core machine, other helpers running (load = 1-min load average)",
    }
    return [
        record(
            "templates_fit_1M",
            len(messages),
            fit_s,
            "messages/s",
            len(subset) / d3_s,
            ">= 500k messages/s",
            **common,
            cpu_seconds=round(fit_cpu, 4),
            seconds_each_run=fit_walls,
            meets_target=bool(len(messages) / fit_s >= TARGET_RATE),
        ),
        record(
            "templates_match_1M",
            len(messages),
            match_s,
            "messages/s",
            len(subset) / d3_match_s,
            ">= 500k messages/s",
            **common,
            cpu_seconds=round(match_cpu, 4),
            seconds_each_run=match_walls,
            meets_target=bool(len(messages) / match_s >= TARGET_RATE),
        ),
    ]


def _ground_truth(ds: str, variant: str) -> pd.DataFrame:
    folder, pattern = GROUND_TRUTHS[variant]
    path = _realdata() / folder / ds / pattern.format(ds=ds)
    if not path.is_file():
        raise RuntimeError(f"{path} is missing: set MLOPS_REALDATA to the realdata folder")
    return pd.read_csv(path, dtype=str, keep_default_na=False)


def _halves(frame: pd.DataFrame, fit: Callable[[list[str]], object]) -> dict[str, float]:
    """GA of a fresh miner on the dev half, on the report half, and on the whole file."""
    parts = {"dev": frame.iloc[:DEV_LINES], "report": frame.iloc[DEV_LINES:], "full": frame}
    return {
        k: round(grouping_accuracy(p["EventId"], fit(p["Content"].tolist())), 4) for k, p in parts.items()
    }


def bench_loghub() -> list[dict]:
    records = []
    scores: dict[str, list[float]] = {"full": [], "dev": [], "report": []}
    baseline_scores: list[float] = []
    per_set: dict[str, dict[str, float]] = {}
    for ds in DATASETS:
        extra: dict[str, object] = {}
        ours_s = d3_s = 0.0
        for variant in GROUND_TRUTHS:
            frame = _ground_truth(ds, variant)
            contents = frame["Content"].tolist()
            t0 = time.perf_counter()
            TemplateMiner().fit_match(contents)
            ours_s += time.perf_counter() - t0
            ours = _halves(frame, lambda c: TemplateMiner().fit_match(c))
            d3_ids, seconds = _drain3_ids(contents)
            d3_s += seconds
            doc_ids, _ = _drain3_ids(contents, "docs")
            base = round(grouping_accuracy(frame["EventId"], d3_ids), 4)
            for half, value in ours.items():
                extra[f"accuracy_{variant}_{half}"] = value
                scores[half].append(value)
            extra[f"baseline_accuracy_{variant}"] = base
            extra[f"baseline_accuracy_docs_config_{variant}"] = round(
                grouping_accuracy(frame["EventId"], doc_ids), 4
            )
            baseline_scores.append(base)
            per_set[f"{ds}/{variant}"] = ours["full"]
        full = [extra[f"accuracy_{v}_full"] for v in GROUND_TRUTHS]
        base = [extra[f"baseline_accuracy_{v}"] for v in GROUND_TRUTHS]
        records.append(
            record(
                f"templates_accuracy_{ds}",
                2 * len(contents),
                ours_s,
                "messages/s",
                2 * len(contents) / d3_s,
                ">= drain3 accuracy on both ground truths",
                accuracy=extra["accuracy_loghub2_corrected_full"],
                **extra,
                meets_target=bool(all(a >= b for a, b in zip(full, base, strict=True))),
            )
        )
    mean = {half: round(sum(v) / len(v), 4) for half, v in scores.items()}
    records.append(
        record(
            "templates_accuracy_mean",
            len(scores["full"]),
            sum(r["seconds"] for r in records),
            "files/s",
            None,
            f"mean grouping accuracy >= {TARGET_MEAN} over 4 Loghub sets x 2 ground truths",
            accuracy=mean["full"],
            accuracy_dev=mean["dev"],
            accuracy_report=mean["report"],
            baseline_accuracy=round(sum(baseline_scores) / len(baseline_scores), 4),
            per_set=per_set,
            sets=list(DATASETS),
            ground_truths={v: f"{folder}/<set>/{pattern}" for v, (folder, pattern) in GROUND_TRUTHS.items()},
            split=f"dev = first {DEV_LINES} lines of each file (rules chosen there), report = the rest",
            meets_target=bool(mean["full"] >= TARGET_MEAN),
        )
    )
    return records


def run() -> list[dict]:
    return bench_throughput() + bench_loghub()


if __name__ == "__main__":
    for rec in run():
        print(rec)
