"""Detection quality on the realistic test bed, out of sample, on seeds never used while tuning.

Test bed (mlops_assets/simulate): the mixed fleet (an RTX 3090 + RTX 3060 home box whose load peaks in
the evening, next to an 8 x H100 node), real background chatter replayed from ../shared/realdata
(Loghub Linux/OpenSSH/Thunderbird, journald samples), one reboot per host-day on average, diurnal
load and room temperature. Every figure goes through the backtest's path (commands/backtest.py:
templates mined on the training range, sources/offline.py features, lib/detect train/score).

- fault days (EVAL_SEEDS): train on 48 h without labels, score the next 24 h holding every fault kind
  once (default schedule, incl. a cooling drift over 2-4 h at constant load). Recall per kind, false
  alarms per host-day, share of alarm minutes outside the labelled windows, alarms per boot.
- fault-free week (WEEK_SEED): train 48 h, score 5 days with no fault, two long full-load jobs on a
  card that never ran at full load in training (the 3090, an H100): false alarms per host-day, alarm
  minutes, and alarms during the full-load jobs (a hot card under full load is not a fault).
- room rise: the fault-free week's last day has the room ROOM_RISE_C warmer for every card at once
  (an environment change, not a fault): alarms per host on that day, for each host (the home box and
  the H100 node; the temperature excess is relative to the host's other cards).
- forest share: the same fault days scored with ``ModelParams(forest=True)``: how many alarms the
  forest layer raises and whether it adds recall.
DEV_SEEDS were used to choose the parameters; nothing here is reported on them.
Run: .venv/bin/python bench/run.py detection   (~10-20 min on 2 shared cores; skips without realdata)
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from run import record

from mlops_assets.commands.backtest import features, mine_and_count_gpus
from mlops_assets.lib.detect.alarm_budget import alarm_groups
from mlops_assets.lib.detect.model import ModelParams, train
from mlops_assets.lib.detect.scoring import score
from mlops_assets.lib.evaluate.detections import evaluate_detections
from mlops_assets.simulate import DEFAULT_START, FAULT_KINDS, default_schedule, simulate
from mlops_assets.simulate.host import host_models, host_name
from mlops_assets.sources.directory import DirectorySource

REALDATA = Path(__file__).resolve().parents[2] / "shared" / "realdata"
DEV_SEEDS = (11, 12, 13)  # tuned on (simulate with these to iterate); never reported
EVAL_SEEDS = (101, 102)
WEEK_SEED = 103
TRAIN_H, SCORE_H, WEEK_H = 48, 24, 120
HOSTS = [host_name(i) for i in range(2)]
GPUS = {h: len(host_models("mixed", i, 8)) for i, h in enumerate(HOSTS)}
ROOM_RISE_C = 5.0  # the room warms by this much on the fault-free week's last day (all cards at once)
FULL_LOAD = (("gpu-node-01", 0, 24 + 10, 24 + 13), ("gpu-node-02", 6, 72 + 20, 72 + 23))  # hours after TE


def _scenario(seed: int, score_h: int, faults: bool, root: Path, ambient_day: int | None = None):
    """Simulate, then features through the backtest's path. ``ambient_day``: from the start of that
    scored day (0-based) on, the room is ROOM_RISE_C warmer (an environment change, not a fault)."""
    start = DEFAULT_START
    te = start + timedelta(hours=TRAIN_H)
    se = te + timedelta(hours=score_h)
    sched = default_schedule(HOSTS, GPUS, te, score_h, seed) if faults else []
    full = (
        []
        if faults
        else [(h, g, te + timedelta(hours=a), te + timedelta(hours=b)) for h, g, a, b in FULL_LOAD]
    )
    ambient = None if ambient_day is None else (te + timedelta(days=ambient_day), ROOM_RISE_C)
    simulate(
        root, hosts=2, hours=TRAIN_H + score_h, seed=seed, start=start, faults=sched, fleet="mixed",
        realdata=REALDATA, reboots_per_day=1.0, full_load=full, ambient=ambient,
    )  # fmt: skip
    src = DirectorySource(root)
    miner, gpus = mine_and_count_gpus(src, HOSTS, start, te)
    tf, tc, _ = features(src.root, HOSTS, start, te, miner, gpus)
    sf, sc, _ = features(src.root, HOSTS, te, se, miner, gpus)
    labels = pd.read_csv(root / "labels.csv")
    for col in ("start", "end"):
        labels[col] = pd.to_datetime(labels[col], utc=True)
    return tf, tc, sf, sc, labels, full


def _near(
    scores: pd.DataFrame, intervals: list[tuple[str, pd.Timestamp, pd.Timestamp]], pad: str
) -> np.ndarray:
    t = pd.to_datetime(scores["window_start"], utc=True)
    out = np.zeros(len(scores), bool)
    for h, s, e in intervals:
        out |= ((scores["host"] == h) & (t >= s - pd.Timedelta(pad)) & (t < e + pd.Timedelta(pad))).to_numpy()
    return out


def _boots(sf: pd.DataFrame) -> list[tuple[str, pd.Timestamp, pd.Timestamp]]:
    """(host, first marker - 2 min, last marker + 15 min) per reboot (markers within 10 min are one)."""
    rows = sf[sf["boot_markers"] > 0].sort_values(["host", "window_start"])
    out: list[tuple[str, pd.Timestamp, pd.Timestamp]] = []
    for h, t in zip(rows["host"], pd.to_datetime(rows["window_start"], utc=True), strict=True):
        if out and out[-1][0] == h and t - out[-1][2] < pd.Timedelta("10min"):
            out[-1] = (h, out[-1][1], t + pd.Timedelta("15min"))
        else:
            out.append((h, t - pd.Timedelta("2min"), t + pd.Timedelta("15min")))
    return out


def _measure(scores: pd.DataFrame, labels: pd.DataFrame, sf: pd.DataFrame) -> dict:
    s = scores.sort_values(["host", "window_start"], ignore_index=True)
    ev = evaluate_detections(s, labels)
    flag = s["is_anomaly"].to_numpy(bool)
    lab = _near(s, [(r.host, r.start, r.end) for r in labels.itertuples()], "5min")
    boots = _boots(sf)
    in_boot = _near(s, boots, "0min")
    hosts = s["host"].astype(str).to_numpy()
    return {
        "ev": ev,
        "false_minutes_share": float((flag & ~lab).mean()),
        "boots": len(boots),
        "boot_alarms": alarm_groups(hosts, flag & ~lab & in_boot, 5),
        "alarms_by_layer": s.loc[flag, "layer"].astype(str).value_counts().to_dict(),
        "alarm_windows": int(flag.sum()),
    }


def _room_day(scores: pd.DataFrame, room_day: int) -> dict:
    """Alarms (merged like incidents) per host on the room-rise day, and per host-day before it."""
    s = scores.sort_values(["host", "window_start"], ignore_index=True)
    t = pd.to_datetime(s["window_start"], utc=True)
    day = ((t - t.min()).dt.total_seconds() // 86400).astype(int).to_numpy()
    hosts, flag = s["host"].astype(str).to_numpy(), s["is_anomaly"].to_numpy(bool)
    on, before = day == room_day, day < room_day
    by_host, share = {}, {}
    for h in sorted(set(hosts.tolist())):
        r = on & (hosts == h)
        by_host[h] = alarm_groups(hosts[r], flag[r], 5)
        share[h] = round(float(flag[r].mean()), 5)
    n_before = alarm_groups(hosts[before], flag[before], 5)
    return {
        "false_alarms_by_host": by_host,
        "share_by_host": share,
        "before_per_host_day": round(n_before / max(before.sum() / 1440.0, 1e-9), 3),
    }


def run() -> list[dict]:
    if not REALDATA.is_dir():
        raise FileNotFoundError(
            f"bench_detection replays real chatter from {REALDATA}: that folder is missing"
        )
    t0 = time.perf_counter()
    per_kind: dict[str, list[bool]] = {k: [] for k in FAULT_KINDS}
    fa, days, fmin, boots, boot_alarms, ttd_drift = 0, 0.0, [], 0, 0, []
    forest = {"alarm_windows": 0, "forest_windows": 0, "false_alarms": 0, "recall_gain": 0}
    with tempfile.TemporaryDirectory(prefix="bench-detection-") as tmp:
        for seed in EVAL_SEEDS:
            tf, tc, sf, sc, labels, _ = _scenario(seed, SCORE_H, True, Path(tmp) / f"s{seed}")
            model = train(tf, tc)
            m = _measure(score(model, sf, sc), labels, sf)
            for e in m["ev"]["events"]:
                per_kind[e["fault"]].append(e["detected"])
                if e["fault"] == "thermal_drift" and e["minutes_to_detect"] is not None:
                    ttd_drift.append(e["minutes_to_detect"])
            fa += m["ev"]["false_alarms"]
            days += m["ev"]["host_days"]
            fmin.append(m["false_minutes_share"])
            boots, boot_alarms = boots + m["boots"], boot_alarms + m["boot_alarms"]
            mf = _measure(score(train(tf, tc, ModelParams(forest=True)), sf, sc), labels, sf)
            forest["alarm_windows"] += mf["alarm_windows"]
            forest["forest_windows"] += int(mf["alarms_by_layer"].get("forest", 0))
            forest["false_alarms"] += mf["ev"]["false_alarms"] - m["ev"]["false_alarms"]
            forest["recall_gain"] += mf["ev"]["events_detected"] - m["ev"]["events_detected"]
        fault_s = time.perf_counter() - t0
        room_day = WEEK_H // 24 - 1
        tf, tc, sf, sc, labels, full = _scenario(WEEK_SEED, WEEK_H, False, Path(tmp) / "week", room_day)
        model = train(tf, tc)
        wk_scores = score(model, sf, sc)
        wk = _measure(wk_scores, labels, sf)
        room = _room_day(wk_scores, room_day)
        flagged = wk_scores["is_anomaly"].to_numpy(bool)
        hot = _near(wk_scores, [(h, s, e) for h, _, s, e in full], "0min") & flagged
        # the target is about the hot card: alarms during the job that name its GPU (an ssh burst in
        # the journal during the job is counted in hot, not here)
        card = np.zeros(len(wk_scores), bool)
        for h, g, s, e in full:
            card |= (
                _near(wk_scores, [(h, s, e)], "0min") & (wk_scores["gpu_index"] == g).fillna(False).to_numpy()
            )
        hot_card = card & flagged
    recall = {k: float(np.mean(v)) for k, v in per_kind.items() if v}
    fa_day = fa / days
    boots_per = boot_alarms / boots if boots else 0.0
    week_fa = wk["ev"]["false_alarms_per_host_day"]
    room_max = max(room["false_alarms_by_host"].values())
    n_fault = int(len(EVAL_SEEDS) * SCORE_H * 60 * len(HOSTS))
    # measured under load (2 cores shared with other jobs); the training budget is the default's
    load = {
        "load": round(os.getloadavg()[0], 2),
        "train_alarm_budget": ModelParams().train_alarm_budget_per_host_day,
    }
    common = {"eval_seeds": list(EVAL_SEEDS), "dev_seeds_not_reported": list(DEV_SEEDS), **load}
    return [
        record(
            "detection_recall_by_kind", n_fault, fault_s, "windows/s", None, ">= 0.9 per fault kind (never-tuned seeds)",
            recall_by_kind=recall, min_recall=min(recall.values()), meets_target=min(recall.values()) >= 0.9, **common,
        ),
        record(
            "detection_false_alarms_fault_days", n_fault, fault_s, "windows/s", None,
            "<= 1 false alarm per host-day; alarm minutes outside faults <= 1 %",
            false_alarms_per_host_day=round(fa_day, 3), false_alarm_minutes_share=round(float(np.mean(fmin)), 5),
            meets_target=fa_day <= 1.0 and float(np.mean(fmin)) <= 0.01, **common,
        ),
        record(
            "detection_boot_minutes", boots, fault_s, "boots/s", None, "<= 1 alarm per boot",
            boots=boots, boot_alarms=boot_alarms, alarms_per_boot=round(boots_per, 3), meets_target=boots_per <= 1.0, **common,
        ),
        record(
            "detection_slow_thermal_drift", len(per_kind["thermal_drift"]), fault_s, "faults/s", None,
            "a temperature drifting up for hours at constant load is detected",
            recall=recall.get("thermal_drift"), minutes_to_detect=ttd_drift,
            meets_target=recall.get("thermal_drift", 0.0) == 1.0, **common,
        ),
        record(
            "detection_fault_free_week", len(wk_scores), time.perf_counter() - t0 - fault_s, "windows/s", None,
            "<= 1 false alarm per host-day over 5 fault-free days; hot cards under full load are no alarm",
            false_alarms_per_host_day=round(week_fa, 3), alarm_minutes_share=round(float(wk_scores["is_anomaly"].mean()), 5),
            boots=wk["boots"], boot_alarms=wk["boot_alarms"], full_load_alarm_windows=int(hot.sum()),
            full_load_alarm_windows_on_the_card=int(hot_card.sum()),
            meets_target=week_fa <= 1.0 and int(hot_card.sum()) == 0, seed=WEEK_SEED, **load,
            false_alarms_per_host_day_before_room_rise=room["before_per_host_day"],
        ),
        record(
            "detection_room_rise", len(wk_scores), time.perf_counter() - t0 - fault_s, "windows/s", None,
            f"<= 1 false alarm per host-day on the day the room is {ROOM_RISE_C:+.0f} C warmer (all cards at once), "
            "on the 8 x H100 node and the 2-card home box",
            false_alarms_by_host=room["false_alarms_by_host"], alarm_minutes_share_by_host=room["share_by_host"],
            room_day=room_day, rise_c=ROOM_RISE_C, meets_target=room_max <= 1.0, seed=WEEK_SEED, **load,
        ),
        record(
            "detection_forest_share", forest["alarm_windows"], fault_s, "windows/s", None,
            "the forest stays off by default only while it adds no detection (its share of alarms reported)",
            forest_alarm_share=round(forest["forest_windows"] / max(1, forest["alarm_windows"]), 4),
            added_false_alarms=forest["false_alarms"], added_detections=forest["recall_gain"],
            meets_target=forest["recall_gain"] <= 0, **common,
        ),
    ]  # fmt: skip


if __name__ == "__main__":
    import json

    for rec in run():
        print(json.dumps(rec))
