"""Check-failure and run-failure sensors on a real instance, posting to real loopback webhooks."""

import json
import socket
import time
from pathlib import Path

import dagster as dg
import pytest

from mlops_assets.defs.notify.check_history import CheckCursor, new_evaluations
from mlops_assets.defs.notify.sensors import notify_asset_check_failures, notify_run_failures
from mlops_assets.notify.loopback import LoopbackReceiver
from mlops_assets.notify.notifier import read_delivery_log
from mlops_assets.notify.resources import NotifierResource

pytestmark = pytest.mark.notify


@dg.asset(
    check_specs=[
        dg.AssetCheckSpec("not_empty", asset="widgets"),
        dg.AssetCheckSpec("fresh", asset="widgets", description="warn only"),
    ]
)
def widgets(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
    rows = int(context.run.tags.get("rows", "0"))
    return dg.MaterializeResult(
        metadata={"dagster/row_count": rows},
        check_results=[
            dg.AssetCheckResult(
                check_name="not_empty",
                passed=rows > 0,
                metadata={"rows": rows},
                description="widgets must not be empty (password=hunter2 leaked in a message)",
            ),
            dg.AssetCheckResult(check_name="fresh", passed=True),
        ],
    )


@dg.asset(check_specs=[dg.AssetCheckSpec("gate", asset="gadgets", blocking=True)])
def gadgets() -> dg.MaterializeResult:
    return dg.MaterializeResult(
        check_results=[
            dg.AssetCheckResult(
                check_name="gate",
                passed=False,
                severity=dg.AssetCheckSeverity.ERROR,
                description="quarantine rate 40%",
            )
        ]
    )


def _defs(tmp_path: Path, url: str) -> dg.Definitions:
    notifier = NotifierResource(
        channels="file,webhook",
        webhook_url=url,
        timeout_s=1.0,
        backoff_s=0.05,
        notifications_path=str(tmp_path / "notifications.jsonl"),
        delivery_log_path=str(tmp_path / "deliveries.jsonl"),
    )
    return dg.Definitions(
        assets=[widgets, gadgets],
        sensors=[notify_asset_check_failures, notify_run_failures],
        resources={"notifier": notifier},
    )


def _tick(
    sensor: dg.SensorDefinition, inst: dg.DagsterInstance, defs: dg.Definitions, cursor: str | None
) -> str | None:
    ctx = dg.build_sensor_context(instance=inst, cursor=cursor, definitions=defs, resources=defs.resources)
    result = sensor.evaluate_tick(ctx)
    assert not result.run_requests
    return result.cursor


def _run(
    defs: dg.Definitions, inst: dg.DagsterInstance, asset: str, rows: int = 0
) -> dg.ExecuteInProcessResult:
    job = defs.resolve_implicit_global_asset_job_def()
    return job.execute_in_process(
        instance=inst, asset_selection=[dg.AssetKey(asset)], tags={"rows": str(rows)}, raise_on_error=False
    )


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_one_message_per_failed_check_across_ticks_and_bursts_grouped(tmp_path: Path) -> None:
    with dg.instance_for_test() as inst, LoopbackReceiver() as rx:
        defs = _defs(tmp_path, rx.url)
        run = _run(defs, inst, "widgets", rows=0)
        cursor = None
        for _ in range(3):
            cursor = _tick(notify_asset_check_failures, inst, defs, cursor)
        assert len(rx.requests) == 1
        (alert,) = rx.requests[0].json()["alerts"]
        assert alert["title"] == "Check failed: widgets:not_empty"
        assert alert["url"] == f"http://127.0.0.1:3000/runs/{run.run_id}"
        assert "hunter2" not in rx.requests[0].body.decode()  # redacted before leaving the host

        # A passing run notifies nothing; a burst of two failures is ONE message with both.
        _run(defs, inst, "widgets", rows=5)
        cursor = _tick(notify_asset_check_failures, inst, defs, cursor)
        assert len(rx.requests) == 1
        _run(defs, inst, "widgets", rows=0)
        _run(defs, inst, "widgets", rows=0)
        for _ in range(2):
            cursor = _tick(notify_asset_check_failures, inst, defs, cursor)
        assert len(rx.requests) == 2
        burst = rx.requests[1].json()
        assert burst["count"] == 2 and len({a["key"] for a in burst["alerts"]}) == 2

        # A restart = a fresh evaluation from the persisted cursor: still nothing new.
        _tick(notify_asset_check_failures, inst, defs, cursor)
        assert len(rx.requests) == 2
        local = (tmp_path / "notifications.jsonl").read_text().splitlines()
        assert [len(json.loads(x)["alerts"]) for x in local] == [1, 2]

        # Once rows are older than the settle time the watermark passes them and the id list empties.
        history = CheckCursor.from_dict(json.loads(cursor or "{}")["history"])
        outcomes, later = new_evaluations(
            inst, [dg.AssetCheckKey(dg.AssetKey("widgets"), "not_empty")], history, now=time.time() + 3600
        )
        mark, ids = later.checks["widgets:not_empty"]
        assert outcomes == [] and ids == [] and mark >= max(history.checks["widgets:not_empty"][1])


def test_blocking_check_failure_is_seen_by_both_sensors(tmp_path: Path) -> None:
    with dg.instance_for_test() as inst, LoopbackReceiver() as rx:
        defs = _defs(tmp_path, rx.url)
        run_cursor = _tick(notify_run_failures, inst, defs, None)
        result = _run(defs, inst, "gadgets")
        assert not result.success  # a failed blocking check fails the run
        _tick(notify_asset_check_failures, inst, defs, None)
        _tick(notify_run_failures, inst, defs, run_cursor)
        titles = sorted(a["title"] for r in rx.requests for a in r.json()["alerts"])
        assert titles == ["Check failed: gadgets:gate", "Run failed: __ASSET_JOB"]
        run_alert = next(a for r in rx.requests for a in r.json()["alerts"] if a["kind"] == "run_failed")
        assert "gadgets:gate (ERROR)" in run_alert["text"]


def test_receiver_down_advances_cursor_records_failure_and_retries_next_tick(tmp_path: Path) -> None:
    port = _free_port()
    with dg.instance_for_test() as inst:
        defs = _defs(tmp_path, f"http://127.0.0.1:{port}/hook")
        _run(defs, inst, "widgets", rows=0)
        cursor = _tick(notify_asset_check_failures, inst, defs, None)  # receiver down: no crash
        state = json.loads(cursor or "{}")
        assert len(state["outbox"]["webhook"]) == 1 and "file" not in state["outbox"]
        failed = [e for e in read_delivery_log(tmp_path / "deliveries.jsonl") if e["channel"] == "webhook"]
        assert failed[-1]["status"] == "failed" and failed[-1]["attempts"] == 3
        with LoopbackReceiver(port=port) as rx:
            cursor = _tick(notify_asset_check_failures, inst, defs, cursor)
            cursor = _tick(notify_asset_check_failures, inst, defs, cursor)
        assert len(rx.requests) == 1 and rx.requests[0].json()["alerts"][0]["kind"] == "check_failed"
        assert json.loads(cursor or "{}")["outbox"] == {}
        local = (tmp_path / "notifications.jsonl").read_text().splitlines()
        assert len(local) == 1  # the file channel got it once, on the first tick


def test_outbox_gives_up_after_bounded_ticks(tmp_path: Path) -> None:
    port = _free_port()
    with dg.instance_for_test() as inst:
        defs = _defs(tmp_path, f"http://127.0.0.1:{port}/hook")
        _run(defs, inst, "widgets", rows=0)
        cursor = None
        for _ in range(5):
            cursor = _tick(notify_asset_check_failures, inst, defs, cursor)
        assert json.loads(cursor or "{}")["outbox"] == {}
        webhook = [e for e in read_delivery_log(tmp_path / "deliveries.jsonl") if e["channel"] == "webhook"]
        assert len(webhook) == 4  # first tick + 3 retry ticks, then dropped
