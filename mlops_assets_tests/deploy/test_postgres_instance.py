"""A real materialization, asset check and sensor tick on a dagster-postgres instance survive a restart."""

from __future__ import annotations

import logging
import time
from typing import Any

import dagster as dg
import pytest
from dagster._core.remote_origin import InProcessCodeLocationOrigin
from dagster._core.scheduler.instigation import InstigatorType, TickStatus
from dagster._core.test_utils import (
    InProcessTestWorkspaceLoadTarget,
    create_test_daemon_workspace_context,
    freeze_time,
)
from dagster._core.types.loadable_target_origin import LoadableTargetOrigin
from dagster._daemon.sensor import execute_sensor_iteration
from dagster_postgres import DagsterPostgresStorage

from mlops_assets_tests.postgres import PgServer

from . import pg_instance_defs as code

pytestmark = pytest.mark.postgres
PARTITION = "2026-01-02"
NEXT_PARTITION = "2026-01-03"


def _overrides(server: PgServer) -> dict[str, Any]:
    return {"storage": {"postgres": {"postgres_db": server.postgres_db_config()}}}


def _tick_sensor(instance: dg.DagsterInstance) -> None:
    """One real daemon sensor iteration against an in-process code location."""
    origin = InProcessCodeLocationOrigin(
        LoadableTargetOrigin(module_name=code.__name__, attribute="defs"), location_name="pg_test"
    )
    with create_test_daemon_workspace_context(InProcessTestWorkspaceLoadTarget(origin), instance) as ctx:
        list(execute_sensor_iteration(ctx, logging.getLogger("sensor-test"), None, None))


def _sensor_state(instance: dg.DagsterInstance) -> tuple[str | None, list[Any]]:
    (state,) = [
        s
        for s in instance.all_instigator_state(instigator_type=InstigatorType.SENSOR)
        if s.name == code.materialization_cursor_sensor.name
    ]
    ticks = instance.get_ticks(state.instigator_origin_id, state.selector_id)
    return state.instigator_data.cursor, ticks


def _check_history(instance: dg.DagsterInstance) -> list[tuple[int, str, str | None, str]]:
    """(id, status, partition, run_id) of the check's executions. Dagster 1.13 keeps a PLANNED row
    for the partition next to the SUCCEEDED evaluation row, so compare whole histories."""
    history = instance.event_log_storage.get_asset_check_execution_history(
        code.gpu_hours_complete.check_key, limit=10
    )
    return [(h.id, h.status.value, h.partition, h.run_id) for h in history]


def test_state_survives_instance_restart(postgres_server: PgServer) -> None:
    with dg.instance_for_test(overrides=_overrides(postgres_server)) as instance:
        assert isinstance(instance.get_ref().storage_data.class_name, str)
        assert instance.get_ref().storage_data.class_name == DagsterPostgresStorage.__name__
        result = dg.materialize(
            [code.gpu_hours, code.gpu_hours_complete], instance=instance, partition_key=PARTITION
        )
        assert result.success
        run_id = result.run_id
        _tick_sensor(instance)
        cursor_before, ticks_before = _sensor_state(instance)
        newest = instance.fetch_materializations(code.gpu_hours.key, limit=1).records[0].storage_id
        assert cursor_before == str(newest)
        assert ticks_before and ticks_before[0].status == TickStatus.SKIPPED
        checks_before = _check_history(instance)
        assert (run_id, "SUCCEEDED") in {(h[3], h[1]) for h in checks_before}
    # The first instance is disposed (connections closed); a new one reads everything back from PostgreSQL.
    with dg.instance_for_test(overrides=_overrides(postgres_server)) as reopened:
        run = reopened.get_run_by_id(run_id)
        assert run is not None and run.is_success
        assert reopened.get_materialized_partitions(code.gpu_hours.key) == {PARTITION}
        record = reopened.fetch_materializations(code.gpu_hours.key, limit=5).records
        assert [r.partition_key for r in record] == [PARTITION]
        cursor_after, ticks_after = _sensor_state(reopened)
        assert cursor_after == cursor_before
        assert [t.tick_id for t in ticks_after] == [t.tick_id for t in ticks_before]
        assert _check_history(reopened) == checks_before
        # The stored last-tick time still gates the sensor: an immediate iteration does not tick.
        _tick_sensor(reopened)
        assert len(_sensor_state(reopened)[1]) == len(ticks_before)
        # After the interval it ticks again and moves on from the stored cursor to the new data.
        later = dg.materialize([code.gpu_hours], instance=reopened, partition_key=NEXT_PARTITION)
        assert later.success
        with freeze_time(time.time() + 120):
            _tick_sensor(reopened)
        cursor_again, ticks_again = _sensor_state(reopened)
        assert len(ticks_again) == len(ticks_before) + 1
        assert int(cursor_again or 0) > int(cursor_before or 0)
        assert reopened.get_materialized_partitions(code.gpu_hours.key) == {PARTITION, NEXT_PARTITION}
