"""Production step routing: train/monitor steps to Kubernetes Jobs, the others to processes of the run
pod. Executed for real (step processes of `dagster api execute_step` on a persistent instance); the
Jobs side is stood in by a process, counted apart (no cluster here; the Job objects themselves are
checked in test_step_jobs.py)."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pytest
from dagster._core.execution.retries import RetryMode
from dagster._core.executor.in_process import InProcessExecutor
from dagster._core.executor.step_delegating import StepDelegatingExecutor
from dagster_k8s.container_context import K8sContainerContext
from dagster_k8s.executor import K8sStepHandler

from mlops_assets.k8s_steps import POD_STAGES, RunPodStepHandler, StageRoutingStepHandler, route_by_stage
from mlops_assets_tests.deploy import stage_routing_job

KUBECONFIG = """apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "https://127.0.0.1:1"}}]
users: [{name: u, user: {token: t}}]
contexts: [{name: x, context: {cluster: c, user: u}}]
current-context: x
"""


def _run(monkeypatch: pytest.MonkeyPatch, crash: bool) -> tuple[dg.DagsterRunStatus, list[dg.EventLogEntry]]:
    monkeypatch.setenv("STAGE_ROUTING_CRASH", "1" if crash else "0")
    for v in stage_routing_job.LAUNCHED.values():
        v.clear()
    with dg.instance_for_test() as instance:
        result = dg.execute_job(dg.reconstructable(stage_routing_job.routed), instance=instance)
        return result.dagster_run.status, list(instance.all_logs(result.run_id))


def test_train_goes_to_a_pod_and_the_other_stages_to_run_pod_processes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    status, logs = _run(monkeypatch, crash=False)
    assert status == dg.DagsterRunStatus.SUCCESS
    launched = {k: sorted(v) for k, v in stage_routing_job.LAUNCHED.items()}
    assert launched == {"pods": ["train_step"], "run_pod": ["crash_step", "parse_step"]}
    starting = [
        e.message
        for e in logs
        if e.dagster_event and e.dagster_event.event_type_value == "STEP_WORKER_STARTING"
    ]
    assert any("in a process of the run pod" in m for m in starting)
    assert POD_STAGES == {"train", "monitor"}


def test_a_run_pod_step_process_that_dies_fails_its_step_by_name(monkeypatch: pytest.MonkeyPatch) -> None:
    status, logs = _run(monkeypatch, crash=True)
    assert status == dg.DagsterRunStatus.FAILURE
    failed = [e for e in logs if e.dagster_event and e.dagster_event.is_step_failure]
    assert [e.step_key for e in failed] == ["crash_step"]
    assert "exited with 137" in str(failed[0].dagster_event.event_specific_data.error)
    succeeded = {e.step_key for e in logs if e.dagster_event and e.dagster_event.is_step_success}
    assert succeeded == {"parse_step", "train_step"}, "the other steps are not taken down with it"


def test_the_k8s_executor_s_handler_is_wrapped_and_anything_else_fails_loudly(tmp_path: Path) -> None:
    (tmp_path / "kubeconfig").write_text(KUBECONFIG)
    handler = K8sStepHandler(
        image="mlops-assets:test",
        container_context=K8sContainerContext(namespace="mlops"),
        load_incluster_config=False,
        kubeconfig_file=str(tmp_path / "kubeconfig"),
    )
    executor = route_by_stage(StepDelegatingExecutor(handler, retries=RetryMode.DISABLED))
    routed = executor._step_handler
    assert isinstance(routed, StageRoutingStepHandler) and routed._pods is handler
    for other in (
        InProcessExecutor(retries=RetryMode.DISABLED),
        StepDelegatingExecutor(RunPodStepHandler(), retries=RetryMode.DISABLED),
    ):
        with pytest.raises(RuntimeError, match="update mlops_assets/k8s_steps.py"):
            route_by_stage(other)
