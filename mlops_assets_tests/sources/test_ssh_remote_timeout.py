"""A remote command that hangs (nvidia-smi on a dying GPU, a stuck docker daemon) is ended ON THE HOST
when the collector's timeout fires: against the real local sshd, no process of it is left running."""

from __future__ import annotations

import os
import time
from datetime import timedelta
from pathlib import Path

import pytest

from mlops_assets.simulate import DEFAULT_START
from mlops_assets.sources.commands import KILL_GRACE_S, bounded
from mlops_assets.sources.hosts import HostConfig
from mlops_assets.sources.ssh import SshLogSource
from mlops_assets.sources.ssh_transport import CommandTimeout, RemoteCommandError, connect, run_command
from mlops_assets_tests.sshd import SIM_HOST, LocalSshd

pytestmark = pytest.mark.ssh
HOUR = timedelta(hours=1)
W = (DEFAULT_START + 2 * HOUR, DEFAULT_START + 3 * HOUR)


def remote_pids(server: LocalSshd, tool: str) -> list[int]:
    """Processes of THIS sshd's fake ``tool`` (its FAKE_CONTROL is unique to this test's server)."""
    marker = f"FAKE_CONTROL={server.control}".encode()
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or int(proc.name) == os.getpid():
            continue
        try:
            argv = (proc / "cmdline").read_bytes().split(b"\0")
            env = (proc / "environ").read_bytes().split(b"\0")
        except OSError:
            continue
        if marker in env and any(a.endswith(f"/{tool}".encode()) or a == tool.encode() for a in argv):
            found.append(int(proc.name))
    return found


def wait_gone(server: LocalSshd, tool: str, within_s: float) -> list[int]:
    deadline = time.monotonic() + within_s
    while (left := remote_pids(server, tool)) and time.monotonic() < deadline:
        time.sleep(0.1)
    return left


def config(server: LocalSshd, command_s: float) -> HostConfig:
    return HostConfig(
        **server.host_entry(SIM_HOST, timeouts={"connect_s": 5, "auth_s": 5, "command_s": command_s})
    )


def test_hung_nvidia_smi_is_killed_on_the_host(sshd: LocalSshd) -> None:
    (sshd.control / "hang_nvidia-smi").touch()
    client = connect(config(sshd, 1.5))
    try:
        t0 = time.monotonic()
        with pytest.raises(CommandTimeout, match=r"within 1.5 s .*the host ended it \(exit 124\)"):
            run_command(client, "nvidia-smi -L", 1.5, 1 << 20)
        assert time.monotonic() - t0 < 1.5 + KILL_GRACE_S
    finally:
        client.close()
    assert wait_gone(sshd, "nvidia-smi", 2.0) == []


def test_hung_command_is_killed_even_when_the_collector_abandons_the_channel(sshd: LocalSshd) -> None:
    """The collector dies or closes the connection mid-command: the host still ends the command."""
    (sshd.control / "hang_nvidia-smi").touch()
    client = connect(config(sshd, 2.0))
    transport = client.get_transport()
    assert transport is not None
    chan = transport.open_session()
    chan.exec_command(bounded("nvidia-smi -L", 2.0))
    deadline = time.monotonic() + 5
    while not remote_pids(sshd, "nvidia-smi") and time.monotonic() < deadline:
        time.sleep(0.05)
    assert remote_pids(sshd, "nvidia-smi"), "the fake nvidia-smi never started"
    client.close()  # what an unwrapped command survives: sshd only closes its pipes
    time.sleep(0.5)
    assert remote_pids(sshd, "nvidia-smi"), "still running right after the close (timeout not reached)"
    assert wait_gone(sshd, "nvidia-smi", 2.0 + 3.0) == []


def test_source_timeout_leaves_no_docker_or_journalctl_behind(sshd: LocalSshd, tmp_path: Path) -> None:
    (sshd.control / "hang_docker").touch()
    (sshd.control / "hang_journalctl").touch()
    entry = sshd.host_entry(SIM_HOST, timeouts={"connect_s": 5, "auth_s": 5, "command_s": 1.5})
    src = SshLogSource.from_hosts_file(
        sshd.write_hosts_file(tmp_path / "hosts.yaml", [entry]), cursor_dir=tmp_path / "cursors"
    )
    with pytest.raises(CommandTimeout, match="did not finish within 1.5 s"):
        src.fetch(SIM_HOST, *W, ["journal", "kernel", "docker_events"])
    assert wait_gone(sshd, "docker", 3.0) == []
    assert wait_gone(sshd, "journalctl", 3.0) == []


def test_a_host_without_timeout_is_refused_with_the_fix(sshd: LocalSshd) -> None:
    (sshd.bin / "timeout").unlink()
    client = connect(config(sshd, 5))
    try:
        with pytest.raises(RemoteCommandError, match="no `timeout`.*FIX: install coreutils"):
            run_command(client, "nvidia-smi -L", 5, 1 << 20)
    finally:
        client.close()


def test_bounded_quotes_the_command_once_more() -> None:
    wrapped = bounded("LC_ALL=C awk -v s='2026/11/01' '{print}' /var/log/x.csv", 300)
    assert wrapped.startswith("timeout -k 5 300 sh -c '")
    with pytest.raises(ValueError, match="> 0 s"):
        bounded("true", 0)
