"""Property tests: arbitrary bytes and mutated real-looking lines never crash a parser, and every
record is accounted for (records_in == table + quarantine + skipped), with contract dtypes."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mlops_assets.lib.contracts.tables import QUARANTINE, TABLES, ParseResult, schema_mismatches
from mlops_assets.lib.parsing.bugreport import parse_sectioned
from mlops_assets.lib.parsing.detect import UnknownKindError, detect_kind, parse_any
from mlops_assets.lib.parsing.docker import parse_docker_events, parse_docker_json_file, parse_docker_logs
from mlops_assets.lib.parsing.gpu import parse_gpu_csv
from mlops_assets.lib.parsing.gpu_query_text import parse_gpu_query_text
from mlops_assets.lib.parsing.gpu_table import parse_gpu_table
from mlops_assets.lib.parsing.gpu_xml import parse_gpu_xml
from mlops_assets.lib.parsing.journal import parse_journal_json
from mlops_assets.lib.parsing.journal_text import (
    parse_journal_export,
    parse_journal_short,
    parse_journal_short_iso,
)
from mlops_assets.lib.parsing.kernel import parse_kernel
from mlops_assets.lib.parsing.landing import UnsupportedFormatError, check_format, index_lines
from mlops_assets.lib.parsing.line_times import gpu_line_times, text_line_times

REF = datetime(2026, 3, 1, tzinfo=UTC)

PARSERS: dict[str, tuple[Callable[[bytes], ParseResult], str]] = {
    "gpu": (lambda d: parse_gpu_csv(d, "h"), "gpu_samples"),
    "gpu-xml": (lambda d: parse_gpu_xml(d, "h"), "gpu_samples"),
    "journal": (lambda d: parse_journal_json(d, "h"), "journal_entries"),
    "journal-export": (lambda d: parse_journal_export(d, "h"), "journal_entries"),
    "journal-short-iso": (lambda d: parse_journal_short_iso(d, "h"), "journal_entries"),
    "journal-short": (lambda d: parse_journal_short(d, "h", year=2025), "journal_entries"),
    "kernel": (lambda d: parse_kernel(d, "h"), "kernel_events"),
    "docker": (lambda d: parse_docker_json_file(d, "h", "c"), "docker_lines"),
    "docker-logs": (lambda d: parse_docker_logs(d, "h", "c", "stdout"), "docker_lines"),
    "docker-events": (lambda d: parse_docker_events(d, "h"), "docker_events"),
    "journal-short-locale": (lambda d: parse_journal_short(d, "h", reference=REF), "journal_entries"),
    "kernel-syslog": (lambda d: parse_kernel(d, "h", reference=REF), "kernel_events"),
    "gpu-query-text": (lambda d: parse_gpu_query_text(d, "h"), "gpu_samples"),
    "gpu-table": (lambda d: parse_gpu_table(d, "h"), "gpu_samples"),
    "nvidia-bug-report": (lambda d: parse_sectioned(d, "h"), "kernel_events"),
}

SEED_LINES: dict[str, list[bytes]] = {
    "gpu": [
        b"timestamp, index, uuid, name, temperature.gpu, utilization.gpu [%], power.draw [W], "
        b"clocks_throttle_reasons.active",
        b"2026/11/23 14:00:05.123, 0, GPU-a, A100, 45, 90 %, 250.00 W, 0x0000000000000004",
        b"2026/11/23 14:00:05.123, 1, GPU-b, A100, [N/A], [Not Supported], N/A, 0x0",
        b"Unable to determine the device handle for GPU 0000:3B:00.0: GPU is lost",
    ],
    "gpu-xml": [
        b"<nvidia_smi_log><timestamp>Mon Apr 24 16:11:51 2023</timestamp>",
        b"<gpu id='1'><uuid>GPU-1</uuid><fb_memory_usage><used>22 MiB</used></fb_memory_usage></gpu>",
        b"</nvidia_smi_log>",
    ],
    "journal": [
        b'{"__REALTIME_TIMESTAMP":"1795000000000000","PRIORITY":"3","_PID":"7","MESSAGE":"gpu ok","__CURSOR":"c"}',
        b'{"__REALTIME_TIMESTAMP":"1795000000000001","MESSAGE":[72,255,0],"_SYSTEMD_UNIT":"u"}',
        b'{"__REALTIME_TIMESTAMP":"1795000000000002","MESSAGE":null,"_PID":9}',
    ],
    "journal-export": [
        b"__CURSOR=s=1",
        b"__REALTIME_TIMESTAMP=1709520776193967",
        b"MESSAGE\n\x03\x00\x00\x00\x00\x00\x00\x00a\nb",
        b"",
        b"MESSAGE=x",
    ],
    "journal-short-iso": [b"2025-01-17T17:10:43+0000 node kernel: NVRM: Xid (PCI:0000:3b:00): 79, pid=1, x"],
    "journal-short": [b"Oct 11 20:46:22 odroid-dev systemd[1]: Started Hostname Service.", b"  continued"],
    "kernel": [
        b"kern  :warn  : 2025-01-21T02:21:33,498559+00:00 NVRM: Xid (PCI:0000:38:00): 13, pid='<unknown>'",
        b"[Sun Feb 23 16:24:18 2025] Out of memory: Killed process 4321 (python)",
        b"6,3964,206764307,-;nvidia-nvswitch2: open (major=510)",
        b"<6>[    2.608284] mlx5_core",
    ],
    "docker": [
        b'{"log":"ERROR x\\n","stream":"stderr","time":"2016-03-02T22:58:51.338462311Z"}',
        b'{"log":"y\\n","stream":"stdout","time":"2016-01-07T16:49:10.2Z"}',
    ],
    "docker-logs": [b"2026-11-23T14:00:05.123456789Z Traceback (most recent call last):", b'  File "x.py"'],
    "docker-events": [
        b'{"Type":"container","Action":"die","Actor":{"ID":"ab","Attributes":{"exitCode":"1"}},"timeNano":1}',
        b"2026-11-23T14:00:05Z container oom 7f3c2a1b4c5d (image=x, name=y)",
        b"2026-11-23T14:00:06Z container die 7f3c2a1b4c5d (desc=first line",
        b"second, line=x)",
    ],
    "journal-short-locale": [
        b"-- Logs begin at Mon 2025-12-01 10:00:00 CET, end at Thu 2026-01-01 10:00:00 CET. --",
        b"Dez 31 23:59:59 knoten systemd[1]: Gestartet.",
        "12月 31 23:59:59 node kernel: NVRM: Xid (PCI:0000:3b:00): 79".encode(),
        b"-- Reboot --",
        " 1月 01 00:00:01 node systemd[1]: x".encode(),
        "янв 01 00:00:02 узел sshd[7]: y".encode(),
        b"-- Boot 0123456789abcdef0123456789abcdef --",
        b"-- No entries --",
    ],
    "kernel-syslog": [
        b"Dec 31 23:59:58 gpu1 kernel: [  100.000000] NVRM: Xid (PCI:0000:3b:00): 79, pid=1, off the bus.",
        b"Jan  1 00:00:01 gpu1 kernel: [    1.000000] Linux version 6.8",
        b"[    2.500000] relative only",
        b"Feb 30 00:00:01 gpu1 kernel: impossible date",
        b"Xyz  1 00:00:01 gpu1 kernel: unknown month",
    ],
    "gpu-query-text": [
        b"==============NVSMI LOG==============",
        b"Timestamp                                 : Tue Jul 14 08:12:38 2026",
        b"GPU 00000000:00:09.0",
        b"    Product Name                          : NVIDIA H100 80GB HBM3",
        b"    Temperature",
        b"        GPU Current Temp                  : 41 C",
        b"    Remapped Rows",
        b"        Pending                           : No",
    ],
    "gpu-table": [
        b"Sat Jan 31 14:36:05 2026       ",
        b"+-----------------------------------------------------------------------------------------+",
        b"|   0  NVIDIA GeForce RTX 4090        Off |   00000000:01:00.0 Off |                  Off |",
        b"|  0%   30C    P8             29W /  400W |    1583MiB /  24564MiB |      0%      Default |",
        b"| N/A   34C    P0    43W / 300W |      0MiB / 16160MiB |      0%      Default |",
    ],
    "nvidia-bug-report": [
        b"_" * 44,
        b"Start of NVIDIA bug report log file.",
        b"Date: Tue Jul 14 08:20:00 UTC 2026",
        b"_" * 44,
        b"Scanning kernel log files for NVIDIA kernel messages:",
        b"  journalctl -b -0:",
        b"Jul 14 08:15:30 gpu-07 kernel: [  930.250000] NVRM: Xid (PCI:0000:00:09): 79, pid=2231",
        b"_" * 44,
        b"dmesg:",
        b"[  930.250000] NVRM: Xid (PCI:0000:00:09): 79, pid=2231",
        b"_" * 44,
        b"/usr/bin/nvidia-smi --query",
        b"==============NVSMI LOG==============",
        b"Timestamp                                 : Tue Jul 14 08:12:38 2026",
        b"GPU 00000000:00:09.0",
    ],
}


def check(kind: str, data: bytes) -> None:
    parse, table = PARSERS[kind]
    r = parse(data)
    parts = getattr(r, "parts", None) or {table: r.table}
    assert r.records_in == sum(len(t) for t in parts.values()) + len(r.quarantine) + r.skipped
    for name, frame in parts.items():
        assert schema_mismatches(frame, TABLES[name]) == []
    assert schema_mismatches(r.quarantine, QUARANTINE) == []
    assert all(len(raw.encode()) <= 4096 for raw in r.quarantine["raw"])


def mutate(line: bytes, cut: int, insert: bytes, pos: int) -> bytes:
    pos = pos % (len(line) + 1)
    return line[:pos] + insert + line[pos + cut :]


SETTINGS = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(kind=st.sampled_from(sorted(PARSERS)), data=st.binary(max_size=300))
def test_arbitrary_bytes(kind: str, data: bytes) -> None:
    check(kind, data)


@SETTINGS
@given(
    kind=st.sampled_from(sorted(PARSERS)),
    picks=st.lists(
        st.tuples(st.integers(0, 10), st.integers(0, 3), st.binary(max_size=4), st.integers(0, 400)),
        min_size=1,
        max_size=12,
    ),
    sep=st.sampled_from([b"\n", b"\r\n"]),
)
def test_mutated_real_lines(kind: str, picks: list[tuple[int, int, bytes, int]], sep: bytes) -> None:
    seeds = SEED_LINES[kind]
    lines = [mutate(seeds[i % len(seeds)], cut, ins, pos) for i, cut, ins, pos in picks]
    check(kind, sep.join(lines) + sep)
    check(kind, sep.join(seeds) + sep)  # the unmutated seeds still parse


@SETTINGS
@given(
    picks=st.lists(
        st.tuples(
            st.sampled_from(sorted(SEED_LINES)), st.integers(0, 20), st.integers(0, 3), st.binary(max_size=4)
        ),
        min_size=1,
        max_size=10,
    ),
    source=st.sampled_from(["gpu", "journal", "kernel", "docker_events", "docker_logs"]),
)
def test_detection_and_landing_never_raise_unexpectedly(
    picks: list[tuple[str, int, int, bytes]], source: str
) -> None:
    """Mixed lines of every format: detection answers a kind or None, auto-parse raises only
    UnknownKindError, the landing check only UnsupportedFormatError, line times never raise."""
    lines = [mutate(SEED_LINES[k][i % len(SEED_LINES[k])], cut, ins, i * 7) for k, i, cut, ins in picks]
    data = b"\n".join(lines) + b"\n"
    assert detect_kind(data) in (None, *sorted({*PARSERS, "journal", "gpu"}))
    try:
        parse_any(data, "auto", host="h", reference=REF)
    except UnknownKindError:
        pass
    text_line_times(lines, REF)
    gpu_line_times(lines)
    try:
        kind = check_format("f", data, source)
    except UnsupportedFormatError:
        return
    try:
        index_lines(data, kind, "f", REF)
    except UnsupportedFormatError as exc:
        assert "wall-clock" in str(exc)
