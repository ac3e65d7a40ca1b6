"""`mlops-assets backtest`: train on one range of your own raw logs, score another, through the production path.

DIR is a landing directory (lib/contracts/raw.py layout) or a .tar.gz of one. The template miner is
grown on the training range (as the log_templates asset does), window features come from
sources/offline.py ``features_from_raw_dir`` (DirectorySource.fetch -> parse_bundle -> template match ->
features, hour by hour), the detector from lib/detect ``train`` / ``score``. Writes OUTDIR/scores.csv
and OUTDIR/incidents.csv atomically; the last stdout line is the JSON summary (:func:`summarize`),
progress goes to stderr. Bad input exits 2 with one line saying what to fix.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd

from mlops_assets.commands.backtest_report import incidents_csv, scores_csv, summarize, write_csv

MIN_TRAIN_WINDOWS = 120  # windows with data over all hosts: below this nothing can be learned


class BadInput(Exception):
    """Input the backtest cannot run on; the message says what to fix (exit code 2)."""


def _utc(text: str) -> datetime:
    try:
        ts = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not an ISO-8601 time (e.g. 2026-11-01T00:00Z)"
        ) from exc
    return ts.replace(tzinfo=UTC) if ts.tzinfo is None else ts.astimezone(UTC)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--raw", type=Path, required=True, help="landing directory or .tar.gz of one")
    parser.add_argument("--train-start", type=_utc, required=True)
    parser.add_argument("--train-end", type=_utc, required=True)
    parser.add_argument("--score-start", type=_utc, required=True)
    parser.add_argument("--score-end", type=_utc, required=True)
    parser.add_argument("--out", type=Path, required=True, help="folder for scores.csv and incidents.csv")
    parser.add_argument("--labels", type=Path, default=None, help="CSV host,start,end,fault of known faults")
    parser.add_argument("--host", action="append", default=None, help="only these hosts (repeatable)")
    parser.add_argument(
        "--gate",
        action="store_true",
        help="also run the blocking gates on the held-out tail of the training range (own history)",
    )
    parser.add_argument(
        "--degrade",
        nargs="?",
        const="default",
        default="",
        help="gate a deliberately degraded candidate instead ('shuffle' or 'threshold:<v>'; default forces "
        "an always-alarm threshold): at least one gate must fail",
    )
    parser.add_argument("--holdout-days", type=float, default=1.0, help="held-out tail for --gate")


def _say(msg: str, t0: float = time.perf_counter()) -> None:
    print(f"[backtest {time.perf_counter() - t0:6.1f}s] {msg}", file=sys.stderr, flush=True)


def _hours(start: datetime, end: datetime) -> list[tuple[datetime, datetime]]:
    out, t = [], start
    while t < end:
        out.append((t, min(t + timedelta(hours=1), end)))
        t = out[-1][1]
    return out


def check_ranges(ts: datetime, te: datetime, ss: datetime, se: datetime) -> None:
    if not ts < te:
        raise BadInput(f"--train-start {ts.isoformat()} must be before --train-end {te.isoformat()}")
    if not ss < se:
        raise BadInput(f"--score-start {ss.isoformat()} must be before --score-end {se.isoformat()}")
    if ts < se and ss < te:
        raise BadInput(
            f"training [{ts.isoformat()}, {te.isoformat()}) overlaps scoring [{ss.isoformat()}, {se.isoformat()}): "
            "a backtest scores data the model has not seen; pick disjoint ranges"
        )


def read_labels_csv(path: Path) -> pd.DataFrame:
    if not path.is_file():
        raise BadInput(f"--labels {path} does not exist")
    df = pd.read_csv(path, dtype={"host": "string", "fault": "string"})
    missing = [c for c in ("host", "start", "end", "fault") if c not in df.columns]
    if missing:
        raise BadInput(f"--labels {path}: missing columns {missing}; expected host,start,end,fault")
    for col in ("start", "end"):
        df[col] = pd.to_datetime(df[col], utc=True)
    return df


def mine_and_count_gpus(
    source: Any, hosts: list[str], start: datetime, end: datetime
) -> tuple[Any, dict[str, int]]:
    """The template miner grown on the training range, and each host's GPU count seen there."""
    from mlops_assets.lib.parsing.bundle import parse_bundle
    from mlops_assets.lib.templates.miner import TemplateMiner

    miner, gpus = TemplateMiner(), {}
    for host in hosts:
        seen: set[int] = set()
        for a, b in _hours(start, end):
            tables = parse_bundle(source.fetch(host, a, b), host).tables
            for name in ("journal_entries", "docker_lines"):
                df = tables.get(name)
                if df is not None and len(df):
                    miner.fit(df["message"].astype("string").fillna("").tolist())
            g = tables.get("gpu_samples")
            if g is not None and len(g):
                seen |= set(pd.to_numeric(g["gpu_index"], errors="coerce").dropna().astype(int).tolist())
        gpus[host] = len(seen)
        _say(f"mined templates on {host}: {miner.n_templates} templates, {len(seen)} GPUs")
    return miner, gpus


def features(
    root: Path,
    hosts: list[str],
    start: datetime,
    end: datetime,
    miner: Any,
    gpus: dict[str, int],
    *,
    health: bool = False,
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """(features, template counts, health events) of every host over [start, end)."""
    from mlops_assets.sources.offline import replay_raw_dir

    feats, counts, events = [], [], []
    for host in hosts:
        r = replay_raw_dir(root, host, start, end, miner, expected_gpus=gpus.get(host) or None, health=health)
        feats.append(r.features)
        counts.append(r.template_counts)
        events.append(r.health_events)
        _say(f"features {host} {start:%Y-%m-%d %H:%M} .. {end:%Y-%m-%d %H:%M}: {len(r.features)} windows")
    return (
        pd.concat(feats, ignore_index=True),
        pd.concat(counts, ignore_index=True),
        pd.concat(events, ignore_index=True),
    )


def has_data(feats: pd.DataFrame) -> pd.Series:
    return (feats["gpu_samples"] > 0) | (feats["journal_lines"] > 0) | (feats["kernel_lines"] > 0)


def backtest(args: argparse.Namespace) -> dict[str, Any]:
    """Run the backtest; raises BadInput on input it cannot use."""
    from mlops_assets.lib.contracts.tables import INCIDENTS, conform
    from mlops_assets.lib.detect.incidents import model_incidents
    from mlops_assets.lib.detect.model import train
    from mlops_assets.lib.detect.scoring import score
    from mlops_assets.lib.health.incidents import health_incidents
    from mlops_assets.sources.directory import DirectorySource

    check_ranges(args.train_start, args.train_end, args.score_start, args.score_end)
    labels = read_labels_csv(args.labels) if args.labels is not None else None
    if not args.raw.exists():
        raise BadInput(f"--raw {args.raw} does not exist: pass a landing directory or a .tar.gz of one")
    with tempfile.TemporaryDirectory(prefix="mlops-backtest-") as tmp:
        try:
            source = DirectorySource(args.raw, cache_dir=Path(tmp) / "raw" if args.raw.is_file() else None)
        except (FileNotFoundError, OSError, ValueError) as exc:
            raise BadInput(f"--raw {args.raw}: {exc}") from exc
        known = source.hosts()
        hosts = args.host or known
        unknown = sorted(set(hosts) - set(known))
        if unknown:
            raise BadInput(
                f"unknown host(s) {', '.join(unknown)} in {args.raw}; known: {', '.join(known) or 'none'}"
            )
        if not hosts:
            raise BadInput(
                f"no host folders in {args.raw} (expected ROOT/<host>/nvidia-smi.csv, journal.json, ...)"
            )
        miner, gpus = mine_and_count_gpus(source, hosts, args.train_start, args.train_end)
        train_f, train_c, _ = features(source.root, hosts, args.train_start, args.train_end, miner, gpus)
        with_data = int(has_data(train_f).sum())
        if with_data < MIN_TRAIN_WINDOWS:
            raise BadInput(
                f"too little training data: {with_data} windows with any log or GPU sample in "
                f"[{args.train_start.isoformat()}, {args.train_end.isoformat()}); need at least {MIN_TRAIN_WINDOWS}"
            )
        model = train(train_f, train_c)
        _say(f"trained on {len(train_f)} windows; threshold {model.threshold:.3f}")
        score_f, score_c, events = features(
            source.root, hosts, args.score_start, args.score_end, miner, gpus, health=True
        )
        scores = score(model, score_f, score_c, model_version="backtest")
        gates = _gates(args, source.root, hosts, miner, gpus) if args.gate or args.degrade else None
    health = health_incidents(events)
    incidents = conform(
        pd.concat([t for t in (model_incidents(scores, "backtest"), health) if len(t)] or [health]), INCIDENTS
    )
    args.out.mkdir(parents=True, exist_ok=True)
    write_csv(scores_csv(scores), args.out / "scores.csv")
    write_csv(incidents_csv(incidents), args.out / "incidents.csv")
    if labels is not None:  # only faults the scored range can show count towards recall
        inside = (
            (labels["start"] < pd.Timestamp(args.score_end))
            & (labels["end"] > pd.Timestamp(args.score_start))
            & labels["host"].isin(hosts)
        )
        skipped, labels = int((~inside).sum()), labels[inside]
    summary = summarize(scores, incidents, model, labels)
    summary["health_events"] = len(events)
    if labels is not None:
        summary["labels_outside_score_range"] = skipped
    if gates is not None:
        summary |= gates
    return summary


def _gates(args: argparse.Namespace, root: Path, hosts: list[str], miner: Any, gpus: dict[str, int]) -> dict:
    """The gates on the held-out tail of the TRAINING range (plus faults overlaid on copies of it)."""
    from mlops_assets.commands.backtest_gates import DEFAULT_DEGRADE, backtest_gates

    degrade = (args.degrade if args.degrade != "default" else DEFAULT_DEGRADE) if args.degrade else ""
    _say(
        f"gates on the held-out tail of the training range{' (degraded: ' + degrade + ')' if degrade else ''}"
    )
    try:
        out = backtest_gates(
            str(root),
            hosts,
            args.train_start,
            args.train_end,
            miner,
            holdout_days=args.holdout_days,
            degrade=degrade,
            expected_gpus=max(gpus.values(), default=0) or None,
        )
    except ValueError as exc:  # e.g. no training hours left before the held-out days
        raise BadInput(f"--gate: {exc}") from exc
    out.pop("evaluation", None)  # per-window detail: in the MLflow run of a real evaluation, not the line
    return out


def run(args: argparse.Namespace) -> int:
    try:
        summary = backtest(args)
    except BadInput as exc:
        print(f"mlops-assets backtest: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(summary, default=str), flush=True)
    return 0
