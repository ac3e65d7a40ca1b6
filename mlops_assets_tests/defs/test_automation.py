"""The deployment's automation condition must never promote a model whose blocking gate failed."""

import dagster as dg
import pytest

from mlops_assets.defs.automation import CONDITIONS


class GateConfig(dg.Config):
    passed: bool


def _defs(deploy_condition: dg.AutomationCondition) -> dg.Definitions:
    @dg.asset(
        name="anomaly_model",
        check_specs=[dg.AssetCheckSpec("event_recall", asset="anomaly_model", blocking=True)],
    )
    def anomaly_model(config: GateConfig):
        yield dg.MaterializeResult()
        yield dg.AssetCheckResult(
            check_name="event_recall", passed=config.passed, severity=dg.AssetCheckSeverity.ERROR
        )

    @dg.asset(name="deployed_model", deps=["anomaly_model"], automation_condition=deploy_condition)
    def deployed_model() -> None:
        return None

    return dg.Definitions(assets=[anomaly_model, deployed_model])


def _train(defs: dg.Definitions, instance: dg.DagsterInstance, passed: bool) -> None:
    result = dg.materialize(
        defs.assets,
        selection=["anomaly_model"],
        instance=instance,
        raise_on_error=False,
        run_config={"ops": {"anomaly_model": {"config": {"passed": passed}}}},
    )
    assert [e.passed for e in result.get_asset_check_evaluations()] == [passed]


def _deploy_requests(defs, instance, cursor):
    result = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=cursor)
    return result.get_num_requested(dg.AssetKey("deployed_model")), result.cursor


@pytest.mark.parametrize("ticks_after_failure", [3])
def test_failed_gate_is_not_deployed_on_later_ticks(ticks_after_failure):
    defs = _defs(CONDITIONS["deployed_model"])
    with dg.instance_for_test() as instance:
        n, cursor = _deploy_requests(defs, instance, None)
        assert n == 0
        _train(defs, instance, passed=False)
        for _ in range(ticks_after_failure):
            n, cursor = _deploy_requests(defs, instance, cursor)
            assert n == 0, "a model whose blocking check failed must not be deployed"
        _train(defs, instance, passed=True)
        n, cursor = _deploy_requests(defs, instance, cursor)
        assert n == 1, "a model that passed every gate is deployed on the next tick"


def test_plain_eager_would_deploy_a_failed_model():
    """The control: without all_deps_blocking_checks_passed (dagster #17332) the bad model ships."""
    defs = _defs(dg.AutomationCondition.eager())
    with dg.instance_for_test() as instance:
        _, cursor = _deploy_requests(defs, instance, None)
        _train(defs, instance, passed=False)
        n, _ = _deploy_requests(defs, instance, cursor)
        assert n == 1


def test_every_downstream_asset_has_a_condition():
    from mlops_assets.definitions import defs

    graph = defs.resolve_asset_graph()
    missing = [
        k.to_user_string()
        for k in graph.get_all_asset_keys()
        if not k.to_user_string().startswith("raw_") and graph.get(k).automation_condition is None
    ]
    assert missing == []
    sensor = defs.resolve_sensor_def("automation_sensor")
    assert sensor.default_status == dg.DefaultSensorStatus.RUNNING


def test_quarantine_gate_holds_over_three_ticks_while_the_rest_of_the_fleet_hour_proceeds(
    tmp_path, monkeypatch
):
    """A host whose parsed GPU table fails the blocking quarantine check never gets features or
    scores under automation; the other hosts of that fleet-hour do (on the next ticks)."""
    from mlops_assets.lib.storage.partition_store import PartitionStore
    from mlops_assets_tests.defs.fleet_fixtures import (
        HOSTS,
        HOURS,
        automation_runs,
        execute,
        fleet_defs,
        flood_gpu_log,
        mark_parents_present,
        materialized,
        requested,
        sensor_tick,
        simulate_fleet,
    )

    monkeypatch.setenv("MLOPS_SENSOR_BACKFILL_HOURS", "1")
    bad = HOSTS[1]
    landing = flood_gpu_log(simulate_fleet(tmp_path / "sim"), tmp_path / "landing", bad)
    defs = fleet_defs(landing, tmp_path, monkeypatch)
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions("hosts", list(HOSTS))
        mark_parents_present(instance)
        auto = dg.evaluate_automation_conditions(defs=defs, instance=instance)
        (request,) = sensor_tick(defs, instance).run_requests
        result = execute(defs, instance, request)
        assert not result.success, "the failed blocking check stops the fleet-hour's downstream steps"
        verdicts = {
            (e.asset_key.to_user_string(), e.partition, e.passed)
            for e in result.get_asset_check_evaluations()
            if e.check_name == "quarantine_rate"
        }
        assert ("parsed_gpu", f"{bad}|{HOURS[-1]}", False) in verdicts
        assert materialized(instance, "window_features") == set()

        good = {f"{h}|{HOURS[-1]}" for h in HOSTS if h != bad}
        seen: set[tuple[str, str]] = set()
        for _ in range(3):
            auto = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=auto.cursor)
            asked = requested(defs, auto)
            assert not {p for a, p in asked if a in ("window_features", "anomaly_scores") and bad in p}
            seen |= asked
            for req in automation_runs(defs, auto):
                assert execute(defs, instance, req).success
        assert {p for a, p in seen if a == "window_features"} == good
        assert materialized(instance, "anomaly_scores") == good
        assert sorted(PartitionStore(str(tmp_path / "store")).hosts("scores")) == sorted(
            h for h in HOSTS if h != bad
        )
