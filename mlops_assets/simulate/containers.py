"""Docker containers of a GPU node: their identity, lifecycle events and what they print.

Lifecycle helpers emit every trace a real restart leaves (docker events, dockerd/containerd journal
lines, veth kernel lines, the container's own shutdown/startup output) so that routine restarts and
fault-driven ones share vocabulary and differ only in exit codes, frequency and context.
"""

from __future__ import annotations

from datetime import UTC, datetime

from mlops_assets.simulate.host import NS, Container, HostLog

SPECS: dict[str, tuple[str, str, str]] = {
    # name: (image, command, ports)
    "vllm": (
        "vllm/vllm-openai:v0.6.3",
        "python3 -m vllm.entrypoints.openai.api_server",
        "0.0.0.0:8000->8000/tcp",
    ),
    "jupyter": (
        "quay.io/jupyter/pytorch-notebook:cuda12-2024-10-14",
        "tini -g -- start-notebook.py",
        "0.0.0.0:8888->8888/tcp",
    ),
    "node-exporter": ("prom/node-exporter:v1.8.2", "/bin/node_exporter --path.rootfs=/host", ""),
    "postgres": ("postgres:16.4", "docker-entrypoint.sh postgres", "127.0.0.1:5432->5432/tcp"),
    "redis": ("redis:7.4", "docker-entrypoint.sh redis-server", "127.0.0.1:6379->6379/tcp"),
}
VLLM_LOAD_S = 95  # model weights load + CUDA graph capture before the server answers
DOCKERD_PID, CONTAINERD_PID = 1187, 1049


def setup(host: HostLog) -> None:
    """Register the long-running containers, created days before the simulated period."""
    for name, (image, command, ports) in SPECS.items():
        created = host.boot_ns + int(host.rng.integers(60, 3600)) * NS
        cid = "".join(f"{int(b):02x}" for b in host.rng.integers(0, 256, size=32))
        host.containers[name] = Container(name, image, command, ports, cid, created, created)


def ts_py(ns: int) -> str:
    """Python logging's `2026-11-23 14:00:05.123` (jupyter, postgres style)."""
    return (
        datetime.fromtimestamp(ns // 1000 / 1e6, tz=UTC).strftime("%Y-%m-%d %H:%M:%S.")
        + f"{ns // 10**6 % 1000:03d}"
    )


def ts_vllm(ns: int) -> str:
    """vLLM's logger prefix `11-23 14:00:05`."""
    return datetime.fromtimestamp(ns // NS, tz=UTC).strftime("%m-%d %H:%M:%S")


def ts_redis(ns: int) -> str:
    return (
        datetime.fromtimestamp(ns // NS, tz=UTC).strftime("%d %b %Y %H:%M:%S.") + f"{ns // 10**6 % 1000:03d}"
    )


def startup_output(host: HostLog, name: str, ns: int) -> None:
    """What each container prints while starting (incl. the benign warnings real images print)."""
    out = lambda dt, stream, msg: host.docker_line(name, ns + int(dt * NS), stream, msg)  # noqa: E731
    if name == "vllm":
        out(0.8, "stdout", f"INFO {ts_vllm(ns + NS)} api_server.py:528] vLLM API server version 0.6.3")
        out(
            1.0,
            "stderr",
            "/usr/local/lib/python3.12/dist-packages/torch/cuda/__init__.py:129: FutureWarning: "
            "`torch.cuda.amp.custom_fwd(args...)` is deprecated. Please use `torch.amp.custom_fwd(args..., device_type='cuda')` instead.",
        )
        out(
            2.0,
            "stdout",
            f"INFO {ts_vllm(ns + 2 * NS)} config.py:899] Defaulting to use mp for distributed inference",
        )
        out(
            4.0,
            "stdout",
            f"INFO {ts_vllm(ns + 4 * NS)} llm_engine.py:237] Initializing an LLM engine (v0.6.3) with "
            "config: model='meta-llama/Llama-3.1-70B-Instruct', tensor_parallel_size=4, dtype=torch.bfloat16, max_seq_len=32768",
        )
        out(5.0, "stderr", "WARNING: The `max_num_batched_tokens` default will change in a future release.")
        out(
            60.0,
            "stdout",
            f"INFO {ts_vllm(ns + 60 * NS)} model_runner.py:1067] Loading model weights took 33.8829 GB",
        )
        out(
            80.0,
            "stdout",
            f"INFO {ts_vllm(ns + 80 * NS)} gpu_executor.py:122] # GPU blocks: 19754, # CPU blocks: 3276",
        )
        out(VLLM_LOAD_S - 1, "stdout", f"INFO:     Started server process [{host.next_pid()}]")
        out(VLLM_LOAD_S - 0.5, "stdout", "INFO:     Application startup complete.")
        out(VLLM_LOAD_S, "stdout", "INFO:     Uvicorn running on http://0.0.0.0:8000 (Press CTRL+C to quit)")
    elif name == "jupyter":
        out(1.0, "stderr", f"[I {ts_py(ns + NS)} ServerApp] jupyter_lsp | extension was successfully loaded.")
        out(
            1.2,
            "stderr",
            f"[W {ts_py(ns + NS)} ServerApp] WARNING: The Jupyter server is listening on all IP addresses.",
        )
        out(
            1.5,
            "stderr",
            f"[I {ts_py(ns + NS)} ServerApp] Jupyter Server 2.14.2 is running at: http://127.0.0.1:8888/lab",
        )
    elif name == "node-exporter":
        out(
            0.3,
            "stderr",
            f'ts={ts_rfc(ns)} caller=node_exporter.go:193 level=info msg="Starting node_exporter" version="(version=1.8.2)"',
        )
        out(
            0.4,
            "stderr",
            f'ts={ts_rfc(ns)} caller=tls_config.go:313 level=info msg="Listening on" address=[::]:9100',
        )
    elif name == "postgres":
        out(
            0.5,
            "stderr",
            f"{ts_py(ns)} UTC [1] LOG:  starting PostgreSQL 16.4 (Debian 16.4-1.pgdg120+2) on x86_64-pc-linux-gnu",
        )
        out(0.7, "stderr", f"{ts_py(ns)} UTC [1] LOG:  database system is ready to accept connections")
    elif name == "redis":
        out(0.2, "stdout", f"1:M {ts_redis(ns)} * Server initialized")
        out(0.3, "stdout", f"1:M {ts_redis(ns)} * Ready to accept connections tcp")


def ts_rfc(ns: int) -> str:
    return (
        datetime.fromtimestamp(ns // 10**6 / 1e3, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S.")
        + f"{ns // 10**6 % 1000:03d}Z"
    )


def shutdown_output(host: HostLog, name: str, ns: int) -> None:
    if name == "vllm":
        for i, msg in enumerate(
            ("Shutting down", "Waiting for application shutdown.", "Application shutdown complete.")
        ):
            host.docker_line(name, ns + i * 50_000_000, "stdout", f"INFO:     {msg}")
    elif name == "postgres":
        host.docker_line(name, ns, "stderr", f"{ts_py(ns)} UTC [1] LOG:  received fast shutdown request")


def _daemon_traces(host: HostLog, name: str, ns: int) -> None:
    c = host.containers[name]
    host.journal(
        ns + 3_000_000,
        "containerd",
        f'time="{ts_rfc(ns)}" level=info msg="shim disconnected" id={c.id} namespace=moby',
        unit="containerd.service",
        pid=CONTAINERD_PID,
        transport="stdout",
    )
    host.journal(
        ns + 4_000_000,
        "dockerd",
        f'time="{ts_rfc(ns)}" level=info msg="ignoring event" container={c.id} module=libcontainerd '
        'namespace=moby topic=/tasks/delete type="*events.TaskDelete"',
        unit="docker.service",
        pid=DOCKERD_PID,
        transport="stdout",
    )


def _veth(host: HostLog, ns: int, up: bool) -> None:
    veth = "veth" + "".join(f"{int(b):x}" for b in host.rng.integers(0, 16, size=7))
    port = int(host.rng.integers(1, 6))
    if up:
        host.kernel(ns, f"docker0: port {port}({veth}) entered blocking state", 6)
        host.kernel(ns + 40_000_000, f"docker0: port {port}({veth}) entered forwarding state", 6)
    else:
        host.kernel(ns, f"docker0: port {port}({veth}) entered disabled state", 6)


def die(
    host: HostLog, name: str, ns: int, exit_code: int, *, signal: int | None = None, oom: bool = False
) -> None:
    """The container's main process ends (signal from docker stop/kill, crash, or OOM kill)."""
    if signal is not None:
        host.event(ns, name, "kill", {"signal": str(signal)})
        shutdown_output(host, name, ns + 10_000_000)
        ns += 400_000_000
    if oom:
        host.event(ns, name, "oom")
    host.event(
        ns + 1_000_000,
        name,
        "die",
        {"execDuration": str((ns - host.containers[name].last_start_ns) // NS), "exitCode": str(exit_code)},
    )
    _daemon_traces(host, name, ns + 1_000_000)
    _veth(host, ns + 2_000_000, up=False)
    c = host.containers[name]
    c.running, c.exit_code = False, exit_code


def start(host: HostLog, name: str, ns: int, *, output: bool = True) -> None:
    host.event(ns, name, "start")
    _veth(host, ns + 5_000_000, up=True)
    c = host.containers[name]
    c.running, c.last_start_ns = True, ns
    if output:
        startup_output(host, name, ns + 50_000_000)


def restart(host: HostLog, name: str, ns: int) -> int:
    """`docker restart NAME`: kill(15) die(0) stop start restart; returns the new start time."""
    die(host, name, ns, 0, signal=15)
    host.event(ns + 450_000_000, name, "stop")
    started = ns + 900_000_000
    start(host, name, started)
    host.event(started + 2_000_000, name, "restart")
    return started
