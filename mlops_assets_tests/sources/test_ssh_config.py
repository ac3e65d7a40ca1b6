"""hosts.yaml validation and command building: no SSH server needed."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from mlops_assets.simulate import DEFAULT_START
from mlops_assets.sources import commands
from mlops_assets.sources.hosts import load_hosts
from mlops_assets.sources.ssh import container_names

REPO = Path(__file__).resolve().parents[2]
W = (DEFAULT_START + timedelta(hours=1), DEFAULT_START + timedelta(hours=2))


def test_example_hosts_file_is_valid() -> None:
    hosts = {h.name: h for h in load_hosts(REPO / "hosts.example.yaml")}
    assert sorted(hosts) == ["gpu-node-01", "gpu-node-02", "gpu-node-03"]
    assert hosts["gpu-node-02"].host_key_fingerprint.startswith("SHA256:")
    assert hosts["gpu-node-03"].retired and hosts["gpu-node-03"].sources == ("gpu", "kernel")


def test_commands_are_exact_and_quoted() -> None:
    assert commands.journal(*W, after_cursor="s=ab;i=1;b=cd", kernel=True) == (
        "journalctl -o json --no-pager -k --after-cursor='s=ab;i=1;b=cd' --until=@1793498400"
    )
    assert commands.journal(*W, after_cursor=None, kernel=False, units=("docker.service",)) == (
        "journalctl -o json --no-pager -u docker.service --since=@1793494800 --until=@1793498400"
    )
    assert (
        commands.docker_logs("vllm", *W)
        == "docker logs --timestamps --since 1793494800 --until 1793498400 vllm"
    )
    assert commands.docker_events(*W).endswith("--format '{{json .}}'")
    assert "--format=csv,nounits -lms 10000 -f /var/log/gpu.csv" in commands.gpu_sampler(
        "/var/log/gpu.csv", 10
    )


def test_trimming_keeps_exactly_the_half_open_window() -> None:
    lo, hi = 1793494800_000000, 1793498400_000000
    journal = b"".join(
        b'{"__CURSOR":"c%d","__REALTIME_TIMESTAMP":"%d"}\n' % (i, t)
        for i, t in enumerate([lo - 1, lo, hi - 1, hi])
    )
    kept = commands.trim_journal(journal, *W)
    assert kept.count(b"\n") == 2 and commands.last_cursor(kept) == "c2"
    logs = b"2026-11-01T00:59:59.999999999Z a\n2026-11-01T01:00:00.000000000Z b\n  continued\n2026-11-01T02:00:00.000000000Z c\n"
    assert commands.trim_docker_logs(logs, *W) == b"2026-11-01T01:00:00.000000000Z b\n  continued\n"
    events = b'{"time":1793494799,"timeNano":1793494799999999999}\n{"time":1793498400,"timeNano":1793498400000000000}\n{"time":1793494800}\n'
    assert commands.trim_docker_events(events, *W) == b'{"time":1793494800}\n'


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
    hosts.write_text(
        "hosts:\n- {name: h1, address: 10.0.0.1, user: c, key_file: /k, containers: ['x; rm -rf /']}\n"
    )
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
    hosts.write_text(
        "defaults: {user: c, use_agent: true}\nhosts:\n- {name: h1, address: a}\n- {name: h1, address: b}\n"
    )
    with pytest.raises(ValueError, match="duplicate host names"):
        load_hosts(hosts)
    hosts.write_text(
        "defaults: {user: c, key_file: /k, key_passphrase_env: NO_SUCH_VAR_X}\nhosts:\n- {name: h1, address: a}\n"
    )
    (h1,) = load_hosts(hosts)
    with pytest.raises(RuntimeError, match=r"\$NO_SUCH_VAR_X, which is not set"):
        h1.passphrase()
