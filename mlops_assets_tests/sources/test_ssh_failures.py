"""SSH source failure modes against a real local sshd: every failure is loud, named and fixable,
and an interrupted collection leaves the cursor where it was."""

from __future__ import annotations

import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest

from mlops_assets.simulate import DEFAULT_START
from mlops_assets.sources.ssh import SshLogSource
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
