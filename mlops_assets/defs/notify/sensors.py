"""Notification sensors: failed asset checks, failed runs, new incidents. All default to RUNNING.

Delivery policy (documented in the README): each check execution / incident is alerted once
(an incident that later grows sends an ``incident_update`` with its new endsAt, to Alertmanager only); the
sensor cursor advances even when a receiver is down, and the undelivered alerts wait in the cursor's
bounded outbox and are retried on up to ``RETRY_TICKS`` later ticks (per channel, merged with that
tick's new alerts into one message), then dropped with a warning. Every attempt-batch is in the
delivery log. A crash between sending and the cursor commit can repeat a message (at-least-once
inside that window); nothing is lost silently.
"""

import json
from typing import Any

import dagster as dg
import pandas as pd

from mlops_assets.defs.fastpath.ledger import notified_ids
from mlops_assets.defs.notify.alerts import check_alert, incident_alerts, run_failure_alert
from mlops_assets.defs.notify.check_history import CheckCursor, check_keys, new_evaluations
from mlops_assets.lib.storage.partition_store import exists, read_parquet
from mlops_assets.notify.channels import Alert, accepts
from mlops_assets.notify.notifier import Delivery, Notifier
from mlops_assets.notify.resources import NotifierResource
from mlops_assets.resources import StorageResource

RETRY_TICKS = 3
OUTBOX_MAX_ALERTS = 100
NOTIFIED_INCIDENTS_MAX = 5000
TRIAGE_ASSET = dg.AssetKey("incident_triage")


def deliver_with_outbox(
    notifier: Notifier, alerts: list[Alert], outbox: dict[str, list[dict[str, Any]]], log: Any
) -> tuple[list[Delivery], dict[str, list[dict[str, Any]]]]:
    """Send new alerts plus each channel's pending ones as one message per channel; return new outbox."""
    results: list[Delivery] = []
    new_outbox: dict[str, list[dict[str, Any]]] = {}
    for ch in notifier.channels:
        channel = ch.name
        pending = outbox.get(channel, [])
        batch = [(Alert.from_dict(p["alert"]), int(p["ticks_left"])) for p in pending]
        batch += [(a, RETRY_TICKS + 1) for a in alerts if accepts(ch, a)]
        if not batch:
            continue
        (delivery,) = notifier.deliver([a for a, _ in batch], only=[channel])
        results.append(delivery)
        if delivery.ok:
            continue
        keep = [{"alert": a.to_dict(), "ticks_left": t - 1} for a, t in batch if t - 1 > 0]
        dropped = len(batch) - len(keep) + max(0, len(keep) - OUTBOX_MAX_ALERTS)
        if dropped:
            log.warning(f"channel {channel}: giving up on {dropped} alert(s) after repeated failures")
        if keep:
            new_outbox[channel] = keep[-OUTBOX_MAX_ALERTS:]
    return results, new_outbox


def _load_cursor(raw: str | None) -> dict[str, Any]:
    if not raw:
        return {}
    try:
        value = json.loads(raw)
    except ValueError as e:
        raise ValueError(f"sensor cursor is not JSON ({raw[:80]!r}); reset the cursor in the UI") from e
    return value if isinstance(value, dict) else {}


def _report(results: list[Delivery], n_alerts: int) -> str:
    failed = [f"{d.channel}: {d.error}" for d in results if not d.ok]
    base = f"{n_alerts} new alert(s); {len(results) - len(failed)} channel message(s) delivered"
    return base + (f"; failed: {'; '.join(failed)}" if failed else "")


@dg.sensor(
    name="notify_asset_check_failures",
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="One notification per failed asset-check execution (blocking or not), grouped per tick.",
)
def notify_asset_check_failures(
    context: dg.SensorEvaluationContext, notifier: NotifierResource
) -> dg.SkipReason:
    state = _load_cursor(context.cursor)
    outcomes, cursor = new_evaluations(
        context.instance,
        check_keys(context.repository_def),
        CheckCursor.from_dict(state.get("history") or {}),
    )
    alerts = [check_alert(o, notifier) for o in outcomes if not o.passed]
    results, outbox = deliver_with_outbox(notifier.build(), alerts, state.get("outbox") or {}, context.log)
    context.update_cursor(json.dumps({"history": cursor.to_dict(), "outbox": outbox}))
    return dg.SkipReason(f"{len(outcomes)} check evaluation(s) read; " + _report(results, len(alerts)))


@dg.run_failure_sensor(
    name="notify_run_failures",
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Failed runs, e.g. a blocking ERROR check stopped the deployment.",
)
def notify_run_failures(context: dg.RunFailureSensorContext, notifier: NotifierResource) -> None:
    alert = run_failure_alert(context, notifier)
    results = notifier.build().deliver([alert])
    for d in results:
        if not d.ok:
            context.log.warning(
                f"run-failure notification to {d.channel} failed after {d.attempts} tries: {d.error}"
            )


@dg.sensor(
    name="notify_new_incidents",
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="New incidents at or above NotifierResource.min_incident_severity, with their triage.",
)
def notify_new_incidents(
    context: dg.SensorEvaluationContext, notifier: NotifierResource, storage: StorageResource
) -> dg.SkipReason:
    state = _load_cursor(context.cursor)
    last_id = int(state.get("storage_id") or 0)
    notified: list[str] = list(state.get("notified") or [])
    # incident_id -> {"end": incident end when last alerted, "ends_at": endsAt sent}
    firing: dict[str, dict[str, str]] = dict(state.get("firing") or {})
    now = pd.Timestamp.now(tz="UTC")
    alerts: list[Alert] = []
    result = context.instance.fetch_materializations(TRIAGE_ASSET, limit=1)
    record = result.records[0] if result.records else None
    if record is not None and record.storage_id > last_id:
        mat = record.asset_materialization
        meta = mat.metadata if mat else {}
        path_meta = meta.get("triage_table_path")
        if path_meta is None:
            raise ValueError(
                f"materialization {record.storage_id} of incident_triage has no 'triage_table_path' metadata"
            )
        path = str(path_meta.value)
        if not exists(path):
            raise FileNotFoundError(
                f"incident_triage table {path} is missing; re-materialize incident_triage"
            )
        reports = meta.get("reports_dir")
        reports_dir = str(reports.value) if reports is not None else None
        table = read_parquet(path)
        seen = set(notified) | set(notified_ids(storage))  # the fast path already sent these
        ids = table["incident_id"].astype(str)
        fresh = table[
            [
                notifier.severity_at_least(s) and i not in seen
                for s, i in zip(table["severity"], ids, strict=True)
            ]
        ]
        alerts = incident_alerts(fresh, record.run_id, notifier, reports_dir, now)
        # incidents that grew since they were alerted: move endsAt where alert state is tracked
        ends = pd.to_datetime(table["end"], utc=True)
        grew = [i in firing and e > pd.Timestamp(firing[i]["end"]) for i, e in zip(ids, ends, strict=True)]
        alerts += incident_alerts(table[grew], record.run_id, notifier, reports_dir, now, "incident_update")
        firing.update(
            {a.fields["incident_id"]: {"end": a.fields["end"], "ends_at": a.ends_at or ""} for a in alerts}
        )
        notified = (notified + [str(i) for i in fresh["incident_id"]])[-NOTIFIED_INCIDENTS_MAX:]
        last_id = record.storage_id
    firing = {i: f for i, f in firing.items() if f["ends_at"] and pd.Timestamp(f["ends_at"]) > now}
    results, outbox = deliver_with_outbox(notifier.build(), alerts, state.get("outbox") or {}, context.log)
    context.update_cursor(
        json.dumps({"storage_id": last_id, "notified": notified, "firing": firing, "outbox": outbox})
    )
    return dg.SkipReason(_report(results, len(alerts)))


sensors = [notify_asset_check_failures, notify_run_failures, notify_new_incidents]
