"""fast_path_sensor: every minute, each host's records since the last pull go through the health
rules and the champion, and fatal/critical events and anomalies are notified without waiting for
the hour to close.

Nothing here is durable data: the hourly host x hour partitions stay the record (the fast path never
commits a source cursor, so the hourly collection still fetches everything). What it notified is
kept in a ledger (ledger.py) by the same incident id the hourly incidents use
(lib/monitor/incident_ids.py), and notify_new_incidents skips those ids later.
"""

from __future__ import annotations

import json
import os
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import dagster as dg
import pandas as pd

from mlops_assets.defs.fastpath.events import critical_events
from mlops_assets.defs.fastpath.ledger import notified_ids, record
from mlops_assets.defs.model.resources import ModelRegistryResource
from mlops_assets.defs.monitor.incidents import MERGE_GAP
from mlops_assets.defs.monitor.scoring import champion
from mlops_assets.defs.notify.sensors import deliver_with_outbox
from mlops_assets.defs.partitions import hosts_partitions
from mlops_assets.lib.contracts.raw import SOURCES
from mlops_assets.lib.detect.scoring import score
from mlops_assets.lib.features.template_counts import assign_templates, build_template_counts
from mlops_assets.lib.features.windows import build_window_features
from mlops_assets.lib.monitor.incident_ids import incident_id, window_start
from mlops_assets.lib.parsing.bundle import parse_source
from mlops_assets.lib.storage.partition_store import exists
from mlops_assets.lib.templates.state import load_template_miner, template_state_path
from mlops_assets.notify.channels import Alert
from mlops_assets.notify.resources import NotifierResource
from mlops_assets.resources import LogSourceResource, StorageResource

WINDOW = os.getenv("MLOPS_FEATURE_WINDOW", "1min")
MAX_LOOKBACK = timedelta(minutes=int(os.getenv("MLOPS_FASTPATH_MAX_LOOKBACK_MIN", "10")))
PARALLELISM = 8


def pull_window(last: str | None, now: datetime) -> tuple[datetime, datetime]:
    """[since, until): from the last pull (at most MAX_LOOKBACK ago) to the end of the last complete
    window, so every feature window the fast path scores is whole."""
    until = pd.Timestamp(now).floor(WINDOW).to_pydatetime()
    since = datetime.fromisoformat(last) if last else until - pd.Timedelta(WINDOW).to_pytimedelta()
    return max(since, until - MAX_LOOKBACK), until


def parsed_tables(bundle: dict, host: str) -> dict[str, pd.DataFrame]:
    tables: dict[str, pd.DataFrame] = {}
    for source in SOURCES:
        if source in bundle:
            tables.update(parse_source(source, bundle[source], host).tables)
    return tables


def event_alerts(events: pd.DataFrame, host: str) -> list[tuple[str, Alert]]:
    """One alert per (GPU, code) burst starting in a window; id = the health incident's id."""
    out: dict[str, Alert] = {}
    for ev in events.sort_values("ts").itertuples(index=False):
        start = window_start(ev.ts, WINDOW)
        gpu = "" if pd.isna(ev.gpu_index) else str(int(ev.gpu_index))
        iid = incident_id(host, start, ev.code, gpu or ev.pci_bus or "")
        out.setdefault(
            iid,
            Alert(
                key=f"incident:{iid}",
                kind="incident",
                title=f"[{ev.severity}] {ev.code} on {host}" + (f" GPU {gpu}" if gpu else ""),
                text=f"{str(ev.message)[:300]}\nAction: {ev.action}",
                severity="critical",
                fields={
                    "incident_id": iid,
                    "host": host,
                    "start": start.isoformat(),
                    "code": str(ev.code),
                    "gpu_index": gpu or "-",
                    "pci_bus": str(ev.pci_bus or "-"),
                    "layer": "health",
                    "path": "fast",
                },
            ),
        )
    return list(out.items())


def anomaly_alerts(
    scores: pd.DataFrame, host: str, version: str, open_until: pd.Timestamp | None = None
) -> tuple[list[tuple[str, Alert]], pd.Timestamp | None]:
    """One alert per run of consecutive anomalous windows; id = the hourly incident's id when the
    incident starts in this pull. ``open_until`` is the end of the previous pull's last flagged
    window: a run that goes on from it (gaps <= the hourly incidents' MERGE_GAP, the rule that merges
    them there) was already sent, under the id of its first window. Returns the alerts and the new
    ``open_until`` (None once the gap since the last flagged window is too long to merge)."""
    flagged = scores[scores["is_anomaly"]].sort_values("window_start")
    out = []
    prev_end = open_until
    for w in flagged.itertuples(index=False):
        start = pd.Timestamp(w.window_start)
        if prev_end is not None and start <= prev_end + MERGE_GAP:
            prev_end = start + pd.Timedelta(WINDOW)
            continue
        prev_end = start + pd.Timedelta(WINDOW)
        iid = incident_id(host, start)
        out.append(
            (
                iid,
                Alert(
                    key=f"incident:{iid}",
                    kind="incident",
                    title=f"[anomaly] {host} window {start.strftime('%H:%M')} (score {float(w.score):.3f})",
                    text=f"Top features: {str(getattr(w, 'top_features', ''))[:300]}",
                    severity="high",
                    fields={
                        "incident_id": iid,
                        "host": host,
                        "start": start.isoformat(),
                        "model_version": version,
                        "layer": str(getattr(w, "layer", "") or "forest"),
                        "path": "fast",
                    },
                ),
            )
        )
    last_end = pd.Timestamp(scores["window_start"].max()) + pd.Timedelta(WINDOW) if len(scores) else None
    still_open = prev_end is not None and (last_end is None or last_end <= prev_end + MERGE_GAP)
    return out, (prev_end if still_open else None)


def host_alerts(
    host: str,
    since: datetime,
    until: datetime,
    log_source,
    storage: StorageResource,
    model,
    now: datetime,
    open_until: pd.Timestamp | None = None,
) -> tuple[list[tuple[str, Alert]], pd.Timestamp | None]:
    """Events up to ``now`` (a fault is sent without waiting for its minute to close; the next pull
    sees it again and the ledger drops the repeat); anomalies only on the complete windows < until.
    Also returns the end of the last flagged window (``open_until`` of the next pull)."""
    # Sources take whole-minute bounds: up to the end of the current minute (records so far).
    fetch_end = max(pd.Timestamp(now).ceil("1min").to_pydatetime(), until)
    bundle = log_source.source().fetch(host, since, fetch_end, list(SOURCES))
    tables = parsed_tables(bundle, host)
    alerts = event_alerts(critical_events(tables, host), host)
    tables = {t: df[df["ts"] < pd.Timestamp(until)] if "ts" in df.columns else df for t, df in tables.items()}
    if model is not None and until > since:
        miner = load_template_miner(storage.root)
        tagged = assign_templates(tables, miner)
        feats = build_window_features(tagged, host, since, until, window=WINDOW)
        counts = build_template_counts(tagged, host, since, until, window=WINDOW)
        flagged, open_until = anomaly_alerts(
            score(model[0], feats, counts, model_version=model[1]), host, model[1], open_until
        )
        alerts += flagged
    return alerts, open_until


@dg.sensor(
    name="fast_path_sensor",
    minimum_interval_seconds=int(os.getenv("MLOPS_FASTPATH_INTERVAL_S", "60")),
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Every minute: new records of each host -> health rules + champion -> notify fatal/critical "
    "events and anomalies of the still-open hour (deduped with the hourly incidents by incident id).",
)
def fast_path_sensor(
    context: dg.SensorEvaluationContext,
    log_source: LogSourceResource,
    storage: StorageResource,
    notifier: NotifierResource,
    model_registry: ModelRegistryResource,
) -> dg.SkipReason:
    state = json.loads(context.cursor) if context.cursor else {}
    pulls: dict[str, str] = dict(state.get("pulls") or {})
    # host -> end of the last anomalous window of its previous pull: an anomaly that goes on into
    # the next pull is the same incident, not a second notification
    open_runs: dict[str, str] = dict(state.get("open_anomalies") or {})
    hosts = sorted(context.instance.get_dynamic_partitions(hosts_partitions.name))
    now = datetime.now(UTC)
    model = None
    if exists(template_state_path(storage.root)):
        try:
            model = champion(model_registry)
        except RuntimeError as exc:  # no champion yet: health rules only, said in the tick
            context.log.info(f"fast path without anomalies: {exc}")
    windows = {h: pull_window(pulls.get(h), now) for h in hosts}
    todo = [h for h in hosts if now > windows[h][0]]

    def one(host: str) -> tuple[str, tuple[list[tuple[str, Alert]], pd.Timestamp | None] | None, str | None]:
        opened = pd.Timestamp(open_runs[host]) if host in open_runs else None
        try:
            return host, host_alerts(host, *windows[host], log_source, storage, model, now, opened), None
        except Exception as exc:  # noqa: BLE001 - a host that fails is named, the others still alert
            return host, None, f"{type(exc).__name__}: {exc}"

    with ThreadPoolExecutor(max(1, min(PARALLELISM, len(todo)))) as pool:
        done = list(pool.map(one, todo))
    seen = set(notified_ids(storage))
    fresh: dict[str, Alert] = {}
    problems = []
    for host, found, error in done:
        if error is not None or found is None:
            problems.append(f"{host}: {error}")
            continue
        alerts, open_until = found
        pulls[host] = windows[host][1].isoformat()
        if open_until is None:
            open_runs.pop(host, None)
        else:
            open_runs[host] = open_until.isoformat()
        for iid, alert in alerts:
            if iid not in seen and notifier.severity_at_least(alert.severity):
                fresh.setdefault(iid, alert)
    results, outbox = deliver_with_outbox(
        notifier.build(), list(fresh.values()), state.get("outbox") or {}, context.log
    )
    record(storage, list(fresh))
    context.update_cursor(
        json.dumps({"pulls": pulls, "open_anomalies": open_runs, "outbox": outbox}, sort_keys=True)
    )
    for p in problems:
        context.log.warning(p)
    failed = [f"{d.channel}: {d.error}" for d in results if not d.ok]
    return dg.SkipReason(
        f"{len(todo)} host(s) pulled, {len(fresh)} new alert(s)"
        + (f"; hosts failed: {'; '.join(problems)}" if problems else "")
        + (f"; delivery failed: {'; '.join(failed)}" if failed else "")
    )
