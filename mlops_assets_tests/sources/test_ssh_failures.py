"""SSH source failure modes against a real local sshd: every failure is loud, named and fixable,
and an interrupted collection leaves the cursor where it was."""

from __future__ import annotations

import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest

from mlops_assets.simulate import DEFAULT_START
from mlops_assets.sources import commands
from mlops_assets.sources.hosts import load_hosts
from mlops_assets.sources.ssh import SshLogSource, container_names
from mlops_assets.sources.ssh_transport import (
    CommandTimeout,
    OutputTooLarge,
    RemoteCommandError,
    SshCollectionError,
)
from mlops_assets_tests.sshd import SIM_HOST, LocalSshd

pytestmark = pytest.mark.ssh
HOUR = timedelta(hours=1)
W = (DEFAULT_START + 2 * HOUR, DEFAULT_START + 3 * HOUR)  # the hour with the journal fault burst


def source_for(server: LocalSshd, tmp_path: Path, **overrides: object) -> SshLogSource:
    hosts = server.write_hosts_file(tmp_path / "hosts.yaml", [server.host_entry(SIM_HOST, **overrides)])
    return SshLogSource.from_hosts_file(hosts, cursor_dir=tmp_path / "cursors")


def test_server_stopped_mid_transfer_fails_keeps_cursor_and_retry_is_identical(
    sshd: LocalSshd, tmp_path: Path
) -> None:
    src = source_for(sshd, tmp_path)
    first = src.fetch(SIM_HOST, W[0] - HOUR, W[0])
    src.commit(SIM_HOST, W[0] - HOUR, W[0], first)  # next fetch resumes after the stored cursor
    cursor_file = tmp_path / "cursors" / f"{SIM_HOST}.json"
    before = cursor_file.read_text()
    undisturbed = src.fetch(SIM_HOST, *W)

    (sshd.control / "slow_journalctl").touch()  # journalctl sends half its output, then stalls
    errors: list[BaseException] = []

    def collect() -> None:
        try:
            src.fetch(SIM_HOST, *W)
        except BaseException as exc:  # noqa: BLE001 - inspected below
            errors.append(exc)

    worker = threading.Thread(target=collect)
    worker.start()
    deadline = time.monotonic() + 15
    while not (sshd.control / "started_journalctl").exists():
        assert time.monotonic() < deadline, "fake journalctl never started"
        time.sleep(0.05)
    sshd.stop()  # the host goes away mid-transfer
    worker.join(30)
    assert not worker.is_alive()
    assert errors and isinstance(errors[0], SshCollectionError), errors
    assert "connection lost" in str(errors[0]) or "closed" in str(errors[0])
    assert cursor_file.read_text() == before  # nothing committed

    (sshd.control / "slow_journalctl").unlink()
    sshd.start()  # same port, same host key
    retry = src.fetch(SIM_HOST, *W)
    assert retry == undisturbed
    src.commit(SIM_HOST, *W, retry)
    assert cursor_file.read_text() != before


def test_missing_command_names_the_tool_and_the_fix(sshd: LocalSshd, tmp_path: Path) -> None:
    (sshd.bin / "docker").unlink()
    src = source_for(sshd, tmp_path)
    with pytest.raises(RemoteCommandError, match="`docker` is not installed.*FIX: install the docker CLI"):
        src.fetch(SIM_HOST, *W, ["docker_events"])


def test_missing_gpu_sampling_log_says_to_start_the_sampler(sshd: LocalSshd, tmp_path: Path) -> None:
    src = source_for(sshd, tmp_path, gpu={"log_path": "/var/log/no-such-dir/gpu.csv"})
    with pytest.raises(RemoteCommandError, match="FIX: run the GPU sampler"):
        src.fetch(SIM_HOST, *W, ["gpu"])


def test_docker_permission_and_journal_group_are_explained(sshd: LocalSshd, tmp_path: Path) -> None:
    src = source_for(sshd, tmp_path)
    (sshd.control / "docker_denied").touch()
    with pytest.raises(RemoteCommandError, match="FIX: add the collection user to the `docker` group"):
        src.fetch(SIM_HOST, *W, ["docker_logs"])
    (sshd.control / "journal_no_group").touch()
    with pytest.raises(RemoteCommandError, match="systemd-journal"):
        src.fetch(SIM_HOST, *W, ["journal"])


def test_hanging_command_times_out(sshd: LocalSshd, tmp_path: Path) -> None:
    (sshd.control / "hang_docker").touch()
    src = source_for(sshd, tmp_path, timeouts={"connect_s": 5, "auth_s": 5, "command_s": 1.5})
    t0 = time.monotonic()
    with pytest.raises(CommandTimeout, match="did not finish within 1.5 s"):
        src.fetch(SIM_HOST, *W, ["docker_events"])
    assert time.monotonic() - t0 < 10


def test_huge_output_hits_the_cap(sshd: LocalSshd, tmp_path: Path) -> None:
    (sshd.control / "huge_journalctl").write_text("8")  # 8 MiB
    src = source_for(sshd, tmp_path, max_output_mb=1)
    with pytest.raises(OutputTooLarge, match="more than 1 MiB.*max_output_mb"):
        src.fetch(SIM_HOST, *W, ["journal"])


@pytest.mark.parametrize("bad", ["x; rm -rf /", "$(reboot)", "a b", "../etc", "-v", "x`id`", "name\nrm"])
def test_malicious_names_never_reach_a_shell(bad: str) -> None:
    with pytest.raises(commands.UnsafeNameError, match="refusing container name"):
        commands.docker_logs(bad, *W)
    with pytest.raises(commands.UnsafeNameError, match="refusing systemd unit name"):
        commands.journal(*W, after_cursor=None, kernel=False, units=(bad,))
    with pytest.raises(commands.UnsafeNameError):
        commands.journal(*W, after_cursor=bad, kernel=False)


def test_malicious_names_in_hosts_file_or_docker_ps_are_rejected(tmp_path: Path) -> None:
    hosts = tmp_path / "hosts.yaml"
    hosts.write_text("hosts:\n- {name: h1, address: 10.0.0.1, user: c, key_file: /k, containers: ['x; rm -rf /']}\n")
    with pytest.raises(ValueError, match=r"hosts\.0\.containers.*refusing container name 'x; rm -rf /'"):
        load_hosts(hosts)
    with pytest.raises(commands.UnsafeNameError, match="x; rm -rf /"):
        container_names(b'{"Names":"ok"}\n{"Names":"x; rm -rf /"}\n', "h1")
    assert container_names(b'{"Names":"b"}\n{"Names":"a,c"}\n', "h1") == ["a", "b", "c"]


def test_hosts_file_rejects_secrets_and_explains_mistakes(tmp_path: Path) -> None:
    hosts = tmp_path / "hosts.yaml"
    hosts.write_text("hosts:\n- {name: h1, address: a, user: c, key_file: /k, password: hunter2}\n")
    with pytest.raises(ValueError, match="secrets never go in hosts.yaml"):
        load_hosts(hosts)
    hosts.write_text("hosts:\n- {name: h1, address: a, user: c}\n")
    with pytest.raises(ValueError, match="set `key_file` or `use_agent: true`"):
        load_hosts(hosts)
    hosts.write_text("hosts:\n- {name: h1, address: a, user: c, use_agent: true, sources: [gpu, syslog]}\n")
    with pytest.raises(ValueError, match="unknown sources"):
        load_hosts(hosts)
    hosts.write_text("defaults: {user: c, use_agent: true}\nhosts:\n- {name: h1, address: a}\n- {name: h1, address: b}\n")
    with pytest.raises(ValueError, match="duplicate host names"):
        load_hosts(hosts)
    hosts.write_text("defaults: {user: c, key_file: /k, key_passphrase_env: NO_SUCH_VAR_X}\nhosts:\n- {name: h1, address: a}\n")
    (h1,) = load_hosts(hosts)
    with pytest.raises(RuntimeError, match=r"\$NO_SUCH_VAR_X, which is not set"):
        h1.passphrase()
