"""SSH source against a real local OpenSSH server: collected bytes, cursors, probe, host keys."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest

from mlops_assets.lib.contracts.raw import MEMBER_JOURNAL, SOURCES
from mlops_assets.simulate import DEFAULT_START
from mlops_assets.sources.directory import DirectorySource
from mlops_assets.sources.ssh import SshLogSource
from mlops_assets.sources.ssh_transport import HostKeyError, SshAuthError, fingerprint
from mlops_assets_tests.sshd import SIM_HOST, LocalSshd, keygen

pytestmark = pytest.mark.ssh
HOUR = timedelta(hours=1)


def source_for(server: LocalSshd, tmp_path: Path, **overrides: object) -> SshLogSource:
    hosts = server.write_hosts_file(tmp_path / "hosts.yaml", [server.host_entry(SIM_HOST, **overrides)])
    return SshLogSource.from_hosts_file(hosts, cursor_dir=tmp_path / "cursors")


def test_every_source_matches_the_raw_files_hour_by_hour(
    sshd: LocalSshd, sim_root: Path, tmp_path: Path
) -> None:
    """Six consecutive hours, committing each: the journal resumes by cursor and every member is
    byte-identical to slicing the raw files, so nothing is lost or duplicated across windows."""
    src = source_for(sshd, tmp_path)
    reference = DirectorySource(sim_root)
    journal_parts = []
    for h in range(6):
        start = DEFAULT_START + h * HOUR
        bundle = src.fetch(SIM_HOST, start, start + HOUR)
        assert set(bundle) == set(SOURCES)
        assert bundle == reference.fetch(SIM_HOST, start, start + HOUR), f"hour {h} differs"
        src.commit(SIM_HOST, start, start + HOUR, bundle)
        journal_parts.append(bundle["journal"][MEMBER_JOURNAL])
    assert b"".join(journal_parts) == (sim_root / SIM_HOST / "journal.json").read_bytes()
    state = json.loads((tmp_path / "cursors" / f"{SIM_HOST}.json").read_text())
    last_line = (sim_root / SIM_HOST / "journal.json").read_bytes().splitlines()[-1]
    assert json.loads(last_line)["__CURSOR"] == state["journal"]["cursor"]
    assert state["journal"]["window_end"] == (DEFAULT_START + 6 * HOUR).isoformat()
    logs = bundle["docker_logs"]
    assert logs and all(name.endswith((".stdout", ".stderr")) for name in logs)


def test_rerun_of_an_old_partition_replaces_it_and_leaves_the_cursor(sshd: LocalSshd, tmp_path: Path) -> None:
    src = source_for(sshd, tmp_path)
    first = [src.fetch(SIM_HOST, DEFAULT_START + h * HOUR, DEFAULT_START + (h + 1) * HOUR) for h in range(3)]
    for h, bundle in enumerate(first):
        src.commit(SIM_HOST, DEFAULT_START + h * HOUR, DEFAULT_START + (h + 1) * HOUR, bundle)
    before = (tmp_path / "cursors" / f"{SIM_HOST}.json").read_text()
    again = src.fetch(SIM_HOST, DEFAULT_START + HOUR, DEFAULT_START + 2 * HOUR)
    src.commit(SIM_HOST, DEFAULT_START + HOUR, DEFAULT_START + 2 * HOUR, again)
    assert again == first[1]
    assert (tmp_path / "cursors" / f"{SIM_HOST}.json").read_text() == before


def test_subset_of_sources_and_host_without_docker(sshd: LocalSshd, tmp_path: Path) -> None:
    src = source_for(sshd, tmp_path, sources=["gpu", "kernel"])
    bundle = src.fetch(SIM_HOST, DEFAULT_START, DEFAULT_START + HOUR, SOURCES)
    assert set(bundle) == {"gpu", "kernel"}
    assert bundle["gpu"]["nvidia-smi.csv"].startswith(b"timestamp, index")


def test_probe_reports_newest_record_and_fingerprint_changes_with_new_data(
    sshd: LocalSshd, sim_root: Path, tmp_path: Path
) -> None:
    src = source_for(sshd, tmp_path)
    first = src.probe(SIM_HOST)
    assert first.reachable and first.error is None
    assert DEFAULT_START + 5 * HOUR < first.latest_ts <= DEFAULT_START + 6 * HOUR
    assert src.probe(SIM_HOST).fingerprint == first.fingerprint
    csv = sim_root / SIM_HOST / "nvidia-smi.csv"
    original = csv.read_bytes()
    try:
        csv.write_bytes(original + original.splitlines(keepends=True)[-1])
        assert src.probe(SIM_HOST).fingerprint != first.fingerprint
    finally:
        csv.write_bytes(original)


def test_unknown_host_key_is_refused(sshd: LocalSshd, tmp_path: Path) -> None:
    empty = tmp_path / "empty_known_hosts"
    empty.write_text("")
    src = source_for(sshd, tmp_path, known_hosts=str(empty))
    with pytest.raises(HostKeyError, match="unknown host key.*ssh-keyscan"):
        src.fetch(SIM_HOST, DEFAULT_START, DEFAULT_START + HOUR)
    probe = src.probe(SIM_HOST)
    assert not probe.reachable and "unknown host key" in probe.error


def test_changed_host_key_is_refused(sshd: LocalSshd, tmp_path: Path) -> None:
    other = tmp_path / "other_key"
    keygen(other, "impostor")
    kind, blob = Path(f"{other}.pub").read_text().split()[:2]
    lying = tmp_path / "lying_known_hosts"
    lying.write_text(f"[127.0.0.1]:{sshd.port} {kind} {blob}\n")
    src = source_for(sshd, tmp_path, known_hosts=str(lying))
    with pytest.raises(HostKeyError, match="CHANGED.*man-in-the-middle"):
        src.fetch(SIM_HOST, DEFAULT_START, DEFAULT_START + HOUR)


def test_pinned_fingerprint_accepts_only_the_pinned_key(sshd: LocalSshd, tmp_path: Path) -> None:
    import paramiko

    real = fingerprint(paramiko.Ed25519Key.from_private_key_file(str(sshd.host_key)))
    missing = str(tmp_path / "no_such_known_hosts")
    ok = source_for(sshd, tmp_path, known_hosts=missing, host_key_fingerprint=real)
    assert ok.fetch(SIM_HOST, DEFAULT_START, DEFAULT_START + HOUR, ["kernel"])["kernel"]
    wrong = "SHA256:" + "A" * 43
    bad = source_for(sshd, tmp_path, known_hosts=missing, host_key_fingerprint=wrong)
    with pytest.raises(HostKeyError, match="pins SHA256:AAAA"):
        bad.fetch(SIM_HOST, DEFAULT_START, DEFAULT_START + HOUR, ["kernel"])


def test_wrong_user_key_is_refused(sshd: LocalSshd, tmp_path: Path) -> None:
    stranger = tmp_path / "stranger"
    keygen(stranger, "stranger")
    src = source_for(sshd, tmp_path, key_file=str(stranger))
    with pytest.raises(SshAuthError, match="authentication failed.*authorized_keys"):
        src.fetch(SIM_HOST, DEFAULT_START, DEFAULT_START + HOUR)


def test_docker_only_host_is_probed_by_its_clock(sshd: LocalSshd, tmp_path: Path) -> None:
    from datetime import UTC, datetime

    src = source_for(sshd, tmp_path, sources=["docker_events"])
    probe = src.probe(SIM_HOST)
    assert probe.reachable and abs((probe.latest_ts - datetime.now(UTC)).total_seconds()) < 30


def test_vanished_journal_cursor_falls_back_to_the_time_window(
    sshd: LocalSshd, sim_root: Path, tmp_path: Path
) -> None:
    from mlops_assets.sources.cursors import CursorStore

    src = source_for(sshd, tmp_path)
    start = DEFAULT_START + 2 * HOUR
    CursorStore(tmp_path / "cursors").advance(SIM_HOST, "journal", "s=0;i=0;b=0;m=0;t=0;x=0", start)
    bundle = src.fetch(SIM_HOST, start, start + HOUR, ["journal"])
    assert bundle == DirectorySource(sim_root).fetch(SIM_HOST, start, start + HOUR, ["journal"])
