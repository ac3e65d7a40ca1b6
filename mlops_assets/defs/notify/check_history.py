"""Reading asset-check executions exactly once: the ONE module that touches Dagster's private storage API.

OSS Dagster has no "asset check failed" sensor, so we read ``instance.event_log_storage.
get_asset_check_execution_history`` (not public API; if a Dagster upgrade changes it, only this file
changes). Each execution is one row whose id is assigned when the check is PLANNED and which is
updated in place when it is evaluated, so ids are monotonic in planning order, not completion order.
The cursor therefore keeps, per check, a watermark (every row <= it is resolved) plus the ids above it
that are already resolved: a check that was planned early but finishes late is still reported once.
The watermark only passes rows older than ``settle_s``: on PostgreSQL a row with a smaller id can
become visible after a larger one (concurrent commits), and it must still be above the watermark.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, field
from typing import Any

import dagster as dg
from dagster._core.storage.asset_check_execution_record import (
    AssetCheckExecutionRecord,
    AssetCheckExecutionRecordStatus,
)

from mlops_assets.lib.triage.redact import redact_then_cut

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CheckOutcome:
    """A completed (passed or failed) check evaluation, flattened for notifications."""

    record_id: int
    check_key: dg.AssetCheckKey
    run_id: str
    passed: bool
    severity: str  # ERROR | WARN
    blocking: bool
    description: str | None
    metadata: dict[str, str]
    partition: str | None
    created: float


def check_keys(repository_def: Any) -> list[dg.AssetCheckKey]:
    """Every asset check of the code location (no hand-maintained list)."""
    if repository_def is None:
        raise ValueError(
            "the sensor context has no repository definition; build it with "
            "dg.build_sensor_context(definitions=defs, ...) or run it from the daemon"
        )
    return sorted(repository_def.asset_graph.asset_check_keys, key=lambda k: k.to_user_string())


def _metadata_text(value: Any) -> str:
    raw = getattr(value, "value", value)
    text = raw if isinstance(raw, str) else json.dumps(raw, default=str)
    return redact_then_cut(text, 500)  # redact the whole value first: a cut secret leaks its prefix


def _outcome(rec: AssetCheckExecutionRecord) -> CheckOutcome | None:
    if rec.event is None or rec.event.dagster_event is None:
        return None
    ev = rec.event.dagster_event
    if ev.event_type != dg.DagsterEventType.ASSET_CHECK_EVALUATION:
        return None
    data = ev.asset_check_evaluation_data
    return CheckOutcome(
        record_id=rec.id,
        check_key=rec.key,
        run_id=rec.run_id,
        passed=bool(data.passed),
        severity=data.severity.value,
        blocking=bool(data.blocking),
        description=data.description,
        metadata={k: _metadata_text(v) for k, v in (data.metadata or {}).items()},
        partition=rec.partition,
        created=rec.create_timestamp,
    )


def _rows_after(
    instance: dg.DagsterInstance, key: dg.AssetCheckKey, after_id: int, max_rows: int
) -> list[AssetCheckExecutionRecord]:
    """Rows with id > ``after_id`` (ascending), newest ``max_rows`` at most."""
    rows: list[AssetCheckExecutionRecord] = []
    before: int | None = None
    while len(rows) < max_rows:
        page = instance.event_log_storage.get_asset_check_execution_history(
            key, limit=min(200, max_rows - len(rows)), cursor=before
        )
        fresh = [r for r in page if r.id > after_id]
        rows += fresh
        if len(fresh) < len(page) or not page:
            break
        before = page[-1].id
    else:
        log.warning("more than %d new executions of %s since the cursor; older ones skipped", max_rows, key)
    return sorted(rows, key=lambda r: r.id)


@dataclass
class CheckCursor:
    """Per check key: ``[watermark, [resolved ids above it]]``; serialised into the sensor cursor."""

    checks: dict[str, list[Any]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"checks": self.checks}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> CheckCursor:
        return cls(checks=dict(d.get("checks") or {}))


def _run_finished(instance: dg.DagsterInstance, run_id: str, cache: dict[str, bool]) -> bool:
    if run_id not in cache:
        run = instance.get_run_by_id(run_id) if run_id else None
        cache[run_id] = run is None or run.is_finished
    return cache[run_id]


def new_evaluations(
    instance: dg.DagsterInstance,
    keys: list[dg.AssetCheckKey],
    cursor: CheckCursor,
    *,
    first_lookback_s: float = 24 * 3600,
    settle_s: float = 300.0,
    max_rows: int = 1000,
    now: float | None = None,
) -> tuple[list[CheckOutcome], CheckCursor]:
    """Evaluations completed since ``cursor`` (each returned exactly once) and the advanced cursor.

    A check never seen before is read back ``first_lookback_s`` only, so enabling the sensor on an
    old instance does not replay months of failures. A planned check whose run ended without an
    evaluation (step crashed, run failed) is resolved silently: the run-failure sensor reports it.
    """
    now = time.time() if now is None else now
    out: list[CheckOutcome] = []
    new = CheckCursor(dict(cursor.checks))
    run_done: dict[str, bool] = {}
    for key in keys:
        name = key.to_user_string()
        state = cursor.checks.get(name)
        watermark, seen = (int(state[0]), set(state[1])) if state else (0, set())
        resolved: set[int] = set(seen)
        pending_ids: list[int] = []
        created: dict[int, float] = {}
        for rec in _rows_after(instance, key, watermark, max_rows):
            created[rec.id] = rec.create_timestamp
            if rec.id in seen:
                continue
            if state is None and rec.create_timestamp < now - first_lookback_s:
                resolved.add(rec.id)
                continue
            if rec.status in (
                AssetCheckExecutionRecordStatus.SUCCEEDED,
                AssetCheckExecutionRecordStatus.FAILED,
            ):
                outcome = _outcome(rec)
                if outcome is not None:
                    out.append(outcome)
                resolved.add(rec.id)
            elif _run_finished(instance, rec.run_id, run_done):
                resolved.add(rec.id)
            else:
                pending_ids.append(rec.id)
        mark = watermark
        for i in sorted(resolved | set(pending_ids)):
            settled = created.get(i, 0.0) < now - settle_s
            if i not in resolved or not settled:
                break
            mark = i
        new.checks[name] = [mark, sorted(i for i in resolved if i > mark)]
    out.sort(key=lambda o: (o.created, o.record_id))
    return out, new
