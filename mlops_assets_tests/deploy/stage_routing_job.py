"""A job whose steps the stage-routing handler sends two ways; loaded by `dagster api execute_step`
in the step processes (so it lives at module scope, importable by name)."""

from __future__ import annotations

import os

import dagster as dg
from dagster._core.definitions.executor_definition import multiple_process_executor_requirements
from dagster._core.execution.retries import RetryMode
from dagster._core.executor.step_delegating import StepDelegatingExecutor

from mlops_assets.defs.tags import stage_tags
from mlops_assets.k8s_steps import RunPodStepHandler, StageRoutingStepHandler

LAUNCHED: dict[str, list[str]] = {"pods": [], "run_pod": []}


class StandInPods(RunPodStepHandler):
    """Where the Kubernetes Jobs would be: a process too (no cluster here), but counted apart."""

    @property
    def name(self) -> str:
        return "StandInPods"

    def launch_step(self, ctx):
        LAUNCHED["pods"].extend(ctx.execute_step_args.step_keys_to_execute or [])
        return super().launch_step(ctx)


class CountedRunPod(RunPodStepHandler):
    def launch_step(self, ctx):
        LAUNCHED["run_pod"].extend(ctx.execute_step_args.step_keys_to_execute or [])
        return super().launch_step(ctx)


@dg.executor(name="stage_routing_for_test", requirements=multiple_process_executor_requirements())
def routing_executor(init_context):
    return StepDelegatingExecutor(
        StageRoutingStepHandler(StandInPods(), CountedRunPod()),
        retries=RetryMode.DISABLED,
        check_step_health_interval_seconds=1,
        should_verify_step=True,
    )


@dg.op(tags=stage_tags("parse"))
def parse_step() -> int:
    return os.getpid()


@dg.op(tags=stage_tags("train"))
def train_step(parse_pid: int) -> int:
    assert parse_pid != os.getpid()
    return os.getpid()


@dg.op(tags=stage_tags("notify"))
def crash_step() -> None:
    if os.getenv("STAGE_ROUTING_CRASH") == "1":
        os._exit(137)  # what the OOM killer leaves: no step event at all


@dg.job(executor_def=routing_executor)
def routed() -> None:
    train_step(parse_step())
    crash_step()
