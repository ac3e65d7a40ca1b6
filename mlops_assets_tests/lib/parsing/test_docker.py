"""Docker json-file, docker logs text and docker events."""

from __future__ import annotations

import json

import pandas as pd

from mlops_assets.lib.contracts.tables import DOCKER_EVENTS, DOCKER_LINES, schema_mismatches
from mlops_assets.lib.parsing.docker import parse_docker_events, parse_docker_json_file, parse_docker_logs
from mlops_assets.lib.parsing.levels import infer_level


def jf(log: str, time: str, stream: str = "stdout") -> str:
    return json.dumps({"log": log, "stream": stream, "time": time})


def test_json_file_fractions_levels_and_bad_lines() -> None:
    lines = [
        jf("plain\n", "2016-01-07T16:49:10Z"),
        jf("ERROR failed\n", "2016-01-07T16:49:10.2Z", "stderr"),
        jf('{"level":"warn","msg":"x"}\r\n', "2016-01-07T16:49:10.123456789Z"),
        jf("no zone\n", "2016-01-07T16:49:10.5"),
        jf("offset\n", "2016-01-07T18:49:10.000000001+02:00"),
        '"log":"corrupt"}',
        jf("bad time\n", "yesterday"),
        "",
        json.dumps({"log": "no time\n", "stream": "stdout"}),
    ]
    r = parse_docker_json_file("\n".join(lines).encode(), "h", "web")
    assert schema_mismatches(r.table, DOCKER_LINES) == []
    base = pd.Timestamp("2016-01-07 16:49:10", tz="UTC")
    assert r.table["ts"].tolist() == [
        base,
        base + pd.Timedelta("200ms"),
        base + pd.Timedelta(nanoseconds=123456789),
        base + pd.Timedelta("500ms"),
        base + pd.Timedelta(nanoseconds=1),
    ]
    assert r.table["message"].tolist()[:3] == ["plain", "ERROR failed", '{"level":"warn","msg":"x"}']
    assert r.table["level"].tolist() == ["unknown", "error", "warning", "unknown", "unknown"]
    assert r.table["stream"].tolist()[1] == "stderr" and set(r.table["container"]) == {"web"}
    assert r.quarantine[["line_no", "reason"]].values.tolist() == [
        [6, "invalid_json"],
        [7, "bad_timestamp"],
        [9, "missing_timestamp"],
    ]
    assert r.skipped == 1 and r.records_in == 9


def test_docker_logs_timestamps_and_multiline_traceback() -> None:
    data = (
        b"  orphan continuation\n"
        b"2026-11-23T14:00:05.123456789Z Traceback (most recent call last):\n"
        b'  File "train.py", line 3, in <module>\n'
        b"RuntimeError: CUDA error: an illegal memory access was encountered\n"
        b"2026-11-23T14:00:06Z level=info msg=resumed\n"
    )
    r = parse_docker_logs(data, "h", "trainer", "stderr")
    assert len(r.table) == 2 and r.reasons == {"no_timestamp": 1} and r.skipped == 2
    assert r.table["message"].iloc[0].count("\n") == 2 and r.table["level"].tolist() == ["error", "info"]
    assert r.table["ts"].iloc[0] == pd.Timestamp("2026-11-23 14:00:05.123456789", tz="UTC")
    assert set(r.table["stream"]) == {"stderr"}


def test_plain_docker_logs_use_the_application_timestamp() -> None:
    data = b"\x1b[36m22-10-11 14:04:23 DEBUG (MainThread) x\x1b[0m\nno time here\n[2023-05-02T16:54:17Z WARN  y] z\n"
    r = parse_docker_logs(data, "h", "c", "stdout")
    assert r.table["ts"].tolist() == [
        pd.Timestamp("2022-10-11 14:04:23", tz="UTC"),
        pd.Timestamp("2023-05-02 16:54:17", tz="UTC"),
    ]
    assert r.table["level"].tolist() == ["debug", "warning"] and "ts_source" in r.notes
    assert parse_docker_logs(b"hello\n", "h", "c", "stdout").reasons == {"no_timestamp": 1}


def test_level_inference_priorities() -> None:
    assert infer_level("INFO retry after ERROR") == "info"  # the first marker decides
    assert infer_level("Traceback (most recent call last):") == "error"
    assert infer_level("CRITICAL: disk") == "critical"
    assert infer_level('{"level":"debug"}') == "debug"
    assert infer_level("level=warning msg=x") == "warning"
    assert infer_level("terrorism is not an ERR0R") == "unknown"


def test_docker_events_json_and_text() -> None:
    ev = {
        "Type": "container",
        "Action": "die",
        "status": "die",
        "id": "7f3c2a1b4c5d6e",
        "Actor": {
            "ID": "7f3c2a1b4c5d6e",
            "Attributes": {"exitCode": "137", "image": "trainer:1", "name": "trainer"},
        },
        "time": 1795000000,
        "timeNano": 1795000000123456789,
    }
    health = dict(
        ev,
        Action="health_status: unhealthy",
        Actor={"ID": "7f3c2a1b4c5d6e", "Attributes": {"name": "trainer", "image": "trainer:1"}},
    )
    data = "\n".join(
        [
            json.dumps(ev),
            json.dumps(health),
            "2026-11-23T14:00:07.000000000Z container exec_start: sh -c 'echo $TOKEN' 7f3c2a1b4c5d (image=trainer:1, name=trainer)",
            "2026-11-23T14:00:08Z container oom 7f3c2a1b4c5d (image=trainer:1, name=trainer)",
            '{"Action":"start"}',
            "garbage",
        ]
    ).encode()
    r = parse_docker_events(data, "h")
    assert schema_mismatches(r.table, DOCKER_EVENTS) == []
    assert r.table["action"].tolist() == ["die", "health_status: unhealthy", "exec_start", "oom"]
    assert r.table["exit_code"].iloc[0] == 137 and pd.isna(r.table["exit_code"].iloc[1])
    assert r.table["ts"].iloc[0] == pd.Timestamp(1795000000123456789, unit="ns", tz="UTC")
    assert set(r.table["container"]) == {"trainer"} and set(r.table["image"]) == {"trainer:1"}
    assert r.reasons == {"missing_timestamp": 1, "unrecognised_line": 1}


def test_json_file_rejoins_entries_split_at_16k() -> None:
    long_line = "ERROR " + "x" * 40_000 + "\n"
    pieces = [long_line[:16384], long_line[16384:32768], long_line[32768:]]
    lines = [
        jf(pieces[0], "2026-11-23T14:00:05.1Z", "stderr"),
        jf("INFO interleaved stdout line\n", "2026-11-23T14:00:05.2Z", "stdout"),
        jf(pieces[1], "2026-11-23T14:00:05.3Z", "stderr"),
        jf(pieces[2], "2026-11-23T14:00:05.4Z", "stderr"),
        jf("INFO next\n", "2026-11-23T14:00:06Z", "stderr"),
        jf("WARN cut at the end of the file", "2026-11-23T14:00:07Z", "stderr"),
    ]
    r = parse_docker_json_file(("\n".join(lines) + "\n").encode(), "h", "trainer")
    assert r.table["message"].tolist() == [
        long_line.rstrip("\n"),
        "INFO interleaved stdout line",
        "INFO next",
        "WARN cut at the end of the file",
    ]
    assert r.table["level"].tolist() == ["error", "info", "info", "warning"]
    assert r.table["ts"].iloc[0] == pd.Timestamp("2026-11-23 14:00:05.1", tz="UTC")  # the first piece's time
    assert r.skipped == 2 and r.notes["partial_entries_joined"] == 2 and r.records_in == 6
    assert r.records_in == len(r.table) + len(r.quarantine) + r.skipped


def test_docker_logs_text_is_column_wise_and_keeps_order() -> None:
    lines = [
        f"2026-11-23T14:00:{i % 60:02d}.{i:09d}Z {'ERROR' if i % 3 == 0 else 'INFO'} step {i}"
        for i in range(500)
    ]
    lines.insert(10, "")
    lines.insert(20, "\tat continuation")
    r = parse_docker_logs(("\n".join(lines) + "\n").encode(), "h", "c", "stdout")
    assert len(r.table) == 500 and r.skipped == 2 and r.notes["continuation_lines"] == 1
    assert r.table["message"].iloc[18] == "ERROR step 18\n\tat continuation"
    assert r.table["level"].iloc[0] == "error" and r.table["level"].iloc[1] == "info"
    assert r.table["ts"].iloc[7] == pd.Timestamp("2026-11-23 14:00:07.000000007", tz="UTC")
