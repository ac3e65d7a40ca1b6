"""Property tests: no kernel, journal or docker text (arbitrary, or real failure lines mutated) makes
the health rules raise, and what they return always conforms to the HEALTH_EVENTS contract."""

from __future__ import annotations

import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mlops_assets.lib.contracts.tables import HEALTH_EVENTS, TABLES, conform, schema_mismatches
from mlops_assets.lib.health.catalog import ACTIONS, SEVERITIES
from mlops_assets.lib.health.rules import health_events
from mlops_assets.lib.parsing.kernel import parse_kernel

T0 = pd.Timestamp("2026-11-02 10:00:00", tz="UTC")
SEED_LINES = [
    "NVRM: Xid (PCI:0000:38:00): 13, pid='<unknown>', name=<unknown>, Graphics SM Warp Exception on (GPC 8, TPC 5, SM 0)",
    "NVRM: Xid (PCI:0000:9b:00): 119, pid=2024380, name=nvidia-smi, Timeout after 6s of waiting for RPC response",
    "NVRM: GPU at PCI:0000:9b:00: GPU-509665ad-b600-ac93-3616-d754b23d636d",
    "NVRM: GPU 0000:18:00.0: GPU has fallen off the bus.",
    "nvidia-nvswitch3: SXid (PCI:0000:05:00.0): 12028, Non-fatal, Link 32 egress non-posted PRIV error (First)",
    "[ERROR] [tid 12727] detected NVSwitch non-fatal error 12028 on fid 0 on NVSwitch pci bus id 00000000:86:00.0",
    "NVRM: Xid (PCI:0018:01:00): 149, NETIR_LINK_EVT Fatal XC0 i0 Link 08 (0x004505c6 0x00000000)",
    "Out of memory: Killed process 19636 (evil-program2) total-vm:1460016kB, anon-rss:1414008kB",
    "oom-kill:constraint=CONSTRAINT_MEMCG,nodemask=(null),task=stress,pid=33333,uid=1001",
    "watchdog: BUG: soft lockup - CPU#0 stuck for 27s! [cuda-EvtHandlr:2255424]",
    "INFO: task jfsmount:136986 blocked for more than 120 seconds.",
    "Kernel panic - not syncing: Test panic triggered by crash_test module",
    "EXT4-fs (md0): Remounting filesystem read-only",
    "nginx.service: Failed with result 'exit-code'.",
    "trainer.service: Scheduled restart job, restart counter is at 7.",
    "write failed: No space left on device",
]
SETTINGS = settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def check(messages: list[str]) -> None:
    rows = [{"ts": T0 + pd.Timedelta(seconds=i), "host": "h", "message": m} for i, m in enumerate(messages)]
    kernel = conform(pd.DataFrame(rows, columns=["ts", "host", "message"]), TABLES["kernel_events"])
    journal = conform(
        pd.DataFrame(
            [
                {**r, "identifier": ("kernel", "systemd", None)[i % 3], "boot_id": "b"}
                for i, r in enumerate(rows)
            ],
            columns=["ts", "host", "message", "identifier", "boot_id"],
        ),
        TABLES["journal_entries"],
    )
    docker = conform(
        pd.DataFrame([{**r, "container": "c"} for r in rows], columns=["ts", "host", "message", "container"]),
        TABLES["docker_lines"],
    )
    ev = health_events({"kernel_events": kernel, "journal_entries": journal, "docker_lines": docker}, "h")
    assert schema_mismatches(ev, HEALTH_EVENTS) == []
    assert set(ev["severity"]) <= set(SEVERITIES) and set(ev["action"]) <= set(ACTIONS)


@SETTINGS
@given(st.lists(st.text(max_size=200), max_size=12))
def test_arbitrary_text_never_raises(messages: list[str]) -> None:
    check(messages)


@SETTINGS
@given(
    st.lists(
        st.tuples(st.sampled_from(SEED_LINES), st.integers(0, 200), st.integers(0, 8), st.text(max_size=6)),
        min_size=1,
        max_size=10,
    )
)
def test_mutated_real_failure_lines_never_raise(picks: list[tuple[str, int, int, str]]) -> None:
    """Lines cut, with characters dropped or junk inserted, including inside the code and the PCI bus."""
    check([line[:pos] + junk + line[pos + cut :] for line, pos, cut, junk in picks])


@SETTINGS
@given(st.binary(max_size=400))
def test_arbitrary_kernel_bytes_through_the_parser_never_make_the_rules_raise(data: bytes) -> None:
    table = parse_kernel(data, "h").table
    ev = health_events({"kernel_events": table}, "h")
    assert schema_mismatches(ev, HEALTH_EVENTS) == []
