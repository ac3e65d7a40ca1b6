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


def _text_landing(root: Path) -> Path:
    """A host whose files are all in non-default formats, as users copy them in."""
    host = root / "h2"
    (host / "docker").mkdir(parents=True)
    (host / "journal.json").write_text(
        "-- Logs begin at Sun 2026-11-01 00:00:00 UTC, end at Sun 2026-11-01 02:00:00 UTC. --\n"
        "Nov 01 00:10:00 h2 systemd[1]: Started a.\n"
        "Nov 01 01:10:00 h2 dockerd[9]: x\n"
        "  continued\n"
        "-- Reboot --\n"
        "Nov 01 01:20:00 h2 kernel: Linux version 6.8\n"
    )
    (host / "kernel.json").write_text(
        "Nov  1 00:30:00 h2 kernel: [  100.500000] NVRM: Xid (PCI:0000:3b:00): 79, pid=1, GPU has fallen off the bus.\n"
        "Nov  1 01:30:00 h2 kernel: [ 3700.000000] nvidia-modeset: ok\n"
    )
    (host / "nvidia-smi.csv").write_text(
        "name, index, timestamp, temperature.gpu, remapped_rows.pending\n"
        "NVIDIA H100 80GB HBM3, 0, 2026/11/01 00:00:01.000, 40, No\n"
        "NVIDIA H100 80GB HBM3, 0, 2026/11/01 01:00:01.000, 41, Yes\n"
    )
    (host / "docker/events.json").write_text(
        "2026-11-01T00:05:00.000000000Z container die abcdef012345 (exitCode=1, image=x, name=app, desc=a\n"
        "b)\n"
    )
    return host


def test_every_source_in_text_formats_is_detected_sliced_and_parsed(tmp_path: Path) -> None:
    from mlops_assets.lib.parsing.bundle import parse_bundle

    host = _text_landing(tmp_path)
    src = DirectorySource(tmp_path)
    probe = src.probe("h2")
    assert probe.reachable and probe.latest_ts == datetime(2026, 11, 1, 1, 30, tzinfo=UTC)
    hours = [src.fetch("h2", START + timedelta(hours=h), START + timedelta(hours=h + 1)) for h in range(2)]
    for source, member in (
        ("journal", "journal.json"),
        ("kernel", "kernel.json"),
        ("docker_events", "events.json"),
    ):
        assert (
            b"".join(b[source][member] for b in hours)
            == (host / "docker" / member if source == "docker_events" else host / member).read_bytes()
        )
    assert hours[0]["journal"]["journal.json.format"] == b"journal-short;year=2026"
    parsed = [parse_bundle(b, "h2") for b in hours]
    counts = [{t: len(df) for t, df in p.tables.items() if len(df)} for p in parsed]
    assert counts == [
        {"gpu_samples": 1, "journal_entries": 1, "kernel_events": 1, "docker_events": 1},
        {"gpu_samples": 1, "journal_entries": 2, "kernel_events": 1},
    ]
    assert all(len(p.quarantine) == 0 for p in parsed)
    for h, p in enumerate(parsed):  # every row lands in its own hour: no 1970, no neighbour hour
        for df in p.tables.values():
            if len(df):
                assert (
                    (df["ts"] >= START + timedelta(hours=h)) & (df["ts"] < START + timedelta(hours=h + 1))
                ).all()
    assert parsed[1].tables["gpu_samples"]["remapped_rows_pending"].tolist() == [True]
    assert parsed[0].tables["kernel_events"]["xid"].tolist() == [79]
    assert parsed[1].tables["journal_entries"]["boot_id"].notna().tolist() == [False, True]


def test_short_journal_is_never_invalid_json_in_1970(tmp_path: Path) -> None:
    """The measured bug: a short-format journal.json became invalid_json rows in the 1970 hour."""
    from mlops_assets.lib.parsing.bundle import parse_source

    host = tmp_path / "h3"
    host.mkdir()
    (host / "journal.json").write_text(
        "Nov 01 00:10:00 h3 sshd[1]: Accepted key\nNov 01 00:20:00 h3 sshd[1]: x\n"
    )
    src = DirectorySource(tmp_path)
    assert src.fetch("h3", datetime(1970, 1, 1, tzinfo=UTC), datetime(1970, 1, 1, 1, tzinfo=UTC))[
        "journal"
    ] == {
        "journal.json": b"",
        "journal.json.format": b"journal-short",
    }
    members = src.fetch("h3", START, START + timedelta(hours=1))["journal"]
    parsed = parse_source("journal", members, "h3")
    assert parsed.rows == 2 and len(parsed.quarantine) == 0


@pytest.mark.parametrize(
    ("member", "content", "seen"),
    [
        ("journal.json", "134681 node-246 unix.hw state_change.unavailable 1077804742 1 x\n", "unrecognised"),
        ("kernel.json", "[    2.608284] mlx5_core 0000:3b:00.0: firmware\n", "wall-clock"),
        ("nvidia-smi.csv", "Nov  1 00:30:00 h kernel: hello\n", "format 'kernel'"),
    ],
)
def test_unsupported_formats_are_refused_loudly(tmp_path: Path, member: str, content: str, seen: str) -> None:
    from mlops_assets.lib.parsing.landing import UnsupportedFormatError

    host = tmp_path / "h4"
    host.mkdir()
    (host / member).write_text(content)
    src = DirectorySource(tmp_path)
    with pytest.raises(UnsupportedFormatError, match=seen) as info:
        src.fetch("h4", START, START + timedelta(hours=1))
    assert str(host / member) in str(info.value)
    probe = src.probe("h4")
    if seen != "wall-clock":  # the probe reads heads and tails only; a fetch reads the whole file
        assert (
            not probe.reachable and str(host / member) in (probe.error or "") and seen in (probe.error or "")
        )


@pytest.mark.parametrize(
    ("source", "content", "kind"),
    [
        ("journal", b"Nov 01 00:10:00 h kernel: a\nNov 01 00:10:01 h kernel: b\n", "journal-short"),
        ("journal", b"2026-11-01T00:10:00+0000 h kernel: a\n", "journal-short-iso"),
        ("journal", b"-- No entries --\n", "journal"),
        ("kernel", b"kern  :warn  : 2026-11-01T00:10:00,1+00:00 NVRM: x\n", "kernel"),
        ("kernel", b"Nov  1 00:10:00 h kernel: [ 1.0] x\n", "kernel"),
        ("docker_logs", b"2026-11-01T00:10:00.1Z Nov 01 00:10:00 app said: hi\n", "docker-logs"),
        ("docker_logs", b'{"log":"x\\n","stream":"stdout","time":"2026-11-01T00:10:00Z"}\n', "docker"),
        ("docker_events", b"2026-11-01T00:10:00Z container start abcdef012345 (name=a)\n", "docker-events"),
    ],
)
def test_accepted_formats_per_source(source: str, content: bytes, kind: str) -> None:
    from mlops_assets.lib.parsing.landing import check_format

    assert check_format("f", content, source) == kind


def test_journal_export_is_refused_in_the_landing_folder() -> None:
    from mlops_assets.lib.parsing.landing import UnsupportedFormatError, check_format

    with pytest.raises(UnsupportedFormatError, match="format 'journal-export'.*journalctl -o json"):
        check_format("journal.json", b"__CURSOR=s=1\n__REALTIME_TIMESTAMP=1\nMESSAGE=x\n", "journal")
