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
import os
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd

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


def features(root: Path, hosts: list[str], start: datetime, end: datetime, miner: Any, gpus: dict[str, int]):
    from mlops_assets.sources.offline import features_from_raw_dir

    feats, counts = [], []
    for host in hosts:
        f, c = features_from_raw_dir(root, host, start, end, miner, expected_gpus=gpus.get(host) or None)
        feats.append(f)
        counts.append(c)
        _say(f"features {host} {start:%Y-%m-%d %H:%M} .. {end:%Y-%m-%d %H:%M}: {len(f)} windows")
    return pd.concat(feats, ignore_index=True), pd.concat(counts, ignore_index=True)


def has_data(feats: pd.DataFrame) -> pd.Series:
    return (feats["gpu_samples"] > 0) | (feats["journal_lines"] > 0) | (feats["kernel_lines"] > 0)


def summarize(
    scores: pd.DataFrame, incidents: pd.DataFrame, model: Any, labels: pd.DataFrame | None
) -> dict[str, Any]:
    """The JSON summary (one dict, so gate options can add their keys to it)."""
    from mlops_assets.lib.detect.alarm_budget import alarm_groups
    from mlops_assets.lib.evaluate.detections import evaluate_detections

    s = scores.sort_values(["host", "window_start"], ignore_index=True)
    flag = s["is_anomaly"].to_numpy(dtype=bool)
    host_days = len(s) / 1440.0
    layer = s.loc[flag, "layer"].fillna("").astype(str).value_counts().to_dict() if "layer" in s else {}
    out: dict[str, Any] = {
        "windows": len(s),
        "hosts": sorted(s["host"].astype(str).unique().tolist()),
        "host_days": round(host_days, 3),
        "alarm_minutes_share": round(float(flag.mean()) if len(s) else 0.0, 5),
        "alarm_groups_per_host_day": round(
            alarm_groups(s["host"].astype(str).to_numpy(), flag, model.params.alarm_merge_gap_windows)
            / host_days,
            3,
        )
        if host_days
        else 0.0,
        "alarm_windows_by_layer": {str(k): int(v) for k, v in layer.items()},
        "incidents": len(incidents),
        "incidents_by_kind": {str(k): int(v) for k, v in incidents["kind"].value_counts().items()},
        "health_only_hosts": list(model.training.get("health_only_hosts", [])),
        "health_layer": "lib.health is not on this branch: incidents come from the baseline and forest layers",
    }
    try:
        import mlops_assets.lib.health  # noqa: F401

        out["health_layer"] = "available (not wired into the backtest yet)"
    except ImportError:
        pass
    if labels is not None:
        ev = evaluate_detections(scores, labels)
        ttd: dict[str, list[float]] = {}
        for e in ev["events"]:
            if e["minutes_to_detect"] is not None:
                ttd.setdefault(e["fault"], []).append(e["minutes_to_detect"])
        out.update(
            {
                "labels": ev["events_total"],
                "recall_by_fault": {k: round(v, 3) for k, v in ev["event_recall_by_fault"].items()},
                "minutes_to_detect_by_fault": {
                    k: round(float(pd.Series(v).median()), 1) for k, v in ttd.items()
                },
                "median_minutes_to_detect": ev["median_minutes_to_detect"],
                "false_alarms": ev["false_alarms"],
                "false_alarms_per_host_day": round(ev["false_alarms_per_host_day"], 3),
                "events": ev["events"],
            }
        )
    return out


def _write_csv(df: pd.DataFrame, path: Path) -> None:
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    df.to_csv(tmp, index=False)
    os.replace(tmp, path)


def scores_csv(scores: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "host": scores["host"],
            "window_start": pd.to_datetime(scores["window_start"], utc=True).dt.strftime(
                "%Y-%m-%dT%H:%M:%SZ"
            ),
            "score": scores["score"].round(5),
            "is_anomaly": scores["is_anomaly"].astype(int),
            "top_features": scores["top_features"],
            "layer": scores["layer"] if "layer" in scores else "",
            "gpu_index": scores["gpu_index"] if "gpu_index" in scores else pd.NA,
        }
    )


def incidents_csv(incidents: pd.DataFrame) -> pd.DataFrame:
    iso = lambda s: pd.to_datetime(s, utc=True).dt.strftime("%Y-%m-%dT%H:%M:%SZ")  # noqa: E731
    return pd.DataFrame(
        {
            "incident_id": incidents["incident_id"],
            "host": incidents["host"],
            "gpu": incidents["gpu_index"],
            "start": iso(incidents["start"]),
            "end": iso(incidents["end"]),
            "severity": incidents["severity"],
            "kind": incidents["kind"],
            "action": incidents["action"],
            "layer": incidents["layer"],
            "windows": incidents["windows"],
            "max_score": incidents["max_score"].round(4),
            "summary": [json.loads(e or "{}").get("text", "") for e in incidents["evidence"]],
        }
    )


def backtest(args: argparse.Namespace) -> dict[str, Any]:
    """Run the backtest; raises BadInput on input it cannot use."""
    from mlops_assets.lib.detect.incidents import model_incidents
    from mlops_assets.lib.detect.model import train
    from mlops_assets.lib.detect.scoring import score
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
        train_f, train_c = features(source.root, hosts, args.train_start, args.train_end, miner, gpus)
        with_data = int(has_data(train_f).sum())
        if with_data < MIN_TRAIN_WINDOWS:
            raise BadInput(
                f"too little training data: {with_data} windows with any log or GPU sample in "
                f"[{args.train_start.isoformat()}, {args.train_end.isoformat()}); need at least {MIN_TRAIN_WINDOWS}"
            )
        model = train(train_f, train_c)
        _say(f"trained on {len(train_f)} windows; threshold {model.threshold:.3f}")
        score_f, score_c = features(source.root, hosts, args.score_start, args.score_end, miner, gpus)
        scores = score(model, score_f, score_c, model_version="backtest")
    incidents = model_incidents(scores, "backtest")
    args.out.mkdir(parents=True, exist_ok=True)
    _write_csv(scores_csv(scores), args.out / "scores.csv")
    _write_csv(incidents_csv(incidents), args.out / "incidents.csv")
    if labels is not None:  # only faults the scored range can show count towards recall
        inside = (
            (labels["start"] < pd.Timestamp(args.score_end))
            & (labels["end"] > pd.Timestamp(args.score_start))
            & labels["host"].isin(hosts)
        )
        skipped, labels = int((~inside).sum()), labels[inside]
    summary = summarize(scores, incidents, model, labels)
    if labels is not None:
        summary["labels_outside_score_range"] = skipped
    return summary


def run(args: argparse.Namespace) -> int:
    try:
        summary = backtest(args)
    except BadInput as exc:
        print(f"mlops-assets backtest: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(summary, default=str), flush=True)
    return 0
