"""Unusual log lines of an incident: rare/new templates at warning level or worse; routine ones counted."""

import pandas as pd

from mlops_assets.lib.parsing.docker_text import parse_docker_logs
from mlops_assets.lib.parsing.kernel import parse_kernel
from mlops_assets.lib.templates import TemplateMiner
from mlops_assets.lib.triage.evidence import journal_level, log_lines, unusual_lines, with_unusual
from mlops_assets_tests.realdata import realdata_dir

T0 = pd.Timestamp("2026-11-02 10:00", tz="UTC")


def _docker(
    messages: list[str], levels: list[str], miner: TemplateMiner, stream: str = "stdout"
) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "ts": [T0 + pd.Timedelta(seconds=i) for i in range(len(messages))],
            "host": "h1",
            "container": "web",
            "stream": stream,
            "message": messages,
            "level": levels,
            "template_id": list(miner.match(messages)),
        }
    )


def _miner(training: list[str]) -> tuple[TemplateMiner, dict[str, int]]:
    miner = TemplateMiner().fit(training)
    frame = miner.templates_frame()
    return miner, dict(zip(frame["template_id"], frame["count"], strict=True))


def test_routine_access_lines_are_left_out_and_a_rare_error_is_kept() -> None:
    ok = [f'10.0.0.{i % 9} - - "GET /health HTTP/1.1" 200 OK {i}ms' for i in range(3000)]
    rare = ["ERROR cuda driver reset requested by watchdog after 5 s"] * 2
    miner, learned = _miner(ok + rare)
    burst = ok[:3017] + ["ERROR cuda driver reset requested by watchdog after 7 s"]
    burst += ["WARNING disk quota of /scratch at 97%"]  # never learned: a new template
    levels = ["info"] * 3000 + ["error", "warning"]
    frame = log_lines({"docker_lines": _docker(burst, levels, miner)}, miner.match)
    out = unusual_lines(frame, learned)
    messages = [g["message"] for g in out["unusual_lines"]]
    assert messages == ["WARNING disk quota of /scratch at 97%", burst[3000]], messages
    assert out["unusual_lines"][0]["why"] == "new template" and out["unusual_lines"][0]["template_id"] is None
    assert out["unusual_lines"][1]["why"].startswith("rare template: 2 of 3002")
    assert out["routine_lines_omitted"] == 3000 and out["routine_templates_omitted"] == 1
    assert not any("200 OK" in m for m in messages)


def test_a_frequent_error_is_routine_and_an_info_line_is_never_unusual() -> None:
    noisy = [f"ERROR retrying upstream fetch attempt {i}" for i in range(500)]
    miner, learned = _miner(noisy)
    lines = noisy[:20] + ["brand new informational banner text"]
    frame = log_lines({"docker_lines": _docker(lines, ["error"] * 20 + ["info"], miner)}, miner.match)
    out = unusual_lines(frame, learned)
    assert out["unusual_lines"] == [] and out["routine_lines_omitted"] == 21


def test_unknown_level_on_stderr_counts_as_a_warning_and_new_lines_group_by_text() -> None:
    miner, learned = _miner(["server listening on port 8080"] * 100)
    crash = ["Traceback: segfault in worker 3"] * 4
    frame = log_lines({"docker_lines": _docker(crash, ["unknown"] * 4, miner, stream="stderr")}, miner.match)
    (group,) = unusual_lines(frame, learned)["unusual_lines"]
    assert group["count"] == 4 and group["level"] == "warning" and group["origin"] == "web"


def test_journal_priority_levels() -> None:
    assert [journal_level(p) for p in (0, 2, 3, 4, 5, 6, 7, None)] == [
        "critical",
        "critical",
        "error",
        "warning",
        "info",
        "info",
        "debug",
        "unknown",
    ]


def test_real_container_log_and_real_xid_kernel_lines() -> None:
    """A real container's routine INFO output is left out; its one WARN line and the real Xid lines stay."""
    logs = realdata_dir("docker", "docker_logs_text", "eigerco_beerus__docker_logs.txt").read_bytes()
    dmesg = realdata_dir("kernel_dmesg", "leptonai_gpud__dmesg-with-xid-119.log").read_bytes()
    docker = parse_docker_logs(logs, "h1", "beerus", "stdout").table
    # learned from the container's routine output (a day without the warning)
    miner = TemplateMiner().fit(docker.loc[docker["level"] == "info", "message"].tolist())
    frame = miner.templates_frame()
    learned = dict(zip(frame["template_id"], frame["count"], strict=True))
    docker["template_id"] = list(miner.match(docker["message"].tolist()))
    kernel = parse_kernel(dmesg, "h1").table
    lines = log_lines({"docker_lines": docker, "kernel_events": kernel}, miner.match)
    out = unusual_lines(lines, learned, max_groups=50)
    kept = [g["message"] for g in out["unusual_lines"]]
    assert any("Xid (PCI:0000:9b:00): 119" in m for m in kept), kept
    assert any("checkpoint too old" in m for m in kept), kept
    assert not any(" INFO " in m for m in kept), kept
    assert out["routine_lines_omitted"] >= (docker["level"] == "info").sum()
    xid = next(g for g in out["unusual_lines"] if "Xid" in g["message"])
    assert xid["level"] == "critical" and xid["source"] == "kernel"


def test_with_unusual_replaces_the_log_part_of_the_evidence() -> None:
    evidence = {
        "top_features": [{"feature": "fan_min_pct", "value": 0, "contribution": 1.0}],
        "templates": [{"template_id": "T1", "template": "GET /health 200 OK", "count": 3017}],
        "sample_lines": ["GET /health 200 OK"],
    }
    unusual = {
        "unusual_lines": [
            {"template_id": None, "template": None, "message": "NVRM: Xid 79", "count": 1},
        ],
        "routine_lines_omitted": 3017,
    }
    out = with_unusual(evidence, unusual)
    assert out["top_features"] == evidence["top_features"]
    assert out["templates"] == [{"template_id": None, "template": "NVRM: Xid 79", "count": 1}]
    assert out["sample_lines"] == ["NVRM: Xid 79"] and out["routine_lines_omitted"] == 3017


def test_an_error_learned_often_but_rare_in_share_stays_unusual_a_warning_does_not() -> None:
    lines = pd.DataFrame(
        {
            "ts": [T0, T0],
            "source": "docker",
            "origin": "dcgm",
            "level": ["error", "warning"],
            "template_id": ["Tcrash", "Twarn"],
            "message": ['level=fatal msg="Error starting nv-hostengine"', "WARN retrying in 5s"],
        }
    )
    learned = {"Tcrash": 200, "Twarn": 200, "Tok": 999_600}  # 0.02 % each of 1M learned lines
    out = unusual_lines(lines, learned)
    assert [g["template_id"] for g in out["unusual_lines"]] == ["Tcrash"]
    assert out["unusual_lines"][0]["why"] == "rare template: 200 of 1000000 learned lines"
