"""Production steps: training and monitoring in their own Kubernetes Job, every other step in the run's pod.

A fleet-hour run has ~9 light steps (collect, 5 parse, health, features, score). As Kubernetes Jobs
each one waits for a pod (scheduling, image start, imports) and the run makes ~190 step pods a day
per 100 hosts. Here they run as child processes of the run pod: the same `dagster api execute_step`
command a step pod runs, with the run pod's image and environment, started at once. Stages that need
a pod of their own (``POD_STAGES``: a large training pod, the monitor's Evidently reports) still get a
Kubernetes Job sized by their op tags (defs/tags.py).

dagster-k8s builds the executor (config schema, retries, concurrency limits, the K8sStepHandler);
only its step handler is wrapped, by stage.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator

import dagster as dg
from dagster._core.definitions.executor_definition import multiple_process_executor_requirements
from dagster._core.events import DagsterEvent, EngineEventData
from dagster._core.executor.base import Executor
from dagster._core.executor.init import InitExecutorContext
from dagster._core.executor.step_delegating import (
    CheckStepHealthResult,
    StepDelegatingExecutor,
    StepHandler,
    StepHandlerContext,
)
from dagster_k8s import k8s_job_executor
from dagster_k8s.executor import K8sStepHandler

from mlops_assets.defs.tags import STAGE_TAG

POD_STAGES = frozenset({"train", "monitor"})
EXECUTOR_NAME = "k8s_pods_for_train_and_monitor"


def _step_key(ctx: StepHandlerContext) -> str:
    keys = ctx.execute_step_args.step_keys_to_execute or []
    if len(keys) != 1:
        raise RuntimeError(f"a step handler launches one step at a time, got {keys}")
    return keys[0]


class RunPodStepHandler(StepHandler):
    """A step as a child process of the run pod (`dagster api execute_step`, as a step pod runs it)."""

    def __init__(self) -> None:
        super().__init__()
        self._procs: dict[tuple[str, str], subprocess.Popen] = {}

    @property
    def name(self) -> str:
        return "RunPodStepHandler"

    def launch_step(self, ctx: StepHandlerContext) -> Iterator[DagsterEvent]:
        key = _step_key(ctx)
        args = ctx.execute_step_args
        env = {**os.environ, "DAGSTER_RUN_JOB_NAME": ctx.dagster_run.job_name, "DAGSTER_RUN_STEP_KEY": key}
        env.update({e["name"]: e["value"] for e in args.get_command_env()})
        yield DagsterEvent.step_worker_starting(
            ctx.get_step_context(key),
            message=f'Executing step "{key}" in a process of the run pod (its stage needs no pod).',
            metadata={},
        )
        command = list(args.get_command_args(skip_serialized_namedtuple=True))
        if command[:1] == ["dagster"]:  # a bare entry point: run it with this pod's own interpreter
            command = [sys.executable, "-m", "dagster", *command[1:]]
        # the command's output goes to the run pod's log, beside the run's own
        self._procs[(args.run_id, key)] = subprocess.Popen(command, env=env)

    def check_step_health(self, ctx: StepHandlerContext) -> CheckStepHealthResult:
        key = _step_key(ctx)
        proc = self._procs.get((ctx.execute_step_args.run_id, key))
        if proc is None:
            return CheckStepHealthResult.unhealthy(reason=f"no process was started for step {key}")
        code = proc.poll()
        if code is None or code == 0:  # running, or exited after writing its own step events
            return CheckStepHealthResult.healthy()
        return CheckStepHealthResult.unhealthy(
            reason=f"the process of step {key} exited with {code} (killed for memory? the run pod's "
            "limits are the code server's resources in deploy/helm/values.yaml)"
        )

    def terminate_step(self, ctx: StepHandlerContext) -> Iterator[DagsterEvent]:
        key = _step_key(ctx)
        proc = self._procs.pop((ctx.execute_step_args.run_id, key), None)
        yield DagsterEvent.engine_event(
            ctx.get_step_context(key),
            message=f"Stopping the process of step {key}",
            event_specific_data=EngineEventData(),
        )
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=30)


class StageRoutingStepHandler(StepHandler):
    """Steps whose stage tag is in ``POD_STAGES`` go to ``pods``, every other step to ``run_pod``."""

    def __init__(self, pods: StepHandler, run_pod: StepHandler) -> None:
        super().__init__()
        self._pods, self._run_pod = pods, run_pod

    @property
    def name(self) -> str:
        return f"{self._pods.name} for {', '.join(sorted(POD_STAGES))}; {self._run_pod.name} otherwise"

    def handler_for(self, ctx: StepHandlerContext) -> StepHandler:
        stage = ctx.step_tags[_step_key(ctx)].get(STAGE_TAG)
        return self._pods if stage in POD_STAGES else self._run_pod

    def launch_step(self, ctx: StepHandlerContext) -> Iterator[DagsterEvent]:
        return self.handler_for(ctx).launch_step(ctx)

    def check_step_health(self, ctx: StepHandlerContext) -> CheckStepHealthResult:
        return self.handler_for(ctx).check_step_health(ctx)

    def terminate_step(self, ctx: StepHandlerContext) -> Iterator[DagsterEvent]:
        return self.handler_for(ctx).terminate_step(ctx)


def route_by_stage(executor: Executor) -> Executor:
    """Wrap the step handler of dagster-k8s's executor (a private attribute: checked, so an upgrade
    that renames it fails at run start with this message instead of silently making every step a pod)."""
    handler = getattr(executor, "_step_handler", None)
    if not isinstance(executor, StepDelegatingExecutor) or not isinstance(handler, K8sStepHandler):
        raise RuntimeError(
            f"dagster-k8s's k8s_job_executor no longer builds a StepDelegatingExecutor with a "
            f"K8sStepHandler (got {type(executor).__name__}): update mlops_assets/k8s_steps.py"
        )
    executor._step_handler = StageRoutingStepHandler(handler, RunPodStepHandler())
    return executor


@dg.executor(
    name=EXECUTOR_NAME,
    config_schema=k8s_job_executor.config_schema,
    requirements=multiple_process_executor_requirements(),
)
def stage_routing_executor(init_context: InitExecutorContext) -> Executor:
    """k8s_job_executor's config and behaviour; only train/monitor steps become Kubernetes Jobs."""
    return route_by_stage(k8s_job_executor.executor_creation_fn(init_context))
