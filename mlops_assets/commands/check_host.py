"""`mlops-assets check-host NAME`: can this host be collected from? One row per check, with the fix.

Checks, in order (later ones are skipped when the connection fails): TCP reachability, host key,
authentication, each tool the configured sources need (awk, nvidia-smi, journalctl, docker), the
GPU sampling log, journal and docker permissions (systemd-journal / docker groups), the remote
timezone (the GPU log's timestamps are local time) and clock skew. Exit status 1 when collection
would fail (any FAIL); WARN rows are advice.
"""

from __future__ import annotations

import argparse
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import paramiko

    from mlops_assets.sources.hosts import HostConfig
    from mlops_assets.sources.ssh_transport import CommandResult

    Shell = Callable[[str], CommandResult]

OK, WARN, FAIL, SKIP = "OK", "WARN", "FAIL", "SKIP"
SKEW_WARN_S, SKEW_FAIL_S = 2.0, 60.0


@dataclass(frozen=True)
class Check:
    name: str
    status: str
    detail: str
    fix: str = ""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("name", help="host name as listed in hosts.yaml")
    parser.add_argument(
        "--hosts-file", default=None, help="hosts.yaml (default: $MLOPS_HOSTS_FILE or ./hosts.yaml)"
    )


def run(args: argparse.Namespace) -> int:
    from mlops_assets.environment import settings
    from mlops_assets.sources.hosts import load_hosts

    hosts_file = args.hosts_file or settings().hosts_file
    try:
        hosts = {h.name: h for h in load_hosts(hosts_file)}
    except (OSError, ValueError) as exc:
        print(f"FAIL hosts file: {exc}")
        return 2
    if args.name not in hosts:
        print(f"FAIL host {args.name!r} is not in {hosts_file}; known: {', '.join(sorted(hosts)) or 'none'}")
        return 2
    checks = check_host(hosts[args.name])
    print(render(args.name, checks))
    return 1 if any(c.status == FAIL for c in checks) else 0


def render(host: str, checks: list[Check]) -> str:
    width = max(len(c.name) for c in checks)
    lines = [f"check-host {host}", f"{'CHECK'.ljust(width)}  STATUS  DETAIL"]
    for c in checks:
        lines.append(f"{c.name.ljust(width)}  {c.status.ljust(6)}  {c.detail}")
        if c.fix and c.status in (FAIL, WARN):
            lines.append(f"{''.ljust(width)}  {''.ljust(6)}  FIX: {c.fix}")
    failed = sum(c.status == FAIL for c in checks)
    lines.append("collection would FAIL" if failed else "ready to collect")
    return "\n".join(lines)


def check_host(cfg: HostConfig) -> list[Check]:
    """Run every check against one host; never raises for a host-side problem."""
    from mlops_assets.sources.ssh_transport import HostKeyError, SshAuthError, SshCollectionError, connect

    checks: list[Check] = []
    try:
        with socket.create_connection((cfg.address, cfg.port), timeout=cfg.timeouts.connect_s):
            pass
        checks.append(Check("reachable", OK, f"{cfg.address}:{cfg.port} accepts TCP"))
    except OSError as exc:
        checks.append(
            Check(
                "reachable",
                FAIL,
                f"{cfg.address}:{cfg.port}: {exc}",
                "is the host up, sshd running on that port, and the firewall open?",
            )
        )
        return checks + [Check("ssh", SKIP, "host not reachable")]
    try:
        client = connect(cfg)
    except HostKeyError as exc:
        return checks + [Check("host key", FAIL, str(exc).split(". FIX:")[0], _fix_of(exc))]
    except SshAuthError as exc:
        checks.append(
            Check("host key", OK, f"verified against {cfg.host_key_fingerprint or cfg.known_hosts_path()}")
        )
        return checks + [Check("auth", FAIL, str(exc).split(". FIX:")[0], _fix_of(exc))]
    except (SshCollectionError, RuntimeError) as exc:
        return checks + [Check("ssh", FAIL, str(exc).split(". FIX:")[0], _fix_of(exc))]
    checks.append(
        Check("host key", OK, f"verified against {cfg.host_key_fingerprint or cfg.known_hosts_path()}")
    )
    checks.append(Check("auth", OK, f"logged in as {cfg.user}"))
    try:
        checks += _remote_checks(client, cfg)
    finally:
        client.close()
    return checks


def _fix_of(exc: BaseException) -> str:
    text = str(exc)
    return text.split("FIX: ", 1)[1] if "FIX: " in text else ""


def _remote_checks(client: paramiko.SSHClient, cfg: HostConfig) -> list[Check]:
    from mlops_assets.sources import commands as cmd
    from mlops_assets.sources.ssh_transport import (
        MISSING_TOOL_FIX,
        SshCollectionError,
        explain_failure,
        run_command,
    )

    def sh(command: str) -> CommandResult:
        return run_command(client, command, cfg.timeouts.command_s, 1 << 20)

    checks: list[Check] = []
    tools = {
        "gpu": ("awk", "nvidia-smi"),
        "journal": ("journalctl",),
        "kernel": ("journalctl",),
        "docker_logs": ("docker",),
        "docker_events": ("docker",),
    }
    needed = sorted({t for s in cfg.sources for t in tools[s]})
    try:
        for tool in needed:
            res = sh(f"command -v {tool}")
            if res.status == 0:
                checks.append(Check(f"tool {tool}", OK, res.stdout.decode().strip()))
            else:
                checks.append(
                    Check(f"tool {tool}", FAIL, "not found on the remote PATH", MISSING_TOOL_FIX[tool])
                )
        present = {c.name[5:] for c in checks if c.name.startswith("tool ") and c.status == OK}
        if "gpu" in cfg.sources:
            if "nvidia-smi" in present:
                res = sh("nvidia-smi -L")
                gpus = res.stdout.decode("utf-8", "replace").strip().splitlines()
                checks.append(
                    Check("nvidia driver", OK, f"{len(gpus)} GPUs")
                    if res.status == 0
                    else Check(
                        "nvidia driver",
                        FAIL,
                        explain_failure(res),
                        "check the NVIDIA driver (nvidia-smi fails)",
                    )
                )
            fields = cmd.GPU_QUERY_FIELDS
            if "nvidia-smi" in present:
                fields, check = _query_fields_check(sh, cfg)
                checks.append(check)
            res = sh(cmd.gpu_tail(cfg.gpu.log_path))
            sampler = cmd.gpu_sampler(cfg.gpu.log_path, cfg.gpu.interval_s, fields)
            if res.status == 0:
                last = res.stdout.decode("utf-8", "replace").strip().splitlines()[-1:]
                checks.append(
                    Check(
                        "gpu sampling log",
                        OK,
                        f"{cfg.gpu.log_path}: last line {last[0][:40] if last else '(empty)'}",
                    )
                )
            else:
                checks.append(
                    Check(
                        "gpu sampling log",
                        FAIL,
                        f"{cfg.gpu.log_path} is not readable",
                        f"run the sampler as a service: {sampler}",
                    )
                )
        if "journalctl" in present and ({"journal", "kernel"} & set(cfg.sources)):
            res = sh(cmd.journal_last(kernel=False))
            if res.status != 0:
                checks.append(
                    Check("journal access", FAIL, explain_failure(res), "check journalctl on the host")
                )
            elif b"not seeing messages from other users" in res.stderr:
                checks.append(
                    Check(
                        "journal access",
                        FAIL,
                        "only the user's own messages are visible",
                        f"usermod -aG systemd-journal {cfg.user}",
                    )
                )
            else:
                checks.append(Check("journal access", OK, "system journal readable"))
        if "docker" in present and ({"docker_logs", "docker_events"} & set(cfg.sources)):
            res = sh("docker info --format '{{.ServerVersion}}'")
            checks.append(
                Check("docker access", OK, f"server {res.stdout.decode().strip()}")
                if res.status == 0
                else Check(
                    "docker access",
                    FAIL,
                    explain_failure(res).split(". FIX:")[0],
                    f"usermod -aG docker {cfg.user} (then log in again)",
                )
            )
        checks += _clock_checks(sh)
    except SshCollectionError as exc:
        checks.append(
            Check("remote commands", FAIL, str(exc), "see the detail; rerun check-host after fixing")
        )
    return checks


def _query_fields_check(sh: Shell, cfg: HostConfig) -> tuple[tuple[str, ...], Check]:
    """Which --query-gpu fields this driver accepts: an unknown name fails nvidia-smi's whole query."""
    from mlops_assets.sources import commands as cmd

    res = sh(cmd.GPU_HELP)
    if res.status != 0:
        return cmd.GPU_QUERY_FIELDS, Check(
            "gpu query fields",
            WARN,
            f"`{cmd.GPU_HELP}` failed (exit {res.status}): cannot tell which fields the driver accepts",
            "check the NVIDIA driver; the sampler below uses every field",
        )
    fields, missing = cmd.supported_gpu_fields(res.stdout.decode("utf-8", "replace"))
    if not missing:
        return fields, Check("gpu query fields", OK, f"driver accepts all {len(fields)} fields")
    return fields, Check(
        "gpu query fields",
        WARN,
        f"driver does not list {', '.join(missing)}: those columns stay null",
        "run the sampler with the fields this driver accepts: "
        + cmd.gpu_sampler(cfg.gpu.log_path, cfg.gpu.interval_s, fields),
    )


def _clock_checks(sh: Shell) -> list[Check]:
    checks = []
    res = sh("date +%z")
    tz = res.stdout.decode().strip()
    checks.append(
        Check("timezone", OK, "UTC")
        if tz in ("+0000", "-0000")
        else Check(
            "timezone",
            WARN,
            f"host clock is UTC{tz}: nvidia-smi writes local time",
            "start the GPU sampler with TZ=UTC (Environment=TZ=UTC in its systemd unit)",
        )
    )
    t0 = time.time()
    res = sh("date -u +%s.%N")
    t1 = time.time()
    try:
        skew = float(res.stdout.decode().strip()) - (t0 + t1) / 2
    except ValueError:
        return checks + [Check("clock skew", FAIL, f"cannot read the remote clock: {res.stdout[:80]!r}", "")]
    detail = f"{skew:+.2f} s (round trip {t1 - t0:.2f} s)"
    if abs(skew) >= SKEW_FAIL_S:
        checks.append(Check("clock skew", FAIL, detail, "enable NTP on the host (timedatectl set-ntp true)"))
    elif abs(skew) >= SKEW_WARN_S:
        checks.append(Check("clock skew", WARN, detail, "enable NTP on the host (timedatectl set-ntp true)"))
    else:
        checks.append(Check("clock skew", OK, detail))
    return checks
