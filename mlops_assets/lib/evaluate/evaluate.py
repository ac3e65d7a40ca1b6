"""Assemble the held-out data of the hosts' own history and evaluate a candidate on it.

Where the bytes come from is the caller's business (stored raw partitions for the model asset, a
landing folder for the backtest): it passes ``clean_of(host, key) -> (parsed tables, features,
template counts)`` of an unmodified held-out hour and ``bundle_of(host, key) -> RawBundle``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pandas as pd

from mlops_assets.lib.contracts.raw import RawBundle
from mlops_assets.lib.evaluate.false_alarms import empty_explained
from mlops_assets.lib.evaluate.gates import Thresholds, compact, gate_results
from mlops_assets.lib.evaluate.heldout import expected_gpus_of, hour_start, replay
from mlops_assets.lib.evaluate.labels import split_verdicts
from mlops_assets.lib.evaluate.overlay import FAULT_KINDS, labels_frame, overlay_hour, plan_faults
from mlops_assets.lib.evaluate.own_history import (
    HeldOutData,
    in_range,
    judge_model,
    judge_rules_baseline,
    summary,
)
from mlops_assets.lib.evaluate.rules_baseline import HAS_HEALTH_RULES, critical_events, event_intervals

Clean = tuple[dict[str, pd.DataFrame], pd.DataFrame, pd.DataFrame]


def _concat(frames: list[pd.DataFrame]) -> pd.DataFrame:
    frames = [f for f in frames if len(f)]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def build_heldout_data(
    holdout: dict[str, list[str]],
    clean_of: Callable[[str, str], Clean],
    bundle_of: Callable[[str, str], RawBundle],
    miner: Any,
    *,
    seed: int,
    operator_labels: pd.DataFrame,
    kinds: tuple[str, ...] = FAULT_KINDS,
    per_kind: int | None = None,
) -> HeldOutData:
    feats, counts, events, gpus, expected = [], [], [], {}, {}
    for host, keys in sorted(holdout.items()):
        seen: set[int] = set()
        for key in keys:
            tables, f, c = clean_of(host, key)
            feats.append(f)
            counts.append(c)
            events.append(critical_events(tables, host))
            n = expected_gpus_of(tables)
            expected[(host, key)] = n
            if n:
                seen |= set(
                    pd.to_numeric(tables["gpu_samples"]["gpu_index"], errors="coerce").dropna().astype(int)
                )
        gpus[host] = sorted(seen)
    clean_f, clean_c = _concat(feats), _concat(counts)
    clean_events = _concat(events)
    hours = {h: [hour_start(k) for k in ks] for h, ks in holdout.items()}
    faults = plan_faults(hours, gpus, seed=seed, kinds=kinds, per_kind=per_kind)
    replaced, over_f, over_c, over_events = set(), [], [], []
    by_hour: dict[tuple[str, str], list] = {}
    for f in faults:
        by_hour.setdefault((f.host, f.start.floor("1h").strftime("%Y-%m-%d-%H:%M")), []).append(f)
    for (host, key), fs in sorted(by_hour.items()):
        tables, fo, co = replay(
            overlay_hour(bundle_of(host, key), host, fs, seed),
            host,
            key,
            miner,
            expected_gpus=expected.get((host, key)),
        )
        replaced.add((host, hour_start(key)))
        over_f.append(fo)
        over_c.append(co)
        over_events.append(critical_events(tables, host))

    def keep(frame: pd.DataFrame) -> pd.DataFrame:
        if frame.empty:
            return frame
        hour = pd.to_datetime(frame["window_start"], utc=True).dt.floor("1h")
        mask = [(h, t) not in replaced for h, t in zip(frame["host"].astype(str), hour, strict=True)]
        return frame[mask]

    overlay_f = _concat([keep(clean_f), *over_f]).sort_values(["host", "window_start"], ignore_index=True)
    overlay_c = _concat([keep(clean_c), *over_c])
    untouched_events = (
        clean_events[
            [
                (h, t) not in replaced
                for h, t in zip(
                    clean_events["host"].astype(str),
                    pd.to_datetime(clean_events["ts"], utc=True).dt.floor("1h"),
                    strict=True,
                )
            ]
        ]
        if len(clean_events)
        else clean_events
    )
    start = min(min(v) for v in hours.values())
    end = max(max(v) for v in hours.values()) + pd.Timedelta(hours=1)
    confirmed, dismissed = split_verdicts(operator_labels)
    confirmed, dismissed = in_range(confirmed, start, end), in_range(dismissed, start, end)
    explained = [event_intervals(clean_events)] if len(clean_events) else []
    if len(confirmed):
        explained.append(confirmed.assign(reason="operator:confirmed")[["host", "start", "end", "reason"]])
    return HeldOutData(
        clean_features=clean_f,
        clean_counts=clean_c,
        overlay_features=overlay_f,
        overlay_counts=overlay_c,
        labels=labels_frame(faults),
        explained=_concat(explained) if explained else empty_explained(),
        clean_events=clean_events,
        overlay_events=_concat([untouched_events, *over_events]),
        confirmed=confirmed,
        dismissed=dismissed,
        params={
            "overlay_seed": seed,
            "overlay_kinds": ",".join(kinds),
            "overlay_faults": len(faults),
            "overlay_per_kind": len(faults) // max(len(kinds), 1),
            "holdout_hours": sum(len(v) for v in holdout.values()),
            "holdout_range": f"{start.isoformat()}..{end.isoformat()}",
            "explained_source": "health-rules" if HAS_HEALTH_RULES else "kernel-critical-events",
        },
    )


def evaluate_candidate(
    model: Any,
    data: HeldOutData,
    score_fn: Callable[[Any, pd.DataFrame, pd.DataFrame], pd.DataFrame],
    *,
    reference_model: Any = None,
    reference_version: str | None = None,
    schema_diff: list[str] | None = None,
    serving_non_finite: int = 0,
) -> dict[str, Any]:
    """The evaluation dict gate_results reads: challenger and reference judged on the same data."""
    challenger = judge_model(model, data, score_fn)
    if reference_model is not None:
        reference, kind = judge_model(reference_model, data, score_fn), "champion"
    else:
        reference, kind = judge_rules_baseline(data), "health-rules-baseline"
    return {
        "gate_data": "own-history",
        "challenger": summary(challenger),
        "events": challenger["events"],
        "reference": summary(reference),
        "reference_kind": kind,
        "reference_version": reference_version,
        "schema_diff": list(schema_diff or []),
        "serving_non_finite": int(serving_non_finite),
        "params": data.params,
        "labels": data.labels.astype({"start": str, "end": str}).to_dict(orient="records"),
    }


def evaluate_gates(
    model: Any,
    data: HeldOutData,
    score_fn: Callable[[Any, pd.DataFrame, pd.DataFrame], pd.DataFrame],
    thresholds: Thresholds | None = None,
    **kwargs: Any,
) -> dict[str, Any]:
    """``{"gates": {name: {passed, value, threshold}}, "gate_data": "own-history", ...}`` (backtest)."""
    evaluation = evaluate_candidate(model, data, score_fn, **kwargs)
    gates = gate_results(evaluation, thresholds)
    return {
        "gates": compact(gates),
        "gate_data": "own-history",
        "gates_passed": all(g["passed"] for g in gates.values()),
        "evaluation": evaluation,
    }
