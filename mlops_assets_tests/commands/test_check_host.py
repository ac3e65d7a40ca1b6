"""`mlops-assets check-host` against a real local sshd: a ready host passes; each broken piece is a
FAIL row with its fix and a non-zero exit."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlops_assets.cli import main
from mlops_assets_tests.sshd import SIM_HOST, LocalSshd, free_port, keygen

pytestmark = pytest.mark.ssh


def check(
    server: LocalSshd, tmp_path: Path, capsys: pytest.CaptureFixture[str], **overrides: object
) -> tuple[int, str]:
    hosts = server.write_hosts_file(tmp_path / "hosts.yaml", [server.host_entry(SIM_HOST, **overrides)])
    code = main(["check-host", SIM_HOST, "--hosts-file", str(hosts)])
    return code, capsys.readouterr().out


def test_ready_host_passes_every_check(
    sshd: LocalSshd, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = check(sshd, tmp_path, capsys)
    assert code == 0, out
    for row in (
        "reachable",
        "host key",
        "auth",
        "tool nvidia-smi",
        "tool journalctl",
        "tool docker",
        "nvidia driver",
        "gpu sampling log",
        "journal access",
        "docker access",
        "timezone",
        "clock skew",
    ):
        assert any(line.startswith(row) and " OK " in line for line in out.splitlines()), (row, out)
    assert "2 GPUs" in out and out.strip().endswith("ready to collect")


def test_missing_tool_and_permissions_fail_with_fixes(
    sshd: LocalSshd, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (sshd.bin / "nvidia-smi").unlink()
    (sshd.control / "journal_no_group").touch()
    (sshd.control / "docker_denied").touch()
    code, out = check(sshd, tmp_path, capsys, gpu={"log_path": "/var/log/none/gpu.csv"})
    assert code == 1
    assert "FIX: install the NVIDIA driver utilities (nvidia-smi)" in out
    assert "FIX: run the sampler as a service: TZ=UTC nvidia-smi --query-gpu=timestamp,index" in out
    assert "FIX: usermod -aG systemd-journal" in out
    assert "FIX: usermod -aG docker" in out
    assert out.strip().endswith("collection would FAIL")


def test_bad_host_key_and_bad_user_key_fail(
    sshd: LocalSshd, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    empty = tmp_path / "empty_known_hosts"
    empty.write_text("")
    code, out = check(sshd, tmp_path, capsys, known_hosts=str(empty))
    assert code == 1
    assert any(line.startswith("host key") and " FAIL " in line for line in out.splitlines()), out
    assert "unknown host key" in out and "FIX: verify its fingerprint" in out
    stranger = tmp_path / "stranger"
    keygen(stranger, "stranger")
    code, out = check(sshd, tmp_path, capsys, key_file=str(stranger))
    assert code == 1 and "authentication failed" in out and "authorized_keys" in out
    assert any(line.startswith("auth") and " FAIL " in line for line in out.splitlines()), out


def test_unreachable_and_unknown_hosts(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    hosts = tmp_path / "hosts.yaml"
    hosts.write_text(
        f"hosts:\n- {{name: h1, address: 127.0.0.1, port: {free_port()}, user: u, use_agent: true}}\n"
    )
    assert main(["check-host", "h1", "--hosts-file", str(hosts)]) == 1
    out = capsys.readouterr().out
    assert "reachable" in out and "FAIL" in out and "FIX: is the host up" in out
    assert main(["check-host", "nope", "--hosts-file", str(hosts)]) == 2
    assert "not in" in capsys.readouterr().out
