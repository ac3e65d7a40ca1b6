"""Log lines that several fault signatures share: Python tracebacks and a CUDA crash of the vLLM server."""

from __future__ import annotations

from mlops_assets.simulate import containers as ct
from mlops_assets.simulate.containers import ts_vllm
from mlops_assets.simulate.gpu import Workload
from mlops_assets.simulate.host import NS, HostLog

SITE = "/usr/local/lib/python3.12/dist-packages"


def traceback_text(frames: list[tuple[str, int, str, str]], error: str) -> str:
    lines = ["Traceback (most recent call last):"]
    for path, line, func, code in frames:
        lines += [f'  File "{path}", line {line}, in {func}', f"    {code}"]
    return "\n".join([*lines, error])


def cuda_crash(host: HostLog, wl: Workload, ns: int, error: str) -> None:
    """The inference server hits a CUDA error mid-request, dumps a traceback and exits 1."""
    tb = traceback_text(
        [
            (
                f"{SITE}/vllm/engine/async_llm_engine.py",
                1098,
                "generate",
                "async for output in await self.add_request(",
            ),
            (
                f"{SITE}/vllm/worker/model_runner.py",
                1654,
                "execute_model",
                "hidden_or_intermediate_states = model_executable(",
            ),
            (
                f"{SITE}/torch/nn/modules/module.py",
                1747,
                "_call_impl",
                "return forward_call(*args, **kwargs)",
            ),
        ],
        f"RuntimeError: CUDA error: {error}",
    )
    host.docker_line(
        "vllm", ns, "stdout", f"ERROR {ts_vllm(ns)} async_llm_engine.py:65] Engine background task failed"
    )
    host.docker_line("vllm", ns + 1_000_000, "stderr", tb)
    host.docker_line(
        "vllm",
        ns + 9_000_000,
        "stderr",
        "CUDA kernel errors might be asynchronously reported at some other API call, "
        "so the stacktrace below might be incorrect.\nFor debugging consider passing CUDA_LAUNCH_BLOCKING=1",
    )
    ct.die(host, "vllm", ns + 2 * NS, 1)
