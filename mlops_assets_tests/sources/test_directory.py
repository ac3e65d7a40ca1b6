"""DirectorySource: exact half-open slicing, orphan-line handling, probe, unknown host, archives."""

from __future__ import annotations

import io
import tarfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from mlops_assets.lib.contracts.raw import SOURCES
from mlops_assets.simulate import simulate
from mlops_assets.sources.directory import DirectorySource

START = datetime(2026, 11, 1, tzinfo=UTC)
HOST = "gpu-node-01"


@pytest.fixture(scope="module")
def landing(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("landing")
    simulate(root, hosts=1, gpus=2, hours=24, seed=11, start=START, gpu_interval_s=60)
    return root


def _hourly(src: DirectorySource, host: str = HOST) -> list[dict[str, dict[str, bytes]]]:
    return [src.fetch(host, START + timedelta(hours=h), START + timedelta(hours=h + 1)) for h in range(24)]


def test_hourly_slices_partition_every_file_exactly(landing: Path) -> None:
    src = DirectorySource(landing)
    assert src.hosts() == [HOST]
    bundles = _hourly(src)
    base = landing / HOST
    header = (base / "nvidia-smi.csv").read_bytes().split(b"\n", 1)[0] + b"\n"
    gpu_body = b"".join(b["gpu"]["nvidia-smi.csv"].removeprefix(header) for b in bundles)
    assert all(b["gpu"]["nvidia-smi.csv"].startswith(header) for b in bundles)
    assert header + gpu_body == (base / "nvidia-smi.csv").read_bytes()
    for source, member, path in (
        ("journal", "journal.json", base / "journal.json"),
        ("kernel", "kernel.json", base / "kernel.json"),
        ("docker_events", "events.json", base / "docker/events.json"),
    ):
        assert b"".join(b[source][member] for b in bundles) == path.read_bytes(), member
    for log in sorted((base / "docker/logs").iterdir()):
        assert b"".join(b["docker_logs"][log.name] for b in bundles) == log.read_bytes(), log.name
    assert bundles[5]["docker_events"]["ps.json"] == (base / "docker/ps.json").read_bytes()
    assert set(bundles[0]) == set(SOURCES)


def test_orphan_lines_stay_with_the_record_before(tmp_path: Path) -> None:
    host = tmp_path / "h1"
    (host / "docker/logs").mkdir(parents=True)
    (host / "nvidia-smi.csv").write_bytes(
        b"timestamp, index\n"
        b"2026/11/01 00:59:59.990, 0\n"
        b"Unable to determine the device handle for GPU 00000000:3B:00.0: Unknown Error\n"
        b"2026/11/01 01:00:00.000, 0\n"
        b"garbage,,\n"
        b"2026/11/01 01:00:10.000, 0"  # truncated last line, no newline
    )
    (host / "docker/logs/app.stderr").write_bytes(
        b"2026-11-01T00:59:59.999999999Z Traceback (most recent call last):\n"
        b'  File "x.py", line 1, in <module>\n'
        b"ValueError: boom\n"
        b"2026-11-01T02:00:00.000000001+01:00 same instant in another zone\n"
    )
    (host / "journal.json").write_bytes(
        b'{ "__REALTIME_TIMESTAMP" : "1793494799999999", "MESSAGE" : "a" }\n'
        b"{ not json\n"
        b'{ "__REALTIME_TIMESTAMP" : "1793494800000000", "MESSAGE" : "b" }\n'
    )
    src = DirectorySource(tmp_path)
    h0 = src.fetch("h1", START, START + timedelta(hours=1))
    h1 = src.fetch("h1", START + timedelta(hours=1), START + timedelta(hours=2))
    assert (
        h0["gpu"]["nvidia-smi.csv"]
        == b"timestamp, index\n2026/11/01 00:59:59.990, 0\nUnable to determine the device handle for GPU 00000000:3B:00.0: Unknown Error\n"
    )
    assert h1["gpu"]["nvidia-smi.csv"].endswith(b"garbage,,\n2026/11/01 01:00:10.000, 0\n")
    assert h0["docker_logs"]["app.stderr"].count(b"\n") == 3
    assert (
        h1["docker_logs"]["app.stderr"]
        == b"2026-11-01T02:00:00.000000001+01:00 same instant in another zone\n"
    )
    assert h0["journal"]["journal.json"].endswith(b"{ not json\n")
    assert h1["journal"]["journal.json"].count(b"\n") == 1
    assert h0["kernel"] == {} and h0["docker_events"] == {}


def test_probe_reports_latest_and_changes_fingerprint(landing: Path, tmp_path: Path) -> None:
    src = DirectorySource(landing)
    p = src.probe(HOST)
    assert p.reachable and p.error is None
    assert START + timedelta(hours=23, minutes=58) <= p.latest_ts < START + timedelta(hours=24)
    assert src.probe(HOST).fingerprint == p.fingerprint
    copy = tmp_path / "copy" / HOST
    copy.mkdir(parents=True)
    (copy / "kernel.json").write_bytes((landing / HOST / "kernel.json").read_bytes())
    c = DirectorySource(tmp_path / "copy")
    before = c.probe(HOST).fingerprint
    with (copy / "kernel.json").open("ab") as fh:
        fh.write(b'{ "__REALTIME_TIMESTAMP" : "1893456000000000", "MESSAGE" : "later" }\n')
    after = c.probe(HOST)
    assert after.fingerprint != before and after.latest_ts == datetime(2030, 1, 1, tzinfo=UTC)


def test_unknown_host(landing: Path) -> None:
    src = DirectorySource(landing)
    with pytest.raises(KeyError, match="unknown host 'gpu-node-99'.*gpu-node-01"):
        src.fetch("gpu-node-99", START, START + timedelta(hours=1))
    with pytest.raises(KeyError):
        src.fetch("../" + HOST, START, START + timedelta(hours=1))
    p = src.probe("gpu-node-99")
    assert not p.reachable and "unknown host" in (p.error or "")
    with pytest.raises(FileNotFoundError):
        DirectorySource(landing / "nope")


def test_archive_import_matches_folder(landing: Path, tmp_path: Path) -> None:
    archive = tmp_path / "landing.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(landing, arcname="landing")
    src = DirectorySource(archive)
    assert src.hosts() == [HOST]
    window = (START + timedelta(hours=7), START + timedelta(hours=8))
    assert src.fetch(HOST, *window) == DirectorySource(landing).fetch(HOST, *window)
    assert DirectorySource(archive).root == src.root  # extracted once, reused


@pytest.mark.parametrize("evil", ["../escape.txt", "/tmp/abs-escape.txt", "h1/../../escape.txt"])
def test_malicious_archive_is_rejected(tmp_path: Path, evil: str) -> None:
    archive = tmp_path / "evil.tgz"
    with tarfile.open(archive, "w:gz") as tar:
        for name in ("h1/journal.json", evil):
            info = tarfile.TarInfo(name)
            info.size = 3
            tar.addfile(info, io.BytesIO(b"{}\n"))
    with pytest.raises(ValueError, match="escapes the extraction folder"):
        DirectorySource(archive)
    assert not (tmp_path / "escape.txt").exists() and not Path("/tmp/abs-escape.txt").exists()
    assert not any(
        p.name.startswith(".evil.extracted")
        for p in tmp_path.iterdir()
        if p.is_dir() and not p.name.endswith(".tmp")
    )


def test_symlink_member_is_rejected(tmp_path: Path) -> None:
    archive = tmp_path / "link.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        info = tarfile.TarInfo("h1/journal.json")
        info.type, info.linkname = tarfile.SYMTYPE, "/etc/passwd"
        tar.addfile(info)
    with pytest.raises(ValueError, match="link or device"):
        DirectorySource(archive)
